"""The OpenAI-compatible backend: OpenAI, vLLM, llama.cpp, llama-cpp-python, Ollama, SGLang.

`--model openai:NAME` with `--base-url URL` (or OPENAI_BASE_URL; the key from
OPENAI_API_KEY, which local servers do not need). Requests go through the official `openai`
SDK, but the responses are read as the JSON the server sent (`with_streaming_response` /
`with_raw_response`), not as SDK objects: the importers in formats/ read the same JSON, so
a live answer and a saved one give the same trace, and fields the SDK does not know (vLLM's
`prompt_logprobs`) are not lost. Stream lines end at LF only (nativehttp.byte_lines).

Retries are this backend's own, not the SDK's (it is built with `max_retries=0`): the same
rule as the native backends' (408, 429, 500, 502, 503, 504 and a refused or dropped
connection, before the body starts; not a timeout), waiting as `retry-after` /
`retry-after-ms` say but never more than `server_errors.MAX_RETRY_WAIT` (30 s) a wait, at most
`max_retries` (2) times. The SDK would wait up to its own bound (two minutes in current
versions), and an error after its retries could not say how many tries were made; counted
here, "after N tries" is said only when there were N.

- chat (`/chat/completions`): `logprobs: true`, `top_logprobs: N`; completion
  (`/completions`): `logprobs: N`. Streaming by default: tokens are yielded as chunks come
  (a chunk may carry several tokens, or none).
- `score(text)`, `score_continuation`: prompt logprobs, through `/completions` with `echo`
  or vLLM's `prompt_logprobs` (backends/openai_score.py).
- branching: completion mode re-sends prompt + the kept text + the forced text; chat mode
  prefills the assistant message with `continue_final_message` (vLLM; llama.cpp's server
  and Ollama continue a final assistant message by themselves).
- `logprobs_kind`: what the server's numbers are, as declared (`--logprobs-kind`,
  `BackendOptions.logprobs_kind`, or `logprobs_kind` in the extra body) or as the numbers
  prove (logits: formats/vllm_values.py); "raw" otherwise, OpenAI's and vLLM's default.
- vLLM's extras, asked for with `--extra-body`: `{"prompt_logprobs": N}` gives the prompt's
  tokens with their logprobs and top N, read into `prompt_steps` (vLLM refuses them on a
  stream, so such a request is sent whole); `{"return_tokens_as_token_ids": true}` labels
  tokens `token_id:N`: ids are kept and bytes taken from what the answer shows for each id
  (formats/vllm.py), and a token whose text nothing shows is an error naming the flag.

It leaves out reading an answer's documents into steps (openai_reader.py) and the native
llama.cpp and Ollama APIs (llamacpp.py, ollama.py).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from typing import Any, TypeVar

from tokenprobe.backends import openai_score
from tokenprobe.backends.base import Backend, BackendOptions, replay_steps
from tokenprobe.backends.nativehttp import abyte_lines, byte_lines
from tokenprobe.backends.openai_reader import AnswerReader, sse_line
from tokenprobe.backends.server_errors import (
    RETRY_STATUSES,
    ServerError,
    body_message,
    is_transport_error,
    parse_json,
    reason,
    retry_delay,
    scrub,
    status_error,
)
from tokenprobe.backends.urls import check_url, public_url, url_secrets
from tokenprobe.errors import FormatError, InputError, ModelError, TokenprobeError
from tokenprobe.formats.vllm_values import KINDS
from tokenprobe.trace import Request, Step, Trace

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_TOP_LOGPROBS_CAP = 20  # documented for api.openai.com; other servers say their own
DEFAULT_TIMEOUT = 120.0
T = TypeVar("T")
# How a retry waits (a name of its own, so that a test can see the waits without taking them).
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class OpenAIBackend(Backend):
    name = "openai"
    can_score = True
    can_score_answer = True
    branches = "text"

    @classmethod
    def own_server(cls) -> str | None:
        return os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL

    @classmethod
    def target_url(cls, rest: str, options: BackendOptions) -> str | None:
        return cls.server_url(rest, options) or cls.own_server()

    def __init__(self, model: str, base_url: str, api_key: str | None,
                 extra_body: dict[str, Any] | None = None, timeout: float | None = None,
                 stream: bool = True, max_retries: int = 2,
                 logprobs_kind: str | None = None) -> None:
        try:
            import openai
        except ImportError as e:  # pragma: no cover - a dependency
            raise ModelError(f"the openai package is needed for openai: models ({e})") from None
        self.model = model
        self.base_url = base_url.rstrip("/")
        check_url(self.base_url)
        self._key = api_key or ""
        body = dict(extra_body or {})
        kind = logprobs_kind if logprobs_kind is not None else body.pop("logprobs_kind", None)
        body.pop("logprobs_kind", None)
        if kind is not None and kind not in KINDS:
            raise InputError(f"the logprobs kind must be one of {', '.join(KINDS)} (got "
                             f"{str(kind)[:20]!r})")
        # What the server's numbers are, when the user said so (None: read them as raw
        # log-probabilities unless they prove to be logits).
        self.declared_kind: str | None = kind
        self.logprobs_kind = kind or "raw"
        self.extra_body = body
        self.use_stream = stream
        self._openai = openai
        self.where = f"the server at {public_url(self.base_url)}"
        if not self._key and "api.openai.com" in self.base_url:
            raise InputError("OPENAI_API_KEY is not set (OpenAI needs a key; local servers "
                             "are reached with --base-url URL)")
        self.max_retries = max(int(max_retries), 0)
        self.client = self._client(timeout or DEFAULT_TIMEOUT)

    def _client(self, timeout: float) -> Any:
        # Local servers need no key; the SDK insists on one (its ways of sending none differ
        # between versions), so they get a placeholder, which a server without --api-key
        # ignores and one with it rightly refuses. Retries are ours (see the docstring).
        return self._openai.OpenAI(base_url=self.base_url, api_key=self._key or "no-key",
                                   timeout=timeout, max_retries=0)

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> OpenAIBackend:
        base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        key = options.api_key if options.api_key is not None else os.environ.get(
            "OPENAI_API_KEY")
        return cls(rest, base_url, key, options.extra_body, options.timeout,
                   stream=bool(options.extra.get("stream", True)),
                   max_retries=int(options.extra.get("max_retries", 2)),
                   logprobs_kind=options.logprobs_kind)

    def source(self) -> dict[str, Any]:
        return {"base_url": public_url(self.base_url)}

    def close(self) -> None:
        self.client.close()

    # --- requests ---------------------------------------------------------------------

    def prepare(self, request: Request) -> None:
        n = request.alternatives
        if (n is not None and n > OPENAI_TOP_LOGPROBS_CAP
                and "api.openai.com" in self.base_url):
            raise InputError(f"OpenAI allows at most {OPENAI_TOP_LOGPROBS_CAP} alternatives "
                             f"per token (asked for {n}): use --alternatives 20 or fewer")

    def _params(self, request: Request) -> dict[str, Any]:
        p: dict[str, Any] = {"model": self.model}
        if request.max_tokens is not None:
            p["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            p["temperature"] = request.temperature
        if request.top_p is not None and request.top_p < 1.0:
            p["top_p"] = request.top_p
        if request.seed is not None:
            p["seed"] = request.seed
        if request.stop:
            p["stop"] = list(request.stop)
        extra = dict(self.extra_body)
        if request.top_k:
            extra.setdefault("top_k", request.top_k)  # not OpenAI's; vLLM, llama.cpp, SGLang
        if extra:
            p["extra_body"] = extra
        return p

    def _chat_params(self, request: Request, messages: list[dict[str, str]]) -> dict[str, Any]:
        p = self._params(request)
        p["messages"] = messages
        p["logprobs"] = True
        p["top_logprobs"] = request.alternatives or 0
        return p

    def _completion_params(self, request: Request, prompt: str) -> dict[str, Any]:
        p = self._params(request)
        p["prompt"] = prompt
        p["logprobs"] = request.alternatives or 0
        return p

    def _secrets(self) -> list[str | None]:
        return [self._key, *url_secrets(self.base_url)]

    # --- retries ----------------------------------------------------------------------

    def _retry_wait(self, e: Exception, attempt: int) -> float | None:
        """Seconds to wait before retrying after `e` (retry `attempt`, 0-based), or None when
        it is not retried."""
        openai = self._openai
        if attempt >= self.max_retries:
            return None
        if isinstance(e, openai.APIStatusError):
            if e.status_code not in RETRY_STATUSES:
                return None
            return retry_delay(e.response.headers, attempt)
        if isinstance(e, openai.APIConnectionError) and not isinstance(
                e, openai.APITimeoutError):
            return retry_delay({}, attempt)
        return None

    def _status_error(self, e: Any, asked: int | None, retries: int) -> ServerError:
        msg = scrub(body_message(e.body if e.body is not None else e.message), self._secrets())
        return status_error(e.status_code, msg, self.where, asked, retries=retries)

    def _wait_or_raise(self, e: Exception, attempt: int, asked: int | None) -> float:
        """The wait before trying again after `e`; when it is not retried, `e` is raised
        again (or, after some retries, the error that counts them)."""
        wait = self._retry_wait(e, attempt)
        if wait is None:
            if attempt and isinstance(e, self._openai.APIStatusError):
                raise self._status_error(e, asked, attempt) from None
            raise e
        return wait

    def _retrying(self, call: Callable[[], T], asked: int | None) -> T:
        """`call()`, retried as the server's answer allows (before any body is read)."""
        attempt = 0
        while True:
            try:
                return call()
            except Exception as e:
                wait = self._wait_or_raise(e, attempt, asked)
            _sleep(wait)
            attempt += 1

    async def _aretrying(self, call: Callable[[], Awaitable[T]], asked: int | None) -> T:
        """`_retrying` on an event loop."""
        attempt = 0
        while True:
            try:
                return await call()
            except Exception as e:
                wait = self._wait_or_raise(e, attempt, asked)
            await _asleep(wait)
            attempt += 1

    @contextmanager
    def _errors(self, request: Request | None) -> Iterator[None]:
        """SDK and transport failures as one-line ServerErrors without the key."""
        openai = self._openai
        asked = request.alternatives if request is not None else None
        try:
            yield
        except FormatError as e:
            # What the server sent cannot be read: the server's failure (exit code 4, or 3
            # with the tokens kept), as the native backends say it.
            raise ServerError(f"{self.where} sent an answer tokenprobe cannot read: "
                              f"{scrub(str(e), self._secrets())}") from None
        except TokenprobeError as e:
            # Our own errors pass through, scrubbed.
            e.args = (scrub(str(e), self._secrets()),)
            raise
        except openai.APIStatusError as e:
            raise self._status_error(e, asked, retries=0) from None
        except openai.APITimeoutError:
            raise ServerError(self._timeout_message()) from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            raise ServerError(f"cannot reach {self.where}: "
                              f"{scrub(reason(cause), self._secrets())}") from None
        except openai.OpenAIError as e:
            raise ServerError(f"{self.where}: {scrub(str(e), self._secrets())}") from None
        except Exception as e:
            # Failures while reading a stream come from the SDK's HTTP transport (httpx, or
            # its fork httpx2 in newer SDKs) unwrapped; match them by where they come from.
            if not is_transport_error(e):
                raise
            if "timeout" in type(e).__name__.lower():
                raise ServerError(self._timeout_message()) from None
            raise ServerError(f"{self.where} broke the connection part-way "
                              f"({scrub(reason(e), self._secrets())})") from None

    def _timeout_message(self) -> str:
        timeout = self.client.timeout
        seconds = getattr(timeout, "read", None) or timeout
        return f"{self.where} did not answer within {seconds:g} s (timeout)"

    def _lines(self, endpoint: Any, params: dict[str, Any], state: dict[str, bool],
               asked: int | None) -> Generator[dict[str, Any]]:
        """The JSON documents of an SSE stream, as the server sent them; `state["done"]`
        says whether the stream ended with `data: [DONE]`."""
        with ExitStack() as stack:
            response = self._retrying(lambda: stack.enter_context(
                endpoint.with_streaming_response.create(**params, stream=True)), asked)
            for line in byte_lines(response.iter_bytes()):
                doc, done = sse_line(line, self.where)
                if done:
                    state["done"] = True
                    return
                if doc is not None:
                    yield doc

    def _whole(self, endpoint: Any, params: dict[str, Any],
               asked: int | None = None) -> dict[str, Any]:
        raw = self._retrying(lambda: endpoint.with_raw_response.create(**params), asked)
        doc = parse_json(raw.http_response.text, self.where)
        if not isinstance(doc, dict):
            raise ServerError(f"{self.where} answered with JSON that is not an object")
        return doc

    # --- generation -------------------------------------------------------------------

    def _reader(self, request: Request, chat: bool, stream: bool) -> AnswerReader:
        return AnswerReader(self.where, self._secrets(), request, chat, stream,
                            self.declared_kind, echo=bool(self.extra_body.get("echo")))

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        if request.mode == "chat":
            params = self._chat_params(request, list(request.messages or []))
        else:
            params = self._completion_params(request, request.prompt or "")
        return (yield from self._run(request, params, trace))

    def inline_thinking(self, request: Request) -> bool:
        # As the chat importer (formats/openai_chat.py) splits a text opening with a tag.
        return request.mode == "chat"

    def _streams(self) -> bool:
        # vLLM refuses prompt_logprobs on a stream: a request for them is sent whole.
        return self.use_stream and "prompt_logprobs" not in self.extra_body

    def _run(self, request: Request, params: dict[str, Any],
             trace: Trace | None = None) -> Generator[Step, None, str | None]:
        chat = "messages" in params
        endpoint = self.client.chat.completions if chat else self.client.completions
        stream = self._streams()
        reader = self._reader(request, chat, stream)
        state = {"done": not stream}
        with self._errors(request):
            docs: Iterator[dict[str, Any]] = (
                self._lines(endpoint, params, state, request.alternatives) if stream
                else iter([self._whole(endpoint, params, request.alternatives)]))
            try:
                for doc in docs:
                    steps = reader.feed(doc)
                    if trace is not None:
                        reader.settle_trace(trace)
                        yield from reader.take_thinking()
                    yield from steps
            except Exception:
                # The stream broke: tokens held back for more text (hidden bytes) were
                # received all the same; they go out as their labels show, then the error.
                yield from reader.fitter.finish(broken=True)
                raise
            yield from reader.fitter.finish()
            finish = reader.end(state["done"])
            if trace is not None:
                reader.attach_prompt(trace)
                yield from reader.take_thinking()
        return finish

    # --- asynchronous generation (batch) ------------------------------------------------

    def async_client(self) -> Any:
        """A new AsyncOpenAI client for the running event loop (close it when done)."""
        return self._openai.AsyncOpenAI(base_url=self.base_url, api_key=self._key or "no-key",
                                        timeout=self.client.timeout, max_retries=0)

    def _generation_params(self, request: Request) -> dict[str, Any]:
        """The request's checked parameters for chat or completions."""
        from tokenprobe.backends.base import validate_request

        validate_request(request)
        self.prepare(request)
        if request.mode == "chat":
            return self._chat_params(request, list(request.messages or []))
        return self._completion_params(request, request.prompt or "")

    async def agenerate(self, request: Request, client: Any, stream: bool | None = None) -> Trace:
        """One generation on an event loop: the same reading as `generate_steps`, with the
        requests made by `client` (from `async_client()`), so that many run at once.
        `stream=False` asks for the whole answer in one body (what a batch wants: nobody
        watches the tokens arrive, and one body costs a fraction of a stream to read)."""
        use_stream = (self.use_stream if stream is None else stream) and self._streams()
        if not use_stream:
            try:
                body = await self.afetch(request, client)
            except TokenprobeError as e:
                return replay_steps(self, request, [], None, e)
            return self.read_whole(request, body)
        params = self._generation_params(request)
        chat = "messages" in params
        endpoint = client.chat.completions if chat else client.completions
        reader = self._reader(request, chat, True)
        steps: list[Step] = []
        finish: str | None = None
        failure: TokenprobeError | None = None
        try:
            with self._errors(request):
                done = False
                async with AsyncExitStack() as stack:
                    response = await self._aretrying(lambda: stack.enter_async_context(
                        endpoint.with_streaming_response.create(**params, stream=True)),
                        request.alternatives)
                    async for line in abyte_lines(response.iter_bytes()):
                        doc, done = sse_line(line, self.where)
                        if done:
                            break
                        if doc is not None:
                            steps += reader.feed(doc)
                steps += reader.fitter.finish()
                finish = reader.end(done)
        except TokenprobeError as e:
            steps += reader.fitter.finish(broken=True)  # what waited, before the failure
            failure = e
        return self._finish(request, reader, steps, finish, failure)

    async def afetch(self, request: Request, client: Any) -> str:
        """The body of the whole (unstreamed) answer to `request`, as the server sent it.

        It goes through the SDK's generic `post` (its errors and authentication; the
        retries are this backend's, as for every request) without the per-request
        re-validation of typed parameters, which costs a millisecond a request that a batch
        of thousands feels."""
        import httpx

        params = self._generation_params(request)
        path = "/chat/completions" if "messages" in params else "/completions"
        body = {k: v for k, v in params.items() if k != "extra_body"}
        body.update(params.get("extra_body") or {})
        with self._errors(request):
            response = await self._aretrying(
                lambda: client.post(path, cast_to=httpx.Response, body=body),
                request.alternatives)
            return str(response.text)

    def read_whole(self, request: Request, body: str) -> Trace:
        """The trace of a whole answer's body (from `afetch`): the same reading as a live
        answer's. It needs no connection, so a batch can run it in a worker process."""
        chat = request.mode == "chat"
        reader = self._reader(request, chat, False)
        steps: list[Step] = []
        finish: str | None = None
        failure: TokenprobeError | None = None
        try:
            with self._errors(request):
                steps += reader.feed(parse_json(body, self.where))
                steps += reader.fitter.finish()
                finish = reader.end(True)
        except TokenprobeError as e:
            steps += reader.fitter.finish(broken=True)
            failure = e
        return self._finish(request, reader, steps, finish, failure)

    def _finish(self, request: Request, reader: AnswerReader, steps: list[Step], finish: str | None,
                failure: TokenprobeError | None) -> Trace:
        trace = replay_steps(self, request, steps, finish, failure)
        reader.settle_trace(trace)
        if failure is None:
            with self._errors(request):
                try:
                    reader.attach_prompt(trace)
                except TokenprobeError as e:
                    trace.complete, trace.error = False, str(e)
        return trace

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        """How to rebuild this backend in a worker process, for `read_whole` there."""
        return ("tokenprobe.backends.openai:OpenAIBackend",
                {"model": self.model, "base_url": self.base_url, "api_key": self._key,
                 "extra_body": dict(self.extra_body), "stream": self.use_stream,
                 "max_retries": 0, "logprobs_kind": self.declared_kind})

    # --- scoring (backends/openai_score.py) ----------------------------------------------

    def score(self, text: str, alternatives: int = 10, progress: Any = None) -> Trace:
        return openai_score.score(self, text, alternatives, progress)

    def score_continuation(self, request: Request, answer: str, alternatives: int = 10) -> Trace:
        return openai_score.score_continuation(self, request, answer, alternatives)

    async def afetch_score(self, text: str, alternatives: int, client: Any) -> str:
        """The body of the echo that scores `text` (a batch of texts, on an event loop)."""
        return await openai_score.afetch_score(self, text, alternatives, client)

    def read_score(self, text: str, alternatives: int, body: str) -> Trace:
        """The score trace of `afetch_score`'s body (a worker process can read it)."""
        return openai_score.read_score(self, text, alternatives, body)

    # --- branching --------------------------------------------------------------------

    def continue_text_steps(self, request: Request, trace: Trace, kept: str,
                            forced: str) -> Generator[Step, None, str | None]:
        """Steps after the prompt, `kept` (the parent's text before the fork) and `forced`."""
        if request.mode == "chat":
            messages = [*(request.messages or []),
                        {"role": "assistant", "content": kept + forced}]
            params = self._chat_params(request, messages)
            extra = dict(params.get("extra_body") or {})
            extra.setdefault("continue_final_message", True)
            extra.setdefault("add_generation_prompt", False)
            params["extra_body"] = extra
            if "api.openai.com" in self.base_url:
                raise ModelError("OpenAI's chat API cannot continue an assistant message, so "
                                 "this server cannot branch a chat answer")
        else:
            params = self._completion_params(request, (request.prompt or "") + kept + forced)
        try:
            return (yield from self._run(request, params, trace))
        except ServerError as e:
            if "continue_final_message" in str(e) or "add_generation_prompt" in str(e):
                raise ModelError(f"{self.where} cannot branch a chat answer (it does not "
                                 "continue an assistant message)") from None
            raise
