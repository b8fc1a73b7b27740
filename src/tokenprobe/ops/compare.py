"""Compare: the same request under variants (prompt, system prompt, temperature, model).

Two ways, and the second is the rigorous one:

- generated: each variant generates `samples` times (seeds seed, seed+1, ...), and the
  metrics are reported per variant as mean ± spread over the samples, so that sampling
  noise is visible next to the difference between variants;
- on a fixed answer (`answer=`): each variant scores the same answer by teacher forcing,
  and the comparison is of their probabilities token by token (`token_deltas`). Variants
  of one model split the answer into the same tokens; models with other tokenizers may
  not, and then token k of one is not token k of the other: their tokens are never set
  side by side (`same_tokens`), only their totals compare.

Variants are the product of the values given for each dimension; a comparison needs at
least two. `progress(done, total)`, when given, is called after each run (the web app
shows it, and stops a comparison by raising from it); `get_model`, when given, turns each
`models` value into a backend (the web app's models each carry their own server and key).
A reasoning model's thinking is never in the figures: they are over the answer (`steps`);
`Variant.thinking_note` gives the thinking's own figures beside them (ops/parts.py).
It leaves out display (views/).
"""

from __future__ import annotations

import itertools
import math
import statistics
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.api import build_request
from tokenprobe.backends import Backend, BackendOptions, get_backend
from tokenprobe.errors import InputError
from tokenprobe.metrics import summarize
from tokenprobe.ops.parts import PART, thinking_note
from tokenprobe.trace import Trace, _now

# Summary fields reported per variant (metrics.Summary names; the page uses them as keys).
METRICS = ("tokens", "total_logprob", "mean_logprob", "geometric_mean_prob",
           "arithmetic_mean_prob", "perplexity", "mean_entropy", "top1_share")


@dataclass
class Variant:
    label: str
    settings: dict[str, Any]  # prompt, system, temperature, model
    traces: list[Trace]

    def stats(self) -> dict[str, tuple[float, float] | None]:
        """Each metric as (mean, standard deviation over samples); None if not reported."""
        out: dict[str, tuple[float, float] | None] = {}
        sums = [summarize(t) for t in self.traces]
        for name in METRICS:
            vals = [getattr(s, name) for s in sums]
            vals = [float(v) for v in vals if v is not None]
            if not vals:
                out[name] = None
            else:
                out[name] = (statistics.fmean(vals),
                             statistics.stdev(vals) if len(vals) > 1 else 0.0)
        return out

    def thinking_note(self) -> str | None:
        """"answer only (the thinking: …)" when a sample has a thinking, else None."""
        return thinking_note(self.traces)


@dataclass
class Comparison:
    variants: list[Variant]
    answer: str | None = None
    samples: int = 1
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=_now)

    def same_tokens(self, i: int, j: int) -> bool:
        """Whether variants i and j split the answer into the same tokens: the same bytes,
        token by token (only then is token k of one the same piece of text as token k of
        the other)."""
        a, b = self.variants[i].traces[0].steps, self.variants[j].traces[0].steps
        return len(a) == len(b) and all(x.data == y.data for x, y in zip(a, b))

    def token_groups(self) -> list[int]:
        """Per variant, the first variant with the same tokens (itself if none before it):
        variants of one group can be compared token by token."""
        groups: list[int] = []
        for i in range(len(self.variants)):
            groups.append(next(j for j in range(i + 1) if j == i or self.same_tokens(i, j)))
        return groups

    def token_deltas(self, base: int = 0) -> list[list[float | None] | None]:
        """On a fixed answer: per variant, per token, its logprob minus the base variant's
        (None where either was not reported); None for a whole variant whose tokens are
        not the base variant's (`same_tokens`)."""
        if self.answer is None:
            raise InputError("token differences need a fixed answer (--answer)")
        ref = self.variants[base].traces[0].steps
        out: list[list[float | None] | None] = []
        for i, v in enumerate(self.variants):
            if not self.same_tokens(i, base):
                out.append(None)
                continue
            out.append([
                None if a.logprob is None or b.logprob is None else a.logprob - b.logprob
                for a, b in zip(v.traces[0].steps, ref)
            ])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "tokenprobe/comparison@1", "id": self.id, "created": self.created,
            "answer": self.answer, "samples": self.samples, "part": PART,
            "variants": [{"label": v.label, "settings": v.settings,
                          "traces": [t.to_dict() for t in v.traces]} for v in self.variants],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        return cls(
            variants=[Variant(v["label"], v["settings"],
                              [Trace.from_dict(t) for t in v["traces"]])
                      for v in d["variants"]],
            answer=d.get("answer"), samples=int(d.get("samples", 1)),
            id=d["id"], created=d["created"],
        )


def _label(settings: dict[str, Any], varying: list[str]) -> str:
    parts = []
    for k in varying:
        v = settings[k]
        if k == "temperature":
            parts.append(f"T={v:g}")
        elif k == "model":
            parts.append(f"model={v or 'embedded'}")
        else:
            text = "(none)" if v is None else str(v)
            parts.append(f"{k}={text[:40] + '…' if len(text) > 40 else text}")
    return ", ".join(parts)


def compare(
    prompts: list[str],
    systems: list[str | None] | None = None,
    temperatures: list[float] | None = None,
    models: list[str | None] | None = None,
    samples: int = 1,
    seed: int = 0,
    answer: str | None = None,
    chat: bool = False,
    max_tokens: int = 64,
    top_p: float = 1.0,
    top_k: int = 0,
    alternatives: int = 10,
    backend_options: BackendOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    get_model: Callable[[str | None], Backend] | None = None,
    stop: Sequence[str] | None = None,
) -> Comparison:
    dims: dict[str, list[Any]] = {
        "prompt": prompts or [],
        "system": systems or [None],
        "temperature": temperatures or [1.0],
        "model": models or [None],
    }
    if not dims["prompt"]:
        raise InputError("give at least one --prompt")
    if any(s is not None for s in dims["system"]) and not chat:
        chat = True  # a system prompt only exists in chat mode
    if samples < 1:
        raise InputError(f"--samples must be at least 1 (got {samples})")
    if answer is not None and not answer:
        raise InputError("--answer is empty")
    if answer is not None and stop:
        raise InputError("--stop ends a generated answer; a fixed --answer is scored whole")
    combos = [dict(zip(dims, values)) for values in itertools.product(*dims.values())]
    if len(combos) < 2:
        raise InputError("a comparison needs at least two variants: give two or more "
                         "--prompt, --system, --temperature or --model values")
    varying = [k for k, vals in dims.items() if len(vals) > 1]
    variants: list[Variant] = []
    runs = 1 if answer is not None else samples
    done = 0
    for settings in combos:
        if get_model is not None:
            backend = get_model(settings["model"])
        else:
            backend = get_backend(settings["model"], backend_options)
        traces: list[Trace] = []
        for k in range(runs):
            request = build_request(
                settings["prompt"], chat=chat, system=settings["system"],
                max_tokens=max_tokens, temperature=settings["temperature"], top_p=top_p,
                top_k=top_k, seed=seed + k, alternatives=alternatives, stop=stop,
            )
            if answer is not None:
                traces.append(backend.score_continuation(request, answer, alternatives))
            else:
                traces.append(backend.stream(request).run())
            done += 1
            if progress is not None:
                progress(done, len(combos) * runs)
        variants.append(Variant(_label(settings, varying), settings, traces))
    return Comparison(variants, answer=answer, samples=1 if answer is not None else samples)


def fmt_stat(stat: tuple[float, float] | None, spec: str = ".3f", samples: int = 1) -> str:
    if stat is None:
        return "not reported"
    mean, sd = stat
    if samples > 1 and not math.isnan(sd):
        return f"{mean:{spec}} ± {sd:{spec}}"
    return f"{mean:{spec}}"
