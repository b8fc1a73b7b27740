"""Batch throughput against a server that answers every request after a fixed 100 ms.

The stub runs in its own process (an asyncio server, so that it never limits the client):
each request is answered after exactly 100 ms with a realistic body: a chat completion of
64 tokens with 5 alternatives each, whole (what batch asks for) or as a stream of chunks
(what a live view asks for; measured too, for comparison). With concurrency C the ideal is C / 0.1 s
requests per second; the figure is tokenprobe batch's achieved rate as a share of it
(goal at C = 16: >= 0.8 of 160 requests/s), for C = 1, 4, 16, 64, measured in one run.

Run: python benchmarks/bench_batch.py [--quick]. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DELAY = 0.100
TOKENS = 64
ALTERNATIVES = 5
WORDS = ("the", "a", "model", "token", "of", "and", "to", "in", "probability", "is")


def logprob(j: int) -> float:
    """The j-th listed token's logprob: a real distribution (0.67, 0.20, 0.07, 0.03, 0.01;
    values summing past one would be read as logits, docs/servers.md)."""
    return -0.4 if j == 0 else -0.6 - j


def whole_body() -> bytes:
    """One chat completion with its logprobs, as OpenAI or vLLM answer without streaming."""
    items = []
    for i in range(TOKENS):
        tok = " " + WORDS[i % len(WORDS)]
        top = [{"token": " " + WORDS[(i + j) % len(WORDS)], "logprob": logprob(j),
                "bytes": list((" " + WORDS[(i + j) % len(WORDS)]).encode())}
               for j in range(ALTERNATIVES)]
        items.append({"token": tok, "logprob": logprob(0), "bytes": list(tok.encode()),
                      "top_logprobs": top})
    text = "".join(it["token"] for it in items)  # type: ignore[misc]
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": {"content": items, "refusal": None},
                     "finish_reason": "length"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": TOKENS}}).encode()


def stream_body() -> bytes:
    """An SSE body as vLLM or OpenAI would stream it: a role chunk, one chunk per token
    with its logprobs, a finish chunk, [DONE]."""
    def chunk(delta: dict[str, object], logprobs: object, finish: str | None) -> str:
        return "data: " + json.dumps({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
            "model": "bench", "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                                           "finish_reason": finish}]}) + "\n\n"

    out = [chunk({"role": "assistant", "content": ""}, None, None)]
    for i in range(TOKENS):
        tok = " " + WORDS[i % len(WORDS)]
        top = [{"token": " " + WORDS[(i + j) % len(WORDS)], "logprob": logprob(j),
                "bytes": list((" " + WORDS[(i + j) % len(WORDS)]).encode())}
               for j in range(ALTERNATIVES)]
        item = {"token": tok, "logprob": logprob(0), "bytes": list(tok.encode()),
                "top_logprobs": top}
        out.append(chunk({"content": tok}, {"content": [item], "refusal": None}, None))
    out.append(chunk({}, None, "length"))
    out.append("data: [DONE]\n\n")
    return "".join(out).encode()


async def stub(port: int) -> None:
    bodies = {}
    for streamed, body in ((True, stream_body()), (False, whole_body())):
        kind = b"text/event-stream" if streamed else b"application/json"
        bodies[streamed] = (b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\n"
                            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
                            + body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                headers = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in headers.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = await reader.readexactly(length)
                await asyncio.sleep(DELAY)
                writer.write(bodies[b'"stream":true' in request.replace(b" ", b"")])
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


def measure(base_url: str, concurrency: int, requests: int, tmp: Path,
            stream: bool = False) -> tuple[float, int]:
    from tokenprobe.backends import BackendOptions
    from tokenprobe.backends.openai import OpenAIBackend
    from tokenprobe.ops.batch import read_prompts, run_batch

    prompts = tmp / f"p{concurrency}.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) + "\n"
                               for i in range(requests)))
    out = tmp / f"out{concurrency}-{stream}.jsonl"
    items = read_prompts(prompts, {"chat": True, "alternatives": ALTERNATIVES,
                                   "max_tokens": TOKENS})
    backend = OpenAIBackend.from_spec("bench", BackendOptions(base_url=base_url))
    t0 = time.perf_counter()
    result = asyncio.run(run_batch(backend, items, out, concurrency, stream=stream))
    took = time.perf_counter() - t0
    lines = out.read_text().splitlines()
    assert result.done == requests and len(lines) == requests, result
    assert all(len(json.loads(x)["steps"]) == TOKENS for x in lines[:3])
    return requests / took, result.done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--stub", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stub:
        asyncio.run(stub(args.stub))
        return
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--stub", str(port)])
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}/v1"
        print(f"stub: {DELAY * 1000:.0f} ms per request, {TOKENS} tokens x {ALTERNATIVES} "
              "alternatives")
        print(f"{'answers':>8}  {'concurrency':>11}  {'requests':>8}  {'req/s':>8}  "
              f"{'ideal':>7}  {'share':>6}")
        with tempfile.TemporaryDirectory() as tmp:
            for stream in (False, True):
                for c in (1, 4, 16, 64):
                    n = max(8, c * (5 if args.quick else 20))
                    rate, _ = measure(base, c, n, Path(tmp), stream)
                    ideal = c / DELAY
                    kind = "streamed" if stream else "whole"
                    print(f"{kind:>8}  {c:>11}  {n:>8}  {rate:>8.1f}  {ideal:>7.0f}  "
                          f"{rate / ideal:>6.2f}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
