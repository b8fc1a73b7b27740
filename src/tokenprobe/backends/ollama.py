"""The native Ollama backend: `/api/generate` and `/api/chat` with `logprobs`.

`--model ollama:NAME` (NAME as `ollama list` shows it, e.g. `gemma3:270m`); the server is
`--base-url`, else OLLAMA_HOST (read as Ollama's own client reads it: a bare host gets
port 11434, `0.0.0.0` means this machine), else http://127.0.0.1:11434. A key, for an
Ollama behind a proxy that wants one, is the one given for this model (the web app's "add a
model") or OLLAMA_API_KEY; another service's key (OPENAI_API_KEY, which the command line
hands to every backend) is never sent to it.

- completion: POST /api/generate with `raw: true`, so that no chat template wraps the
  prompt; chat: POST /api/chat with the messages (Ollama applies the model's template).
  Both stream NDJSON with `logprobs: true, top_logprobs: N` (Ollama allows 0-20 and says so
  when asked for more), and options {temperature, top_p, top_k, seed, num_predict, stop},
  plus min_p 0 and repeat_penalty 1 so that the server samples from the distribution the
  request names; `--extra-body` fields go last (its "options" merge into these).
- Each chunk's `logprobs` are read by formats/ollama.py, the importer's reader, through the
  same LiveFitter as the OpenAI-compatible backend. The logprobs are "raw" (Ollama's
  runner takes a softmax of the logits before temperature and the samplers).
- A thinking model's `thinking` text and its tokens are routed apart from the answer
  (reasoning.PartRouter) into `Trace.reasoning`, live; the steps and text are the answer's.
- An Ollama older than 0.12.11 ignores `logprobs`: that is "the server returned no
  logprobs", not an empty trace.
- branching: chat sends the kept and forced text as a final assistant message, which Ollama
  continues; completion re-sends prompt + kept + forced with `raw: true`.
- scoring: Ollama reports no logprobs for a given text; `score` says so.

It leaves out Ollama's OpenAI-compatible endpoints (backends/openai.py, `openai:NAME` with
`--base-url http://127.0.0.1:11434/v1`) and model management (pull, list).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tokenprobe.backends.base import Backend, BackendOptions, Progress
from tokenprobe.backends.livefit import LiveFitter
from tokenprobe.backends.nativehttp import NativeHttp
from tokenprobe.backends.server_errors import (
    NO_LOGPROBS_AFTER,
    ServerError,
    body_message,
    check_cover,
    no_logprobs,
    parse_json,
)
from tokenprobe.backends.urls import check_url, public_url
from tokenprobe.errors import FormatError, InputError, ModelError, TokenprobeError
from tokenprobe.formats import ollama as fmt
from tokenprobe.formats.wire_values import finish_error, finish_reason
from tokenprobe.reasoning import PartRouter, Reasoning, ThinkingSteps, settle_reasoning
from tokenprobe.trace import Request, Step, Trace

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_PORT = 11434


def ollama_url(host: str) -> str:
    """An OLLAMA_HOST value as a URL, the way Ollama's client reads it."""
    host = host.strip().rstrip("/")
    scheme, port = "http", DEFAULT_PORT
    if "://" in host:
        scheme = host.split("://", 1)[0].lower()
        port = 443 if scheme == "https" else 80
    else:
        host = "http://" + host
    check_url(host, "the Ollama server's URL")  # a bad port is one line, not a ValueError
    parts = urlsplit(host)
    name = parts.hostname or "127.0.0.1"
    if name in ("0.0.0.0", "::"):
        name = "127.0.0.1"  # the address a server listens on everywhere; reach it here
    if ":" in name:
        name = f"[{name}]"
    path = parts.path
    for suffix in ("/api", "/v1"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    netloc = f"{name}:{parts.port or port}"
    if parts.username is not None:
        netloc = f"{parts.username}:{parts.password or ''}@{netloc}"
    return urlunsplit((scheme, netloc, path, "", ""))


class OllamaBackend(Backend):
    name = "ollama"
    logprobs_kind = "raw"
    branches = "text"
    key_variable = "OLLAMA_API_KEY"

    @classmethod
    def own_server(cls) -> str | None:
        return os.environ.get("OLLAMA_HOST") or DEFAULT_HOST

    @classmethod
    def target_url(cls, rest: str, options: BackendOptions) -> str | None:
        return ollama_url(options.base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST)

    @classmethod
    def options_for_trace(cls, trace: Trace) -> tuple[BackendOptions, str | None]:
        # The backend reads OLLAMA_API_KEY by itself whenever it is given none, so a trace
        # naming another server is refused while that variable is set.
        options, note = super().options_for_trace(trace)
        if note is not None and os.environ.get(cls.key_variable):
            shown = public_url(str(trace.source.get("base_url")))
            raise InputError(f"the trace names the Ollama server {shown}, not your OLLAMA_HOST, "
                             f"and {cls.key_variable} is set: give --base-url to say where to "
                             "continue (the key goes only to your own server)")
        return options, note

    def __init__(self, model: str, base_url: str, api_key: str | None = None,
                 extra_body: dict[str, Any] | None = None, timeout: float | None = None,
                 max_retries: int = 2, transport: httpx.BaseTransport | None = None) -> None:
        self.model = model
        self.root = ollama_url(base_url)
        self.extra_body = dict(extra_body or {})
        self.http = NativeHttp(self.root, api_key, timeout, max_retries, transport,
                               key_hint="OLLAMA_API_KEY")
        self.where = self.http.where

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> OllamaBackend:
        host = options.base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
        given = options.api_key
        if given and given == os.environ.get("OPENAI_API_KEY"):
            given = None  # OpenAI's key, passed to every backend: not Ollama's to see
        key = given or os.environ.get("OLLAMA_API_KEY")
        return cls(rest, host, key, options.extra_body,
                   options.timeout, max_retries=int(options.extra.get("max_retries", 2)),
                   transport=options.extra.get("transport"))

    def source(self) -> dict[str, Any]:
        return {"base_url": public_url(self.root)}

    def close(self) -> None:
        self.http.close()

    # --- requests ---------------------------------------------------------------------

    def _body(self, request: Request) -> dict[str, Any]:
        options: dict[str, Any] = {
            "temperature": request.temperature if request.temperature is not None else 1.0,
            "top_p": request.top_p if request.top_p is not None else 1.0,
            "top_k": request.top_k or 0,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
        }
        if request.seed is not None:
            options["seed"] = request.seed
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        extra = dict(self.extra_body)
        if isinstance(extra.get("options"), dict):
            options.update(extra.pop("options"))
        body: dict[str, Any] = {"model": self.model, "stream": True, "logprobs": True,
                                "top_logprobs": request.alternatives or 0, "options": options}
        body.update(extra)
        body["stream"] = True
        return body

    def _generate_body(self, request: Request, prompt: str) -> dict[str, Any]:
        body = self._body(request)
        body["prompt"] = prompt
        body.setdefault("raw", True)
        return body

    def _chat_body(self, request: Request, messages: list[dict[str, str]]) -> dict[str, Any]:
        body = self._body(request)
        body["messages"] = messages
        return body

    # --- generation -------------------------------------------------------------------

    def inline_thinking(self, request: Request) -> bool:
        # As the importer (formats/ollama.py): a text that opens with a think tag (a model
        # without `think` support, or `think` off) is split at the tags' tokens.
        return True

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        if request.mode == "chat":
            return (yield from self._run(request, trace, "/api/chat",
                                         self._chat_body(request, list(request.messages or []))))
        return (yield from self._run(request, trace, "/api/generate",
                                     self._generate_body(request, request.prompt or "")))

    def continue_text_steps(self, request: Request, trace: Trace, kept: str,
                            forced: str) -> Generator[Step, None, str | None]:
        """Steps after the prompt, `kept` (the parent's text before the fork) and `forced`."""
        if request.mode == "chat":
            messages = [*(request.messages or []),
                        {"role": "assistant", "content": kept + forced}]
            return (yield from self._run(request, trace, "/api/chat",
                                         self._chat_body(request, messages)))
        prompt = (request.prompt or "") + kept + forced
        return (yield from self._run(request, trace, "/api/generate",
                                     self._generate_body(request, prompt)))

    def _run(self, request: Request, trace: Trace, path: str,
             body: dict[str, Any]) -> Generator[Step, None, str | None]:
        fitter = LiveFitter(request.alternatives)
        # A thinking model's thinking: routed apart from the answer, into trace.reasoning.
        router, thinker = PartRouter(), LiveFitter(request.alternatives)
        seen = done = False
        reason: Any = None
        n = 0
        try:
            for line in self.http.lines(path, body, request.alternatives):
                if not line.strip():
                    continue
                doc = parse_json(line, self.where)
                if not isinstance(doc, dict):
                    raise ServerError(f"{self.where} sent a chunk that is not a JSON object")
                if doc.get("error") is not None:
                    raise ServerError(f"{self.where} reported an error part-way: "
                                      f"{self.http.scrub(body_message(doc))}")
                where = f"chunk {n}"
                n += 1
                try:
                    answer, thought, _ = fmt.chunk_text(doc, where)
                    pieces, steps = fmt.pieces_and_steps(doc.get("logprobs"),
                                                         f"{where}.logprobs")
                except FormatError as e:
                    raise ServerError(f"{self.where} sent a chunk tokenprobe cannot read: "
                                      f"{self.http.scrub(str(e))}") from None
                seen = seen or doc.get("logprobs") is not None
                think, said = router.route(pieces, steps, thought, answer)
                thought_steps = self._think(trace, thinker, think.pieces, think.steps,
                                            think.text, request)
                if thought_steps:  # shown as they come by views that ask (TraceStream.events)
                    yield ThinkingSteps(thought_steps)  # type: ignore[misc]
                for step in fitter.add(said.pieces, said.steps, said.text):
                    yield self._finish(step, request)
                if not seen and fitter.chunks_with_text >= NO_LOGPROBS_AFTER:
                    raise no_logprobs(self.where)
                if doc.get("done") is True:
                    done = True
                    reason = doc.get("done_reason")
                    break
        except TokenprobeError:
            # The stream broke: tokens held back for more text (hidden bytes) are received
            # all the same; they go out with the bytes their labels show, then the error.
            yield from self._flush(trace, router, thinker, fitter, request, broken=True)
            raise
        yield from self._flush(trace, router, thinker, fitter, request, broken=False)
        if not done:
            raise ServerError(f"{self.where} ended the stream before finishing its answer "
                              "(the connection was cut)")
        if fitter.server_text and not seen:
            raise no_logprobs(self.where)
        if finish_reason(reason) == "error":
            raise ServerError(finish_error(reason, self.where))
        check_cover(bytes(fitter.emitted), fitter.server_text, self.where)
        return finish_reason(reason)

    def _think(self, trace: Trace, thinker: LiveFitter, pieces: list[Any], steps: list[Step],
               text: str, request: Request) -> list[Step]:
        """The thinking's text and tokens, kept in `trace.reasoning` as they arrive; returns
        the tokens added."""
        if not (text or steps):
            return []
        if trace.reasoning is None:
            trace.reasoning = Reasoning(source="thinking")
        trace.reasoning.text += text
        added = [self._finish(s, request) for s in thinker.add(pieces, steps, text)]
        trace.reasoning.steps += added
        return added

    def _flush(self, trace: Trace, router: PartRouter, thinker: LiveFitter,
               fitter: LiveFitter, request: Request, broken: bool) -> Iterator[Step]:
        """At the end: the tokens the router held go to their part, every fitter empties."""
        think, said = router.flush()
        added = self._think(trace, thinker, think.pieces, think.steps, think.text, request)
        for step in fitter.add(said.pieces, said.steps, said.text) + fitter.finish(broken):
            yield self._finish(step, request)
        if trace.reasoning is not None:
            last = [self._finish(s, request) for s in thinker.finish(broken)]
            trace.reasoning.steps += last
            settle_reasoning(trace.reasoning, trace.steps)
            if added + last:
                yield ThinkingSteps(added + last)  # type: ignore[misc]

    def _finish(self, step: Step, request: Request) -> Step:
        if request.temperature == 0 and step.logprob is not None:
            step.sample_logprob = 0.0  # greedy: the token was taken with certainty
        return step

    # --- what this server cannot do ---------------------------------------------------

    def score(self, text: str, alternatives: int = 10, progress: Progress | None = None) -> Trace:
        raise ModelError(f"{self.where} cannot score a given text: Ollama reports no logprobs "
                         "for a prompt; score with the local engine (omit --model, or a .gguf "
                         "path) or with --model openai:NAME on a server that echoes prompt "
                         "logprobs (vLLM, llama-cpp-python's server)")

    def score_continuation(self, request: Request, answer: str, alternatives: int = 10) -> Trace:
        raise ModelError(f"{self.where} cannot score a fixed answer (Ollama reports no logprobs "
                         "for a prompt); use the local engine or --model openai:NAME on a "
                         "server that echoes prompt logprobs")

