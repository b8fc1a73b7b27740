"""Import speed: a large saved response in each format, read into a trace.

For each format a made-up response of 10,000 tokens with 20 alternatives each (the same
words and numbers for all; a few characters split into byte tokens, written the way that
server writes them) is saved to a file. Measured in one run, alternating, best of several:
`formats.load_all(path)` (read, detect, parse, settle) and a plain `json.loads` of the same
file's text. Printed per format: tokens/s of the import, and its time as a multiple of the
plain JSON parse. (The import pauses Python's cycle collector while it builds the trace's
objects; the plain `json.loads` runs as a user would call it, with the collector on, which
is why the import can take less time than it.) Then, for the OpenAI chat shape, the parse
alone beside a bare Python loop that only visits every alternative's three fields: the
ceiling for any pure-Python reader on this machine.

Goal: >= 200,000 tokens/s for the OpenAI chat shape (not reached: see README).
Run: python benchmarks/bench_import.py [--tokens N] [--alternatives N] [--runs N]. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenprobe.formats import load_all, read_documents

SPLIT = "曇"  # E6 9B 87: written as two byte tokens, E6 9B | 87


def tokens(n: int, seed: int = 11) -> list[tuple[str, bytes | None]]:
    """(label, bytes or None for whole characters) of the chosen tokens."""
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ten", "ra", "vo", "shi", "an", "el", "dor", "pe", "qu"]
    words = [" " + "".join(rng.choice(syll) for _ in range(rng.randint(1, 3)))
             for _ in range(3000)] + [",", ".", "\n"]
    out: list[tuple[str, bytes | None]] = []
    while len(out) < n:
        if rng.random() < 0.01:
            out += [("", SPLIT.encode()[:2]), ("", SPLIT.encode()[2:])]
        else:
            out.append((rng.choice(words), None))
    return out[:n]


def numbers(n: int, k: int, seed: int = 5) -> list[list[float]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        lp = sorted((-rng.expovariate(0.4) for _ in range(k)), reverse=True)
        rows.append([round(x, 6) for x in lp])
    return rows


def alt_words(n: int, k: int, seed: int = 3) -> list[list[str]]:
    rng = random.Random(seed)
    pool = [f" w{i}" for i in range(5000)]
    return [rng.sample(pool, k) for _ in range(n)]


def text_of(toks: list[tuple[str, bytes | None]]) -> str:
    return b"".join(b if b is not None else t.encode() for t, b in toks).decode()


def chat_items(toks: list[Any], lps: list[list[float]], alts: list[list[str]],
               spell: Callable[[bytes], str]) -> list[dict[str, Any]]:
    items = []
    for (label, data), lp, words in zip(toks, lps, alts):
        if data is not None:
            label = spell(data)
        raw = list(data) if data is not None else list(label.encode())
        top = [{"token": label, "logprob": lp[0], "bytes": raw}] + [
            {"token": w, "logprob": x, "bytes": list(w.encode())} for w, x in zip(words, lp[1:])]
        items.append({"token": label, "logprob": lp[0], "bytes": raw, "top_logprobs": top})
    return items


def openai_chat(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    def spell(d: bytes) -> str:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in d)

    return {"object": "chat.completion", "model": "bench", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text_of(toks)},
         "logprobs": {"content": chat_items(toks, lps, alts, spell)},
         "finish_reason": "length"}]}


def openai_completions(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    # llama-cpp-python's dialect: byte tokens are empty strings, fitted to the text.
    labels = [t if d is None else "" for t, d in toks]
    tops = [{lab: lp[0], **{w: x for w, x in zip(words, lp[1:])}}
            for lab, lp, words in zip(labels, lps, alts)]
    return {"object": "text_completion", "model": "bench", "choices": [
        {"index": 0, "text": text_of(toks), "finish_reason": "length",
         "logprobs": {"tokens": labels, "token_logprobs": [lp[0] for lp in lps],
                      "top_logprobs": tops}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": len(toks)}}


def responses(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    chat = openai_chat(toks, lps, alts)
    return {"object": "response", "model": "bench", "status": "completed", "output": [
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": chat["choices"][0]["message"]["content"],
             "logprobs": chat["choices"][0]["logprobs"]["content"]}]}]}


def vllm(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    doc = openai_chat(toks, lps, alts)
    for it in doc["choices"][0]["logprobs"]["content"]:
        if it["token"].startswith("bytes:"):  # vLLM: U+FFFD with the replacement's bytes
            it["token"] = "\ufffd"
            it["bytes"] = it["top_logprobs"][0]["bytes"] = [239, 191, 189]
            it["top_logprobs"][0]["token"] = "\ufffd"
    doc["choices"][0]["stop_reason"] = None
    doc["prompt_logprobs"] = None
    return doc


def sglang(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    out, top = [], []
    for i, ((label, data), lp, words) in enumerate(zip(toks, lps, alts)):
        label = "\ufffd" if data is not None else label
        out.append([lp[0], i, label])
        top.append([[lp[0], i, label]] + [[x, 10**6 + j, w]
                                           for j, (w, x) in enumerate(zip(words, lp[1:]))])
    return {"text": text_of(toks), "meta_info": {
        "id": "bench", "finish_reason": {"type": "length"}, "output_token_logprobs": out,
        "output_top_logprobs": top}}


def gemini(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    chosen, top = [], []
    for i, ((label, data), lp, words) in enumerate(zip(toks, lps, alts)):
        label = "\\x" + "\\x".join(f"{b:02x}" for b in data) if data is not None else label
        chosen.append({"token": label, "tokenId": i, "logProbability": lp[0]})
        top.append({"candidates": [chosen[-1]] + [
            {"token": w, "tokenId": 10**6 + j, "logProbability": x}
            for j, (w, x) in enumerate(zip(words, lp[1:]))]})
    return {"candidates": [{"index": 0, "finishReason": "MAX_TOKENS",
                            "content": {"role": "model", "parts": [{"text": text_of(toks)}]},
                            "logprobsResult": {"chosenCandidates": chosen,
                                               "topCandidates": top}}],
            "modelVersion": "bench"}


def trace_json(toks: list[Any], lps: list[Any], alts: list[Any]) -> Any:
    from tokenprobe.formats import openai_chat as oc

    return json.loads(oc.parse(openai_chat(toks, lps, alts))[0].to_json())


BUILDERS: dict[str, Callable[..., Any]] = {
    "openai.chat": openai_chat, "openai.completions": openai_completions,
    "openai.responses": responses, "vllm": vllm, "sglang": sglang, "gemini": gemini,
    "trace": trace_json,
}


def best(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--alternatives", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    toks = tokens(a.tokens)
    lps = numbers(a.tokens, a.alternatives)
    alts = alt_words(a.tokens, a.alternatives - 1)
    print(f"{a.tokens} tokens x {a.alternatives} alternatives, best of {a.runs}")
    print(f"{'format':20} {'file MB':>8} {'json.loads s':>13} {'import s':>9} "
          f"{'tokens/s':>10} {'x json.loads':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in BUILDERS.items():
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(build(toks, lps, alts), ensure_ascii=False),
                            encoding="utf-8")
            traces = load_all(path)
            assert traces[0].source.get("format") in (name, "openai.chat"), traces[0].source
            assert len(traces[0].steps) == a.tokens
            text = path.read_text(encoding="utf-8")
            t_json = t_imp = float("inf")
            for _ in range(a.runs):  # alternate, so both see the same machine state
                t_json = min(t_json, best(lambda t=text: json.loads(t), 1))
                t_imp = min(t_imp, best(lambda p=path: load_all(p), 1))
            size = path.stat().st_size / 1e6
            print(f"{name:20} {size:8.1f} {t_json:13.3f} {t_imp:9.3f} "
                  f"{a.tokens / t_imp:10,.0f} {t_imp / t_json:13.1f}")
            del traces
    # The parse alone (document already in memory), for the main shape.
    from tokenprobe.formats import openai_chat as oc

    doc = read_documents(json.dumps(openai_chat(toks, lps, alts), ensure_ascii=False))
    items = doc["choices"][0]["logprobs"]["content"]

    def bare_loop() -> None:
        # What any Python reader must at least do: visit every alternative's three fields.
        for it in items:
            for alt in it["top_logprobs"]:
                alt.get("token"), alt.get("logprob"), alt.get("bytes")

    gc.disable()
    try:
        t_parse = best(lambda: oc.parse(doc), a.runs)
        t_bare = best(bare_loop, a.runs)
    finally:
        gc.enable()
    print(f"openai.chat parse only (document in memory): {t_parse:.3f} s, "
          f"{a.tokens / t_parse:,.0f} tokens/s; a bare loop over the same alternatives: "
          f"{t_bare:.3f} s, {a.tokens / t_bare:,.0f} tokens/s "
          f"(parse = {t_parse / t_bare:.1f}x the bare loop)")


if __name__ == "__main__":
    main()
