"""The trace: one generation or scoring, token by token, in the schema `tokenprobe/trace@1`.

Backends and importers produce a `Trace`; metrics, views and stores read it. This module
holds the request and the trace (their steps are step.py's), their exact JSON form
(`to_dict` / `from_dict`), and `save` / `load` of trace JSON files. A round trip through
JSON loses nothing: bytes, `null` logprobs and optional fields come back as they were.

It leaves out reading other tools' formats (formats/) and any arithmetic over the numbers
(metrics.py, distribution.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenprobe.errors import FormatError, SchemaVersionError

# The steps are step.py's; their names are offered here too, where callers find them.
from tokenprobe.step import (  # noqa: F401
    SENTINEL_FLOOR,
    Candidate,
    Step,
    _opt_float,
    _opt_int,
    clean_logprob,
    is_chosen,
)
from tokenprobe.textbytes import TextAssembler

if TYPE_CHECKING:
    from tokenprobe.distribution import TemperatureView
    from tokenprobe.internals import Internals
    from tokenprobe.reasoning import Reasoning

SCHEMA = "tokenprobe/trace@1"
SCHEMA_PREFIX = "tokenprobe/trace@"
SCHEMA_VERSION = 1

@dataclass
class Request:
    """What was asked: the prompt or messages and the sampling settings."""

    mode: str = "completion"  # completion | chat | score
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    top_k: int | None = 0
    seed: int | None = None
    max_tokens: int | None = None
    alternatives: int | None = 10
    stop: list[str] = field(default_factory=list)
    # What to capture inside the model (internals.KINDS: "attention", "lens"); JSON only
    # when asked for.
    internals: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "mode": self.mode,
            "prompt": self.prompt,
            "messages": self.messages,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "alternatives": self.alternatives,
            "stop": list(self.stop),
        }
        if self.internals:
            d["internals"] = list(self.internals)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Request:
        return cls(
            mode=str(d.get("mode") or "completion"),
            prompt=d.get("prompt"),
            messages=d.get("messages"),
            temperature=_opt_float(d.get("temperature")),
            top_p=_opt_float(d.get("top_p")),
            top_k=_opt_int(d.get("top_k")),
            seed=_opt_int(d.get("seed")),
            max_tokens=_opt_int(d.get("max_tokens")),
            alternatives=_opt_int(d.get("alternatives")),
            stop=list(d.get("stop") or []),
            internals=[str(k) for k in d.get("internals") or []],
        )


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Trace:
    """A whole generation or scoring: request, per-token steps, text and outcome."""

    backend: str
    model: str
    request: Request = field(default_factory=Request)
    steps: list[Step] = field(default_factory=list)
    prompt_steps: list[Step] = field(default_factory=list)
    text: str = ""
    logprobs_kind: str = "raw"  # raw | processed | unknown | logits
    source: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None  # stop | length | error | None
    complete: bool = True
    error: str | None = None
    tail_temperatures: list[float] | None = None
    parent: dict[str, Any] | None = None  # a branch: {"id", "step", "token"} of its fork
    vocab_size: int | None = None  # the model's vocabulary size V, where known
    # A reasoning model's thinking, apart from the answer (reasoning.py); `steps` and
    # `text` stay the answer's.
    reasoning: Reasoning | None = None
    # Attention and the logit lens, where asked for and the backend exposes them
    # (internals.py); absent otherwise.
    internals: Internals | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=_now)
    schema: str = SCHEMA

    def __repr__(self) -> str:
        # Short: what it is and how it ended; the dataclass's own repr dumps every step.
        scored = self.request.mode == "score"
        steps = self.prompt_steps if scored else self.steps
        text = (self.request.prompt or "") if scored else self.text
        shown = repr(text[:24] + "…" if len(text) > 24 else text)
        state = "complete" if self.complete else "incomplete" + (
            f" ({self.error})" if self.error else "")
        fork = f" branch of {self.parent['id'][:8]} at {self.parent.get('step')}" \
            if self.parent and self.parent.get("id") else ""
        return (f"<Trace {self.backend} {self.model} {self.request.mode} {len(steps)} "
                f"{'prompt steps' if scored else 'steps'} {shown}{fork} {state}>")

    def rebuild_text(self) -> None:
        """Set `text` and the steps' offsets from the steps' bytes (the exact rule)."""
        assembler = TextAssembler()
        for step in self.steps:
            step.offset = assembler.add(step.data)
        self.text = assembler.finish()

    @property
    def data(self) -> bytes:
        """The generated text's bytes: the concatenation of the steps' bytes."""
        return b"".join(s.data for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": self.schema,
            "id": self.id,
            "created": self.created,
            "backend": self.backend,
            "model": self.model,
            "source": self.source,
            "request": self.request.to_dict(),
            "logprobs_kind": self.logprobs_kind,
            "prompt_steps": [s.to_dict() for s in self.prompt_steps],
            "steps": [s.to_dict() for s in self.steps],
            "text": self.text,
            "finish_reason": self.finish_reason,
            "complete": self.complete,
            "error": self.error,
        }
        if self.tail_temperatures is not None:
            d["tail_temperatures"] = self.tail_temperatures
        if self.parent is not None:
            d["parent"] = self.parent
        if self.vocab_size is not None:
            d["vocab_size"] = self.vocab_size
        if self.reasoning is not None:
            d["reasoning"] = self.reasoning.to_dict()
        if self.internals is not None:
            d["internals"] = self.internals.to_dict()
        return d

    def to_json(self, indent: int | None = None) -> str:
        # allow_nan=False: a NaN that slipped through must fail here, not in a reader.
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        if not isinstance(d, dict):
            raise FormatError("a trace must be a JSON object")
        schema = d.get("schema")
        if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
            raise FormatError(f"not a tokenprobe trace (schema is {schema!r})")
        version = schema[len(SCHEMA_PREFIX) :]
        if not version.isdigit() or int(version) > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"this trace uses schema {schema}, newer than this tokenprobe reads "
                f"({SCHEMA}); upgrade tokenprobe"
            )
        try:
            tail_t = d.get("tail_temperatures")
            return cls(
                schema=SCHEMA,
                id=str(d.get("id") or uuid.uuid4().hex),
                created=str(d.get("created") or _now()),
                backend=str(d.get("backend") or "import"),
                model=str(d.get("model") or ""),
                source=dict(d.get("source") or {}),
                request=Request.from_dict(d.get("request") or {}),
                logprobs_kind=str(d.get("logprobs_kind") or "unknown"),
                prompt_steps=[Step.from_dict(s) for s in d.get("prompt_steps") or []],
                steps=[Step.from_dict(s) for s in d.get("steps") or []],
                text=str(d.get("text") or ""),
                finish_reason=d.get("finish_reason"),
                complete=bool(d.get("complete", True)),
                error=d.get("error"),
                tail_temperatures=[float(t) for t in tail_t] if tail_t is not None else None,
                parent=dict(d["parent"]) if isinstance(d.get("parent"), dict) else None,
                vocab_size=_opt_vocab(d.get("vocab_size")),
                reasoning=_reasoning(d.get("reasoning")),
                internals=_internals(d.get("internals")),
            )
        except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as e:
            raise FormatError(f"malformed trace: {e}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the trace as JSON, atomically (a crash never leaves half a file)."""
        write_atomic(Path(path), self.to_json(indent=None) + "\n")

    def to_html(self, **kwargs: Any) -> str:
        """The trace in the self-contained interactive viewer (views/html.py)."""
        from tokenprobe.views.html import render_html

        return render_html([self], **kwargs)

    def _repr_html_(self) -> str:
        from tokenprobe.views.html import render_notebook

        return render_notebook(self)

    def at_temperature(self, temperature: float) -> list[TemperatureView]:
        """Each step's listed candidates re-normalised at `temperature`, one view per step.

        A point value per candidate where the trace carries the exact tail summary (the
        local engine); otherwise a lower and an upper bound, narrower where `vocab_size` is
        known (renormalise.step_at_temperature). The values re-normalise the reported
        logprobs: for a `processed` trace those are already after the server's samplers.
        """
        from tokenprobe.distribution import step_at_temperature

        return [step_at_temperature(s, temperature, self.tail_temperatures, self.vocab_size)
                for s in self.steps]

    def branch(self, step: int, token: str | None = None, **kwargs: Any) -> Trace:
        """Continue this generation from `step` with `token` forced there (ops/branch.py)."""
        from tokenprobe.ops.branch import branch

        return branch(self, step, token, **kwargs)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def traces_to_jsonl(traces: Iterable[Trace]) -> str:
    return "".join(t.to_json() + "\n" for t in traces)


def _reasoning(x: Any) -> Reasoning | None:
    from tokenprobe.reasoning import Reasoning

    return Reasoning.from_dict(x)


def _internals(x: Any) -> Internals | None:
    from tokenprobe.internals import Internals

    return Internals.from_dict(x)


def _opt_vocab(x: Any) -> int | None:
    v = _opt_int(x)
    return v if v is not None and v > 0 else None
