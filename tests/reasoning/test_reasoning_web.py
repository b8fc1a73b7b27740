"""The web chat on a reasoning model: a server replaying vLLM's streamed reasoning answer
(tests/fixtures/reasoning/vllm_chat_stream.json). The answer's figure line and the
Confidence panel are the answer's, the thinking's figures follow, named; the thinking is
folded above the answer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tests.reasoning.helpers import fixture_docs, live_read
from tests.servers.faultserver import fault_server, sse
from tests.views.browser import ARTIFACTS, shared_browser
from tests.web.serve import serve


def test_chat_panel_is_over_the_answer(tmp_path: Path) -> None:
    docs = fixture_docs("vllm_chat_stream.json")
    expected = live_read(docs, stream=True)
    assert expected.reasoning is not None
    answer = np.array([s.logprob for s in expected.steps], dtype=np.float64)
    thinking = np.array([s.logprob for s in expected.reasoning.steps], dtype=np.float64)
    with fault_server(sse(docs)) as fake, \
            serve(tmp_path, "--quiet", "--model", "openai:qwen3",
                  "--base-url", fake.base_url) as served:
        ctx = shared_browser().new_context(viewport={"width": 1280, "height": 900})
        try:
            page = ctx.new_page()
            page.goto(served.url + "/#/chat")
            page.wait_for_selector("#chat-input")
            page.fill("#chat-input", "What is 2+2?")
            page.click("#chat-send")
            page.wait_for_selector(".turn-assistant .turn-head:not(:empty)", timeout=60000)
            head = page.inner_text(".turn-assistant .turn-head")
            assert head.startswith(f"{len(answer)} tokens")
            assert f"geometric mean {math.exp(answer.mean()) * 100:.1f}%" in head
            assert (f"thinking: {len(thinking)} tokens, per-token probability geometric mean "
                    f"{math.exp(thinking.mean()) * 100:.1f}%") in head
            fold = page.locator(".turn-assistant details.tp-thinking")
            assert fold.count() == 1 and fold.get_attribute("open") is None
            page.click(".turn-assistant")  # the Confidence panel shows this answer
            panel = page.locator("aside.chat-panel").inner_text()
            assert f"geometric mean {math.exp(answer.mean()) * 100:.1f}%" in panel
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "reasoning-chat.png"), full_page=True)
        finally:
            ctx.close()
