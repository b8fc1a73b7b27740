"""calibrate against a real server (llama-cpp-python's, on the embedded model), two requests
at once: multiple choice from the server's scoring of each option, open answers from its
greedy answers, each checked against the same request sent alone; then a run cut short
resumes, asking only for what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import run_cli

from tokenprobe.api import build_request
from tokenprobe.backends import BackendOptions
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.calibration.data import read_items
from tokenprobe.ops.calibrate import Settings, calibrate

ITEMS = [
    {"id": "odd", "prompt": "Is 17 even or odd? 17 is", "options": [" even", " odd"],
     "answer": 1},
    {"id": "larger", "prompt": "Which number is larger, 31 or 58? The larger is",
     "options": [" 31", " 58", " 85"], "answer": 1},
    {"id": "sum", "prompt": "2 + 3 = 5\n7 + 8 = 15\n4 + 4 =", "answer": " 8"},
    {"id": "capital", "prompt": "The capital of France is", "answer": [" Paris", " paris"]},
]


@pytest.mark.slow
def test_calibrate_against_the_server(llama_server: str, tmp_path: Path) -> None:
    data, work, out = tmp_path / "set.jsonl", tmp_path / "work.jsonl", tmp_path / "c.json"
    data.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    r = run_cli(["calibrate", str(data), "-m", "openai:gemma", "--base-url", llama_server,
                 "-c", "2", "-w", str(work), "--max-tokens", "4", "--alternatives", "3",
                 "--resamples", "20", "--no-save", "-o", str(out)])
    assert r.code == 0, r.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    (run,) = doc["runs"]
    assert run["model_spec"] == "openai:gemma" and not run["failed"]
    records = {x["id"]: x for x in run["items"]}
    assert sorted(records) == sorted(i["id"] for i in ITEMS)

    backend = OpenAIBackend.from_spec("gemma", BackendOptions(base_url=llama_server))
    scoring = {"temperature": 1.0, "alternatives": 3}
    for item in ITEMS:
        rec = records[item["id"]]
        if "options" in item:
            # Each option scored alone by the server; the probabilities are their softmax.
            totals = np.array([sum(s.logprob for s in backend.score_continuation(
                build_request(item["prompt"], **scoring), o, 3).steps)  # type: ignore[misc]
                for o in item["options"]], dtype=np.float64)
            want = np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()
            got = rec["outcome"]["total"]["probabilities"]
            np.testing.assert_allclose(got, want, atol=1e-6)
            assert rec["outcome"]["total"]["correct"] == (int(np.argmax(want)) == item["answer"])
        else:
            alone = backend.stream(build_request(item["prompt"], max_tokens=4, temperature=0.0,
                                                 alternatives=3, stop=["\n"])).run()
            assert rec["text"] == alone.text
            lps = np.array([s.logprob for s in alone.steps], dtype=np.float64)
            assert rec["signals"]["total_logprob"]["confidence"] == pytest.approx(
                float(np.exp(lps.sum())), rel=1e-6)
            gold = backend.score_continuation(build_request(item["prompt"], **scoring),
                                              rec["answers"][0], 3)
            assert rec["signals"]["gold"]["confidence"] == pytest.approx(
                float(np.exp(sum(s.logprob for s in gold.steps))), rel=1e-6)  # type: ignore[misc]

    # Cut short: two answers lost and the last line half written, as a killed run leaves it.
    lines = work.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == 2 + 3 + (1 + 1) + (1 + 2)  # options; an answer and each gold
    work.write_text("\n".join(lines[:-3]) + "\n" + lines[-3][:50], encoding="utf-8")
    asked: list[str] = []
    again = calibrate(read_items(data), work, models=["openai:gemma"],
                      settings=Settings(max_tokens=4, alternatives=3, resamples=20,
                                        concurrency=2),
                      backend_options=BackendOptions(base_url=llama_server),
                      progress=lambda item, error: asked.append(item.id))
    assert sorted(asked) == sorted(json.loads(x)["source"]["batch_id"] for x in lines[-3:])
    for name, sig in again["runs"][0]["signals"].items():
        assert sig["accuracy"] == run["signals"][name]["accuracy"], name
