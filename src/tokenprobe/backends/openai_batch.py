"""The OpenAI-compatible backend's generation on an event loop, for a batch.

- `agenerate`: one generation with an `AsyncOpenAI` client, read as `generate_steps` reads it
  (streamed, or whole through `afetch` + `read_whole`), so that many run at once.
- `afetch`: the body of a whole answer, as the server sent it; `read_whole`: its trace,
  without a connection, so that a batch can read bodies in worker processes.

It leaves out making the parameters (backends/openai.py), the client's retries and failures
(openai_transport.py) and reading the documents into steps (openai_reader.py).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from tokenprobe.backends.base import replay_steps
from tokenprobe.backends.nativehttp import abyte_lines
from tokenprobe.backends.openai_reader import AnswerReader, sse_line
from tokenprobe.backends.server_errors import parse_json
from tokenprobe.errors import TokenprobeError
from tokenprobe.trace import Request, Step, Trace

if TYPE_CHECKING:
    from tokenprobe.backends.openai import OpenAIBackend


async def agenerate(backend: OpenAIBackend, request: Request, client: Any,
                    stream: bool | None = None) -> Trace:
    """One generation on an event loop with `client` (from `async_client()`); `stream=False`
    asks for the whole answer in one body (what a batch wants: nobody watches the tokens
    arrive, and one body costs a fraction of a stream to read)."""
    use_stream = (backend.use_stream if stream is None else stream) and backend.streams()
    if not use_stream:
        try:
            body = await afetch(backend, request, client)
        except TokenprobeError as e:
            return replay_steps(backend, request, [], None, e)
        return read_whole(backend, request, body)
    conn = backend.conn
    params = backend.generation_params(request)
    chat = "messages" in params
    endpoint = client.chat.completions if chat else client.completions
    reader = backend.reader(request, chat, True)
    steps: list[Step] = []
    finish: str | None = None
    failure: TokenprobeError | None = None
    try:
        with conn.errors(request.alternatives):
            done = False
            async with AsyncExitStack() as stack:
                response = await conn.aretrying(lambda: stack.enter_async_context(
                    endpoint.with_streaming_response.create(**params, stream=True)),
                    request.alternatives)
                async for line in abyte_lines(response.iter_bytes()):
                    doc, done = sse_line(line, conn.where)
                    if done:
                        break
                    if doc is not None:
                        steps += reader.feed(doc)
            steps += reader.fitter.finish()
            finish = reader.end(done)
    except TokenprobeError as e:
        steps += reader.fitter.finish(broken=True)  # what waited, before the failure
        failure = e
    return _finish(backend, request, reader, steps, finish, failure)


async def afetch(backend: OpenAIBackend, request: Request, client: Any) -> str:
    """The body of the whole (unstreamed) answer to `request`, as the server sent it."""
    params = backend.generation_params(request)
    path = "/chat/completions" if "messages" in params else "/completions"
    with backend.conn.errors(request.alternatives):
        return await backend.conn.apost(client, path, params, request.alternatives)


def read_whole(backend: OpenAIBackend, request: Request, body: str) -> Trace:
    """The trace of a whole answer's body (from `afetch`): the same reading as a live
    answer's."""
    reader = backend.reader(request, request.mode == "chat", False)
    steps: list[Step] = []
    finish: str | None = None
    failure: TokenprobeError | None = None
    try:
        with backend.conn.errors(request.alternatives):
            steps += reader.feed(parse_json(body, backend.where))
            steps += reader.fitter.finish()
            finish = reader.end(True)
    except TokenprobeError as e:
        steps += reader.fitter.finish(broken=True)
        failure = e
    return _finish(backend, request, reader, steps, finish, failure)


def _finish(backend: OpenAIBackend, request: Request, reader: AnswerReader, steps: list[Step],
            finish: str | None, failure: TokenprobeError | None) -> Trace:
    trace = replay_steps(backend, request, steps, finish, failure)
    reader.settle_trace(trace)
    if failure is None:
        with backend.conn.errors(request.alternatives):
            try:
                reader.attach_prompt(trace)
            except TokenprobeError as e:
                trace.complete, trace.error = False, str(e)
    return trace
