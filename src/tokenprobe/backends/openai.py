"""The OpenAI-compatible backend: OpenAI, vLLM, llama.cpp, llama-cpp-python, Ollama, SGLang.

`--model openai:NAME` with `--base-url URL` (or OPENAI_BASE_URL; the key from
OPENAI_API_KEY, which local servers do not need). Requests go through the official `openai`
SDK, but the responses are read as the JSON the server sent, not as SDK objects: the
importers in formats/ read the same JSON, so a live answer and a saved one give the same
trace, and fields the SDK does not know (vLLM's `prompt_logprobs`) are not lost. The client,
its retries (this backend's own, bounded and counted) and its failures are
backends/openai_transport.py's.

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

It leaves out the connection (openai_transport.py), the batch's generation on an event loop
(openai_batch.py), reading an answer's documents into steps (openai_reader.py) and the
native llama.cpp and Ollama APIs (llamacpp.py, ollama.py).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any

from tokenprobe.backends import openai_batch, openai_score
from tokenprobe.backends.base import Backend, BackendOptions
from tokenprobe.backends.openai_reader import AnswerReader
from tokenprobe.backends.openai_transport import OpenAIConnection
from tokenprobe.backends.server_errors import ServerError
from tokenprobe.backends.urls import public_url
from tokenprobe.errors import InputError, ModelError
from tokenprobe.formats.vllm_values import KINDS
from tokenprobe.trace import Request, Step, Trace

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_TOP_LOGPROBS_CAP = 20  # documented for api.openai.com; other servers say their own
DEFAULT_TIMEOUT = 120.0


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
        self.model = model
        self.conn = OpenAIConnection(base_url, api_key, timeout or DEFAULT_TIMEOUT, max_retries)
        self.base_url = self.conn.base_url
        self.client = self.conn.client
        self.where = self.conn.where
        body = dict(extra_body or {})
        kind = logprobs_kind if logprobs_kind is not None else body.pop("logprobs_kind", None)
        body.pop("logprobs_kind", None)
        if kind is not None and kind not in KINDS:
            self.conn.close()
            raise InputError(f"the logprobs kind must be one of {', '.join(KINDS)} (got "
                             f"{str(kind)[:20]!r})")
        # What the server's numbers are, when the user said so (None: read them as raw
        # log-probabilities unless they prove to be logits).
        self.declared_kind: str | None = kind
        self.logprobs_kind = kind or "raw"
        self.extra_body = body
        self.use_stream = stream
        if not self.conn.key and "api.openai.com" in self.base_url:
            self.conn.close()
            raise InputError("OPENAI_API_KEY is not set (OpenAI needs a key; local servers "
                             "are reached with --base-url URL)")

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
        self.conn.close()

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

    def generation_params(self, request: Request) -> dict[str, Any]:
        """The request's checked parameters for chat or completions."""
        from tokenprobe.backends.base import validate_request

        validate_request(request)
        self.prepare(request)
        return self._request_params(request)

    def _request_params(self, request: Request) -> dict[str, Any]:
        if request.mode == "chat":
            return self._chat_params(request, list(request.messages or []))
        return self._completion_params(request, request.prompt or "")

    # --- generation -------------------------------------------------------------------

    def reader(self, request: Request, chat: bool, stream: bool) -> AnswerReader:
        """A reader of this backend's answer to `request`, as documents come."""
        return AnswerReader(self.where, self.conn.secrets(), request, chat, stream,
                            self.declared_kind, echo=bool(self.extra_body.get("echo")))

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        return (yield from self._run(request, self._request_params(request), trace))

    def inline_thinking(self, request: Request) -> bool:
        # As the chat importer (formats/openai_chat.py) splits a text opening with a tag.
        return request.mode == "chat"

    def streams(self) -> bool:
        """Whether answers are streamed: vLLM refuses prompt_logprobs on a stream, so a
        request for them is sent whole."""
        return self.use_stream and "prompt_logprobs" not in self.extra_body

    def _run(self, request: Request, params: dict[str, Any],
             trace: Trace | None = None) -> Generator[Step, None, str | None]:
        chat = "messages" in params
        endpoint = self.client.chat.completions if chat else self.client.completions
        stream = self.streams()
        reader = self.reader(request, chat, stream)
        state = {"done": not stream}
        with self.conn.errors(request.alternatives):
            docs: Iterator[dict[str, Any]] = (
                self.conn.lines(endpoint, params, state, request.alternatives) if stream
                else iter([self.conn.whole(endpoint, params, request.alternatives)]))
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

    # --- asynchronous generation, for a batch (backends/openai_batch.py) ------------------

    def async_client(self) -> Any:
        """A new AsyncOpenAI client for the running event loop (close it when done)."""
        return self.conn.async_client()

    async def agenerate(self, request: Request, client: Any, stream: bool | None = None) -> Trace:
        """One generation on an event loop: the same reading as `generate_steps`, with the
        requests made by `client` (from `async_client()`), so that many run at once.
        `stream=False` asks for the whole answer in one body."""
        return await openai_batch.agenerate(self, request, client, stream)

    async def afetch(self, request: Request, client: Any) -> str:
        """The body of the whole (unstreamed) answer to `request`, as the server sent it."""
        return await openai_batch.afetch(self, request, client)

    def read_whole(self, request: Request, body: str) -> Trace:
        """The trace of a whole answer's body (from `afetch`): the same reading as a live
        answer's. It needs no connection, so a batch can run it in a worker process."""
        return openai_batch.read_whole(self, request, body)

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        """How to rebuild this backend in a worker process, for `read_whole` there."""
        return ("tokenprobe.backends.openai:OpenAIBackend",
                {"model": self.model, "base_url": self.base_url, "api_key": self.conn.key,
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
