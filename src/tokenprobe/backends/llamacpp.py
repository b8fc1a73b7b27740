"""The native llama.cpp server backend: `/completion` with `n_probs`.

`--model llamacpp:URL` names the server's root (`llamacpp:http://127.0.0.1:8080`; a
trailing `/v1` is dropped, as the native endpoints live beside it). The key, when the
server was started with `--api-key`, is OPENAI_API_KEY, sent as a bearer token.

Why the native endpoint when the server also speaks OpenAI's: `/completion` reports token
ids and each token's own bytes, reports the probabilities after the sampling chain when
asked (`--extra-body '{"post_sampling_probs": true}'`, recorded as logprobs_kind
"processed"; otherwise "raw", the softmax of the logits), and shows the tokens the server
held back (see formats/llamacpp.py).

- completion: POST /completion with `prompt`, `n_predict`, `n_probs`, the sampling
  settings and `stream: true`; the response is read live through formats/llamacpp.Reader,
  the same reader the importer uses, so a live answer and a saved one give the same trace.
  The sampling settings are sent in full (top_k 0, top_p 1, min_p 0, no repetition
  penalty unless asked) so that the server samples from the distribution the request
  names, not from its own defaults; `--extra-body` fields go last and win.
- chat: the messages are rendered by the server's own chat template (POST /apply-template),
  then generated with /completion. A server without /apply-template is named as such.
- `n_probs` is at least 1: with 0 the server drops the chosen token's probability too; the
  alternatives beyond what was asked are cut off afterwards.
- branching: the prompt (or the rendered chat) plus the kept text and the forced text is
  sent as a new prompt (`continue_text_steps`, as for the OpenAI-compatible backend).
- scoring: the server reports no logprobs for a given text (/completion has no prompt
  logprobs, and its OpenAI endpoint refuses `echo`), so `score` says so and names what can.
- vocabulary size: after the first answer the backend asks GET /v1/models once for the
  model's `meta.n_vocab` (a small answer), which bounds the values at other temperatures
  (trace `vocab_size`); an older server, a proxy or any failure leaves it unknown and never
  fails a generation.

It leaves out the OpenAI-compatible endpoints of the same server (backends/openai.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import Any

import httpx

from tokenprobe.backends.base import Backend, BackendOptions, Progress
from tokenprobe.backends.nativehttp import NativeHttp
from tokenprobe.backends.server_errors import (
    NO_LOGPROBS_AFTER,
    ServerError,
    body_message,
    check_cover,
    no_logprobs,
    parse_json,
)
from tokenprobe.backends.urls import check_url, public_url, same_server, with_scheme
from tokenprobe.errors import FormatError, InputError, ModelError, TokenprobeError
from tokenprobe.formats import llamacpp as fmt
from tokenprobe.trace import Request, Step, Trace

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+:\d+(/.*)?$|^\[[0-9A-Fa-f:]+\]:\d+(/.*)?$")


def server_root(url: str) -> str:
    """The server's root URL: scheme added to a bare host:port, a trailing /v1 dropped."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    if url.endswith("/v1"):
        url = url[:-3]
    return url


def names_server(rest: str) -> bool:
    """Whether a `llamacpp:` value names its server (a URL, host:port, or either with
    user:password@); anything else is a model name on the --base-url server."""
    return "://" in rest or "@" in rest or bool(_HOST_PORT.match(rest))


class LlamaCppBackend(Backend):
    name = "llamacpp"
    branches = "text"

    @classmethod
    def check_spec(cls, rest: str, options: BackendOptions) -> None:
        if names_server(rest):
            check_url(with_scheme(rest), "the server's URL")
        super().check_spec(rest, options)

    @classmethod
    def server_url(cls, rest: str, options: BackendOptions) -> str | None:
        # host:port as from_spec reads it
        return with_scheme(rest) if names_server(rest) else options.base_url

    @classmethod
    def public_spec(cls, rest: str) -> str:
        if not names_server(rest):
            return rest
        shown = public_url(with_scheme(rest))
        return shown if "://" in rest else shown.split("://", 1)[1]

    @classmethod
    def same_server(cls, a: str, b: str) -> bool:
        return same_server(a, b, drop_v1=True)  # the native endpoints live beside /v1

    @classmethod
    def made(cls, trace: Trace, rest: str, options: BackendOptions) -> bool:
        # One server, one model: the trace names the server's root.
        url, base = cls.server_url(rest, options), trace.source.get("base_url")
        shown = public_url(url).rstrip("/") if url else None
        return bool(shown and base and server_root(shown) == server_root(str(base)))

    @classmethod
    def missing(cls, trace: Trace) -> tuple[str | None, str, str | None]:
        url = trace.source.get("base_url")
        if not url:
            return super().missing(trace)  # no server named: no base URL either
        shown = public_url(str(url))
        return f"llamacpp:{shown}", f"the llama.cpp server at {shown}", None

    def __init__(self, base_url: str, api_key: str | None = None,
                 extra_body: dict[str, Any] | None = None, timeout: float | None = None,
                 max_retries: int = 2, transport: httpx.BaseTransport | None = None,
                 label: str | None = None) -> None:
        self.root = server_root(base_url)
        self.extra_body = dict(extra_body or {})
        post = self.extra_body.get("post_sampling_probs")
        if post is not None and not isinstance(post, bool):
            raise InputError("post_sampling_probs in --extra-body must be true or false")
        self.logprobs_kind = "processed" if post else "raw"
        self.http = NativeHttp(self.root, api_key, timeout, max_retries, transport,
                               key_hint="OPENAI_API_KEY (the key given to llama-server --api-key)")
        self.where = self.http.where
        self._vocab_asked = False
        # Until the server names its model (in its last chunk), the trace names the server.
        self.model = label or public_url(self.root).split("://", 1)[-1]

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> LlamaCppBackend:
        label = None
        if rest.startswith(("http://", "https://")) or _HOST_PORT.match(rest):
            url = rest
        elif options.base_url:
            url, label = options.base_url, rest  # a model name, with the server from --base-url
        else:
            raise InputError(f"llamacpp:{rest} names no server: give its URL, as in "
                             "--model llamacpp:http://127.0.0.1:8080")
        return cls(url, options.api_key, options.extra_body, options.timeout,
                   max_retries=int(options.extra.get("max_retries", 2)),
                   transport=options.extra.get("transport"), label=label)

    def source(self) -> dict[str, Any]:
        return {"base_url": public_url(self.root), "endpoint": "/completion"}

    def close(self) -> None:
        self.http.close()

    # --- requests ---------------------------------------------------------------------

    def _body(self, request: Request, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": prompt,
            "n_predict": request.max_tokens if request.max_tokens is not None else -1,
            "n_probs": max(request.alternatives or 0, 1),
            "stream": True,
            "temperature": request.temperature if request.temperature is not None else 1.0,
            "top_k": request.top_k or 0,
            "top_p": request.top_p if request.top_p is not None else 1.0,
            "min_p": 0.0,
            "typical_p": 1.0,
            "repeat_penalty": 1.0,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        body.update(self.extra_body)
        body["stream"] = True
        return body

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The messages as the model's prompt, by the server's own chat template."""
        try:
            doc = self.http.post_json("/apply-template", {"messages": messages})
        except ServerError as e:
            if "HTTP 404" in str(e) or "HTTP 405" in str(e):
                raise ModelError(f"{self.where} has no /apply-template endpoint (an older "
                                 "llama.cpp), so it cannot render a chat here; use completion "
                                 "mode, or --model openai:NAME --base-url URL/v1 for chat"
                                 ) from None
            raise
        prompt = doc.get("prompt") if isinstance(doc, dict) else None
        if not isinstance(prompt, str):
            raise ServerError(f"{self.where} answered /apply-template without a prompt")
        return prompt

    def _prompt(self, request: Request) -> str:
        if request.mode == "chat":
            return self.render_chat(list(request.messages or []))
        return request.prompt or ""

    # --- generation -------------------------------------------------------------------

    def inline_thinking(self, request: Request) -> bool:
        # /completion parses no reasoning: as the importer (formats/llamacpp.py), a text
        # that opens with a think tag is split at the tags' tokens.
        return True

    def generate_steps(self, request: Request, trace: Trace) -> Generator[Step, None, str | None]:
        return (yield from self._run(request, trace, self._body(request, self._prompt(request))))

    def continue_text_steps(self, request: Request, trace: Trace, kept: str,
                            forced: str) -> Generator[Step, None, str | None]:
        """Steps after the prompt, `kept` (the parent's text before the fork) and `forced`."""
        prompt = self._prompt(request) + kept + forced
        return (yield from self._run(request, trace, self._body(request, prompt)))

    def _run(self, request: Request, trace: Trace,
             body: dict[str, Any]) -> Generator[Step, None, str | None]:
        reader = fmt.Reader(request.alternatives)
        emitted = bytearray()
        n = 0
        try:
            for line in self.http.lines("/completion", body, request.alternatives):
                doc = self._doc(line)
                if doc is None:
                    continue
                try:
                    steps = reader.feed(doc, f"chunk {n}")
                except FormatError as e:
                    raise ServerError(f"{self.where} sent a chunk tokenprobe cannot read: "
                                      f"{self.http.scrub(str(e))}") from None
                n += 1
                if reader.kind is not None:
                    trace.logprobs_kind = reader.kind  # an older server reports processed
                for step in steps:
                    emitted += self._finish(step, request, trace.logprobs_kind)
                    yield step
                if not reader.items and reader.chunks_with_text >= NO_LOGPROBS_AFTER:
                    raise no_logprobs(self.where)
                if reader.stopped:
                    break
        except TokenprobeError:
            # The stream broke: tokens the server held back (a possible stop word, part of
            # a character) were received all the same; they go out with their own bytes,
            # then the error.
            for step in reader.finish_steps():
                self._finish(step, request, trace.logprobs_kind)
                yield step
            raise
        for step in reader.finish_steps():
            emitted += self._finish(step, request, trace.logprobs_kind)
            yield step
        if not reader.stopped:
            raise ServerError(f"{self.where} ended the stream before finishing its answer "
                              "(the connection was cut)")
        text = "".join(reader.server_text)
        if text and not reader.items:
            raise no_logprobs(self.where)
        check_cover(bytes(emitted), text, self.where)
        if reader.model:
            trace.model = reader.model
        trace.vocab_size = self._ask_vocab_size(reader.model)
        if reader.aligner.unreported:
            trace.source["note"] = (f"{reader.aligner.unreported} token(s) the server did not "
                                    "report (part of a character) have no logprob")
        return reader.finish

    def _ask_vocab_size(self, model: str | None) -> int | None:
        """The model's vocabulary size from /v1/models (`data[].meta.n_vocab`), asked once."""
        if self._vocab_asked:
            return self.vocab_size
        self._vocab_asked = True
        try:
            request = self.http.client.build_request(
                "GET", "/v1/models", timeout=min(self.http.timeout, 5.0))
            response = self.http.client.send(request, stream=True)
            try:
                if (response.status_code != 200 or "json" not in
                        response.headers.get("content-type", "")):
                    return None
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > 1_000_000:  # a list of models is a few kB
                        return None
                doc = json.loads(body)
            finally:
                response.close()
        except (httpx.HTTPError, ValueError):
            return None
        entries = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            return None
        entries = [e for e in entries if isinstance(e, dict)]
        # The stream names the model by its file name (formats/llamacpp.Reader), as here.
        mine = [e for e in entries if isinstance(e.get("id"), str) and model is not None
                and e["id"].replace("\\", "/").rsplit("/", 1)[-1] == model] or (
            entries if len(entries) == 1 else [])
        meta = mine[0].get("meta") if mine else None
        n = meta.get("n_vocab") if isinstance(meta, dict) else None
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            self.vocab_size = n
        return self.vocab_size

    def _doc(self, line: str) -> dict[str, Any] | None:
        """The JSON object of one line of the event stream (None for blank lines, comments)."""
        if line.startswith("data:"):
            data = line[5:].strip()
        elif line.startswith("error:"):  # older servers name errors as their own event
            data = line[6:].strip()
            doc = parse_json(data, self.where)
            raise ServerError(f"{self.where} reported an error part-way: "
                              f"{self.http.scrub(body_message(doc))}")
        elif line.startswith("{"):
            data = line  # a whole JSON body (a proxy that does not stream)
        elif not line.strip() or line.startswith((":", "event:", "id:", "retry:")):
            return None  # the other lines an event stream may hold (":" is a keep-alive)
        else:
            raise ServerError(f"{self.where} sent a body that is not JSON (it begins "
                              f"{' '.join(line.split())[:80]!r}); the answer may have been "
                              "cut off")
        if not data or data == "[DONE]":
            return None
        doc = parse_json(data, self.where)
        if not isinstance(doc, dict):
            raise ServerError(f"{self.where} sent a chunk that is not a JSON object")
        if doc.get("error") is not None:
            raise ServerError(f"{self.where} reported an error part-way: "
                              f"{self.http.scrub(body_message(doc))}")
        return doc

    def _finish(self, step: Step, request: Request, kind: str) -> bytes:
        # Greedy picks with certainty; a processed probability (post_sampling_probs, or an
        # older server) is the one the token was drawn with. Otherwise it is not known.
        if step.logprob is not None:
            if request.temperature == 0:
                step.sample_logprob = 0.0
            elif kind == "processed":
                step.sample_logprob = step.logprob
        return step.data

    # --- what this server cannot do ---------------------------------------------------

    def score(self, text: str, alternatives: int = 10, progress: Progress | None = None) -> Trace:
        raise ModelError(f"{self.where} cannot score a given text: llama.cpp's /completion "
                         "reports no logprobs for the prompt (and its OpenAI endpoint refuses "
                         "echo); score with the local engine (omit --model, or a .gguf path) "
                         "or with --model openai:NAME on a server that echoes prompt logprobs "
                         "(vLLM, llama-cpp-python's server)")

    def score_continuation(self, request: Request, answer: str, alternatives: int = 10) -> Trace:
        raise ModelError(f"{self.where} cannot score a fixed answer (no prompt logprobs on "
                         "llama.cpp's /completion); use the local engine or --model openai:NAME "
                         "on a server that echoes prompt logprobs")

