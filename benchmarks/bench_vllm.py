"""tokenprobe against vLLM: requests per second beside a plain client, and the client's ceiling.

1. Against a real vLLM (`--base-url URL`, or one started here from .vllm/ by
   tests/servers/vllm_server.py in raw_logprobs mode): the same requests sent by tokenprobe's
   batch (`run_batch`: whole answers read into traces and written as JSON lines) and by a
   plain `openai.AsyncOpenAI` client that discards the answers, at concurrency 1, 4 and 16,
   for generation (completions, 16 tokens, 5 alternatives, greedy) and for scoring (echo of
   a ~40-token text with 5 alternatives; tokenprobe's `batch --score`). The figure is
   tokenprobe's rate as a share of the plain client's (goal >= 0.9): what tokenprobe adds on
   top of the server's own time.
2. Against a stub that answers at once with a vLLM-shaped completion of 64 tokens (5 or 20
   alternatives each): tokenprobe batch's tokens/s at concurrency 16 (the client's ceiling:
   nothing waits on a server), beside `json.loads` of the same answers alone, and the
   tokens/s one process reads alone (an answer's body to its batch line, as each of the
   batch's worker processes does: the ceiling per core).

All figures are ratios measured in one run on one machine (other work on the machine moves
the absolute numbers). Run: python benchmarks/bench_vllm.py [--base-url URL] [--quick]
[--stub-only]. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GEN_TOKENS = 16
ALTERNATIVES = 5
SCORE_TEXT = ("The capital of France is Paris, a city on the Seine known for its museums, "
              "its cafés and the tower Gustave Eiffel built for the fair of 1889.")
STUB_TOKENS = 64
WORDS = ("the", "a", "model", "token", "of", "and", "to", "in", "probability", "is")


# --- 1. a real vLLM -----------------------------------------------------------------------

async def plain(base: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """Requests per second of a plain AsyncOpenAI client that discards the answers."""
    import openai

    client = openai.AsyncOpenAI(base_url=base, api_key="no-key", max_retries=0)
    limit = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> None:
        async with limit:
            await client.completions.create(**body)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    took = time.perf_counter() - t0
    await client.close()
    return len(bodies) / took


def ours(base: str, lines: list[str], concurrency: int, tmp: Path, score: bool) -> float:
    """Requests per second of tokenprobe's batch for the same requests."""
    from tokenprobe.backends import BackendOptions
    from tokenprobe.backends.openai import OpenAIBackend
    from tokenprobe.ops.batch import read_prompts, read_texts, run_batch

    src = tmp / f"in-{concurrency}-{score}.jsonl"
    src.write_text("".join(x + "\n" for x in lines))
    out = tmp / f"out-{concurrency}-{score}-{time.monotonic_ns()}.jsonl"
    items = (read_texts(src, ALTERNATIVES) if score else
             read_prompts(src, {"alternatives": ALTERNATIVES, "max_tokens": GEN_TOKENS,
                                "temperature": 0.0}))
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(base_url=base))
    t0 = time.perf_counter()
    result = asyncio.run(run_batch(backend, items, out, concurrency))
    took = time.perf_counter() - t0
    assert result.done == len(lines) and not result.failed, result.failed[:1]
    return len(lines) / took


def against_vllm(base: str, quick: bool) -> None:
    print(f"vLLM at {base}: requests/s, tokenprobe batch beside a plain AsyncOpenAI client")
    print(f"{'what':>9}  {'conc.':>5}  {'requests':>8}  {'plain':>7}  {'tokenprobe':>10}  "
          f"{'share':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for score in (False, True):
            for c in (1, 4, 16):
                n = max(8, c * (2 if quick else 6))
                if score:
                    texts = [f"{SCORE_TEXT} ({i})" for i in range(n)]
                    bodies = [{"model": "gemma", "prompt": t, "echo": True, "max_tokens": 1,
                               "logprobs": ALTERNATIVES, "temperature": 0.0} for t in texts]
                    lines = [json.dumps({"id": f"t{i}", "text": t})
                             for i, t in enumerate(texts)]
                else:
                    prompts = [f"Question {i}: what is the capital of France?"
                               for i in range(n)]
                    bodies = [{"model": "gemma", "prompt": p, "max_tokens": GEN_TOKENS,
                               "logprobs": ALTERNATIVES, "temperature": 0.0}
                              for p in prompts]
                    lines = [json.dumps({"id": f"q{i}", "prompt": p})
                             for i, p in enumerate(prompts)]
                # A first pass fills vLLM's prefix cache with these prompts, so that every
                # measured pass meets the same warm server; the plain client runs before
                # and after tokenprobe, and tokenprobe is compared with their mean.
                asyncio.run(plain(base, bodies, c))
                a = asyncio.run(plain(base, bodies, c))
                b = ours(base, lines, c, Path(tmp), score)
                a = (a + asyncio.run(plain(base, bodies, c))) / 2
                what = "score" if score else "generate"
                print(f"{what:>9}  {c:>5}  {n:>8}  {a:>7.2f}  {b:>10.2f}  {b / a:>6.2f}")


# --- 2. a stub that answers at once ----------------------------------------------------------

def completion_body(alternatives: int) -> bytes:
    """A vLLM-shaped completion of STUB_TOKENS tokens with `alternatives` each."""
    tokens, lps, tops, offsets, text = [], [], [], [], ""
    for i in range(STUB_TOKENS):
        tok = " " + WORDS[i % len(WORDS)]
        offsets.append(len(text))
        text += tok
        tokens.append(tok)
        lps.append(-0.3)
        # A real distribution: the chosen token 0.74, the others sharing a quarter (values
        # summing past one would be read as logits).
        top = {tok: -0.3}
        for j in range(1, alternatives):
            top[f" {WORDS[(i + j) % len(WORDS)]}{j}"] = math.log(0.25 / alternatives) - 0.01 * j
        tops.append(top)
    return json.dumps({
        "id": "cmpl-bench", "object": "text_completion", "created": 0, "model": "gemma",
        "choices": [{"index": 0, "text": text, "finish_reason": "length", "stop_reason": None,
                     "logprobs": {"text_offset": offsets, "token_logprobs": lps,
                                  "tokens": tokens, "top_logprobs": tops}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": STUB_TOKENS,
                  "total_tokens": STUB_TOKENS + 5}}).encode()


async def stub(port: int, alternatives: int) -> None:
    body = completion_body(alternatives)
    answer = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                headers = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in headers.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the stub did not start")


def per_core(alternatives: int, rounds: int = 5, n: int = 40) -> float:
    """Tokens/s one process reads: an answer's body to its batch line (parse, trace, JSON
    line), as a batch's worker process does, without the HTTP exchange; median of rounds."""
    from tokenprobe.api import build_request
    from tokenprobe.backends import BackendOptions
    from tokenprobe.backends.openai import OpenAIBackend
    from tokenprobe.ops.batch import trace_line

    body = completion_body(alternatives).decode()
    backend = OpenAIBackend.from_spec("gemma", BackendOptions(base_url="http://127.0.0.1:9/v1"))
    req = build_request("question", max_tokens=STUB_TOKENS, alternatives=alternatives)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            trace_line(backend.read_whole(req, body))
        times.append(time.perf_counter() - t0)
    return n * STUB_TOKENS / statistics.median(times)


def ceiling(quick: bool) -> None:
    print(f"\nstub answering at once: {STUB_TOKENS} tokens per answer, tokens/s at "
          "concurrency 16")
    print(f"{'alternatives':>12}  {'answers':>7}  {'tokenprobe':>10}  {'json.loads':>10}  "
          f"{'share':>6}")
    for alternatives in (5, 20):
        port = free_port()
        proc = subprocess.Popen([sys.executable, __file__, "--stub", str(port),
                                 str(alternatives)])
        try:
            wait_for(port)
            n = 64 if quick else 256
            lines = [json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) for i in range(n)]
            with tempfile.TemporaryDirectory() as tmp:
                from tokenprobe.backends import BackendOptions
                from tokenprobe.backends.openai import OpenAIBackend
                from tokenprobe.ops.batch import read_prompts, run_batch

                src = Path(tmp) / "p.jsonl"
                src.write_text("".join(x + "\n" for x in lines))
                items = read_prompts(src, {"alternatives": alternatives,
                                           "max_tokens": STUB_TOKENS})
                backend = OpenAIBackend.from_spec(
                    "gemma", BackendOptions(base_url=f"http://127.0.0.1:{port}/v1"))
                t0 = time.perf_counter()
                result = asyncio.run(run_batch(backend, items, Path(tmp) / "o.jsonl", 16))
                ours_rate = n * STUB_TOKENS / (time.perf_counter() - t0)
                assert result.done == n, result.failed[:1]
            body = completion_body(alternatives)
            t0 = time.perf_counter()
            for _ in range(n):
                json.loads(body)
            loads_rate = n * STUB_TOKENS / (time.perf_counter() - t0)
            print(f"{alternatives:>12}  {n:>7}  {ours_rate:>10.0f}  {loads_rate:>10.0f}  "
                  f"{ours_rate / loads_rate:>6.3f}  (one core, reading alone: "
                  f"{per_core(alternatives):.0f})")
        finally:
            proc.terminate()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", help="a running vLLM (…/v1) serving the model 'gemma'")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--stub-only", action="store_true")
    ap.add_argument("--stub", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stub:
        asyncio.run(stub(*args.stub))
        return
    if not args.stub_only:
        if args.base_url:
            against_vllm(args.base_url, args.quick)
        else:
            from tests.servers.vllm_server import VllmServer

            with tempfile.TemporaryDirectory() as tmp:
                server = VllmServer("raw_logprobs", Path(tmp))
                try:
                    against_vllm(server.base, args.quick)
                finally:
                    server.stop()
    ceiling(args.quick)


if __name__ == "__main__":
    main()
