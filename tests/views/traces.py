"""Hand-made traces for the viewer tests: small, exact, and each aimed at one behaviour.

Numbers are rounded to 4 decimals when made, as the page encoding rounds them, so the page
and `Trace.at_temperature` start from the very same values.
"""

from __future__ import annotations

import math
from typing import Any

from tokenprobe.distribution import TAIL_TEMPERATURES
from tokenprobe.trace import Candidate, Request, Step, Trace

EVIL = ['<img src=x onerror=alert(1)>', "</script>", "<!--", '"']


def _r(x: float) -> float:
    return round(x, 4)


def _dist(chosen: bytes, alts: list[tuple[str | bytes, float]], n_tail: int = 40,
          tail_scale: float = 6.0, top_n: int = 5, tails: bool = True,
          exact: bool = True) -> Step:
    """A step drawn from a made-up vocabulary: `alts` (label or bytes, logit) plus a tail of
    `n_tail` unlikely tokens. The top `top_n` are listed; the tail sums are computed from
    the whole made-up vocabulary, as the local engine does from the logits."""
    vocab = [(a.encode() if isinstance(a, str) else a, x) for a, x in alts]
    vocab += [(f"~{k}".encode(), -tail_scale - 0.37 * k) for k in range(n_tail)]
    lse = math.log(sum(math.exp(x) for _, x in vocab))
    lps = [(b, x - lse) for b, x in vocab]
    order = sorted(range(len(lps)), key=lambda i: -lps[i][1])
    listed = order[:top_n]
    top = [Candidate.from_bytes(lps[i][0], _r(lps[i][1]), id=i) for i in listed]
    chosen_i = next(i for i, (b, _) in enumerate(lps) if b == chosen)
    entropy = -sum(math.exp(lp) * lp for _, lp in lps)
    if not exact:
        entropy = -sum(math.exp(c.logprob) * c.logprob for c in top)  # type: ignore[operator]
    tail = None
    if tails:
        rest = [lp for i, (_, lp) in enumerate(lps) if i not in listed]
        tail = [_r(math.log(sum(math.exp(lp / t) for lp in rest))) for t in TAIL_TEMPERATURES]
    return Step(token=chosen.decode("utf-8", "backslashreplace"), bytes=chosen, id=chosen_i,
                logprob=_r(lps[chosen_i][1]), top=top, entropy=_r(entropy), entropy_exact=exact,
                tail_logsumexp=tail)


def local_trace() -> Trace:
    """Like the local engine's: exact entropies, tail sums, a byte-fallback glyph (曇),
    a whitespace-only token, and one chosen token that is not in the listed top-5."""
    s = [
        _dist(b" Paris", [(" Paris", 3.0), (" the", 1.6), (" a", 1.1), (" located", 0.4),
                          (" known", 0.1), (" one", -0.5)]),
        _dist(b",", [(",", 2.2), (".", 1.9), (" and", 0.3), (" which", -0.2), ("!", -0.9)]),
        _dist(b" ", [(" ", 0.5), (" the", 0.45), (" a", 0.2), (" its", -0.1), (" in", -0.3)]),
        _dist(b"\xe6\x9b", [(b"\xe6\x9b", 1.0), (b"\xe6\x98", 0.7), (" cloudy", 0.2),
                            (" sunny", 0.1), (" rain", -1.0)]),
        _dist(b"\x87", [(b"\x87", 4.0), (b"\x9c", 1.0), (b"\xb4", 0.3), (b"\x89", -0.4),
                        (b"\x8f", -0.6)]),
        _dist(b" city", [(" capital", 1.2), (" heart", 1.0), (" home", 0.9), (" seat", 0.85),
                         (" center", 0.8), (" city", 0.7)]),
        _dist(b"\n", [("\n", 2.5), (" of", 2.0), (".", 1.0), ("!", 0.2), (" and", -0.2)]),
        _dist(b" light", [(" light", 2.0), (" love", 1.7), (" lights", 0.5), (" art", 0.0),
                          (" music", -0.3)]),
    ]
    t = Trace(backend="llama", model="gemma-3-270m-q4_k_m",
              request=Request(prompt="The capital of France is", temperature=0.8, seed=1,
                              max_tokens=8, alternatives=5),
              steps=s, finish_reason="length", tail_temperatures=list(TAIL_TEMPERATURES),
              created="2026-11-22T13:00:00Z")
    t.rebuild_text()
    return t


def server_trace() -> Trace:
    """Like an OpenAI-compatible server's: no tail sums, entropy a lower bound over the top."""
    s = [
        _dist(b" Hello", [(" Hello", 2.0), (" Hi", 1.5), (" Hey", 0.5), (" Good", 0.2),
                          (" Dear", -0.5)], tails=False, exact=False),
        _dist(b" world", [(" there", 1.8), (" world", 1.7), (" friend", 0.6), (" all", 0.3),
                          (" everyone", 0.1)], tails=False, exact=False),
        _dist(b"!", [("!", 3.0), (".", 2.0), (",", 1.0), ("?", 0.0), (" :)", -1.0)],
              tails=False, exact=False),
    ]
    t = Trace(backend="openai", model="some-server-model",
              request=Request(prompt="Say hello", temperature=1.0, alternatives=5),
              steps=s, finish_reason="stop", logprobs_kind="raw", created="2026-11-22T13:00:00Z")
    t.rebuild_text()
    return t


def evil_trace() -> Trace:
    """Model text that looks like markup, in every place the page shows text."""
    steps = []
    for i, tok in enumerate(EVIL):
        others = [e for e in EVIL if e != tok]
        steps.append(Step(token=tok, id=i, logprob=-0.3,
                          top=[Candidate(tok, -0.3, i)] + [Candidate(o, -2.0 - k, 10 + k)
                                                           for k, o in enumerate(others)],
                          entropy=1.0, entropy_exact=True))
    t = Trace(backend="import", model='<b id="injected-model">m</b>',
              request=Request(prompt='<img src=x onerror=alert("prompt")>'),
              steps=steps, finish_reason="stop", created="2026-11-22T13:00:00Z")
    t.rebuild_text()
    return t


def missing_trace() -> Trace:
    """Null logprobs, an empty top list, no entropy anywhere."""
    steps = [
        Step(token="Once", logprob=None, top=[], entropy=None),
        Step(token=" upon", logprob=-0.7, top=[], entropy=None),
        Step(token=" a", logprob=-0.2, top=[Candidate(" a", None), Candidate(" the", None)],
             entropy=None),
    ]
    t = Trace(backend="import", model="partial", request=Request(prompt=None),
              steps=steps, finish_reason=None, complete=False, error="connection reset",
              logprobs_kind="unknown", created="2026-11-22T13:00:00Z")
    t.rebuild_text()
    return t


def scored_trace() -> Trace:
    """A scored text: the tokens are prompt steps, the first without a logprob."""
    words = ["The", " cat", " sat", " on", " the", " mat", "."]
    steps = [Step(token=words[0], logprob=None, top=[], entropy=None)]
    for i, w in enumerate(words[1:]):
        steps.append(_dist(w.encode(), [(w, 1.5 - 0.4 * i), (" dog", 0.9), (" big", 0.2),
                                        (" red", 0.0), (" old", -0.3)]))
    t = Trace(backend="llama", model="gemma-3-270m-q4_k_m",
              request=Request(mode="score", prompt="".join(words)), prompt_steps=steps,
              tail_temperatures=list(TAIL_TEMPERATURES), created="2026-11-22T13:00:00Z")
    return t


def newer_trace() -> Trace:
    t = local_trace()
    t.schema = "tokenprobe/trace@2"
    return t


def split_differently(c: Any, j: int) -> Any:
    """`c` (a comparison on a fixed answer) with variant j's answer split as another
    tokenizer would: its first two tokens are one token there (the same bytes, with the
    two logprobs' sum, the probability of both). The same text, other tokens."""
    from tokenprobe.ops.compare import Comparison, Variant

    t = Trace.from_dict(c.variants[j].traces[0].to_dict())
    a, b = t.steps[0], t.steps[1]
    lp = None if a.logprob is None or b.logprob is None else a.logprob + b.logprob
    merged = Step(a.token + b.token, lp, None, bytes=a.data + b.data, forced=True,
                  top=[Candidate(a.token + b.token, lp, None, bytes=a.data + b.data)])
    t.steps = [merged, *t.steps[2:]]
    t.model = "another-tokenizer"
    t.rebuild_text()
    variants = [Variant(v.label, dict(v.settings),
                        [t] if i == j else [Trace.from_dict(x.to_dict()) for x in v.traces])
                for i, v in enumerate(c.variants)]
    return Comparison(variants, answer=c.answer, samples=c.samples)
