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


def test_chat_shows_the_thinking_while_it_streams(tmp_path: Path) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler

    docs = fixture_docs("vllm_chat_stream.json")
    expected = live_read(docs, stream=True)
    assert expected.reasoning is not None
    # The server holds the answer back until the page has shown the thinking.
    split = next(i for i, d in enumerate(docs)
                 if any((c.get("delta") or {}).get("content") for c in d["choices"]))
    go_on = threading.Event()

    def run(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for i, d in enumerate(docs):
            if i == split:
                go_on.wait(30)
            h.wfile.write(f"data: {json.dumps(d)}\n\n".encode())
            h.wfile.flush()
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()

    with fault_server(run) as fake, \
            serve(tmp_path, "--quiet", "--model", "openai:qwen3",
                  "--base-url", fake.base_url) as served:
        ctx = shared_browser().new_context(viewport={"width": 1280, "height": 900})
        try:
            page = ctx.new_page()
            page.goto(served.url + "/#/chat")
            page.wait_for_selector("#chat-input")
            page.fill("#chat-input", "What is 2+2?")
            page.click("#chat-send")
            page.wait_for_selector(
                ".turn-assistant details.tp-thinking[open] .tp-text-thinking .t:not(.ws)",
                timeout=60000)
            # Before any answer token: the thinking's tokens, open, named as so far.
            assert page.locator(".turn-assistant .tp-text-gen .t").count() == 0
            line = page.inner_text(".turn-assistant summary.tp-thinking-line")
            assert line.startswith("Thinking\u2026") and "so far" in line
            shown = page.locator(".turn-assistant .tp-text-thinking .t").count()
            assert 0 < shown <= len(expected.reasoning.steps)
            page.hover(".turn-assistant .tp-text-thinking .t:not(.ws) >> nth=0")
            page.wait_for_selector(".tp-pop:not([hidden])")
            assert "thinking" in (page.text_content(".tp-pop .tp-pop-where") or "")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "reasoning-chat-live.png"), full_page=True)
            go_on.set()
            page.wait_for_selector(".turn-assistant .turn-head:not(:empty)", timeout=60000)
            fold = page.locator(".turn-assistant details.tp-thinking")
            assert fold.count() == 1 and fold.get_attribute("open") is None  # folded at the end
            assert page.locator(".turn-assistant .tp-text-thinking .t").count() > 0
        finally:
            go_on.set()
            ctx.close()
