"""Batch scoring (`tokenprobe batch TEXTS.jsonl --score`): each text's per-token scores and
perplexity, resumable, with the local engine (a real vLLM: test_vllm_real.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests.helpers import run_cli

from tokenprobe.backends.llama import LlamaBackend
from tokenprobe.errors import FormatError
from tokenprobe.ops.batch import read_texts

TEXTS = ["The capital of France is Paris.", "Water boils at 100 degrees.", "Café 𠮷!"]


def write_texts(path: Path) -> None:
    path.write_text(json.dumps({"id": "t0", "text": TEXTS[0]}) + "\n"
                    + json.dumps(TEXTS[1]) + "\n"
                    + json.dumps({"id": 7, "text": TEXTS[2]}) + "\n")


@pytest.mark.slow
def test_batch_score_with_the_local_engine(tmp_path: Path, llama: LlamaBackend) -> None:
    src, out = tmp_path / "texts.jsonl", tmp_path / "scores.jsonl"
    write_texts(src)
    r = run_cli(["batch", str(src), "-o", str(out), "--score", "-n", "3"])
    assert r.code == 0, r.stderr
    docs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(docs) == 3
    by_text = {d["request"]["prompt"]: d for d in docs}
    assert set(by_text) == set(TEXTS)
    for text in TEXTS:
        d = by_text[text]
        alone = llama.score(text, alternatives=3)
        lps = [s.logprob for s in alone.prompt_steps if not s.special and s.logprob is not None]
        got = d["source"]["score"]
        assert got["tokens"] == len(lps)
        assert got["total_logprob"] == pytest.approx(math.fsum(lps), abs=1e-6)
        assert got["perplexity"] == pytest.approx(math.exp(-math.fsum(lps) / len(lps)))
        assert [s["logprob"] for s in d["prompt_steps"]] == pytest.approx(
            [s.logprob for s in alone.prompt_steps])
    # A second run finds every text done.
    r = run_cli(["batch", str(src), "-o", str(out), "--score", "-n", "3"])
    said = " ".join(r.stderr.split())  # the console wraps long lines
    assert r.code == 0 and "0 written" in said and "3 already done" in said


def test_texts_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": ""}\n')
    with pytest.raises(FormatError, match="line 1"):
        read_texts(bad, 3)
    bad.write_text('{"id": "a", "prompt": "x"}\n')
    with pytest.raises(FormatError, match="line 1"):
        read_texts(bad, 3)
    bad.write_text('"one"\n"one"\n')
    with pytest.raises(FormatError, match="twice"):
        read_texts(bad, 3)
    good = tmp_path / "good.jsonl"
    write_texts(good)
    items = read_texts(good, 4)
    assert [it.id for it in items][::2] == ["t0", "7"]
    assert all(it.request.mode == "score" and it.request.alternatives == 4 for it in items)
