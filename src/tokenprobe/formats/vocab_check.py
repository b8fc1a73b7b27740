"""A trace's vocabulary size V, checked against what the trace holds.

V bounds the re-normalisation of top-N lists at another temperature (at most V − N tokens
are unlisted), so a V the trace contradicts would make wrong bounds look tight: every token
id must be below it and no step may list more different tokens. A saved trace's
`vocab_size` and one given by the user (`tokenprobe import --vocab-size`,
`tokenprobe.load(path, vocab_size=N)`) pass the same check.

It leaves out where V comes from (the backends, the trace JSON) and what it bounds
(renormalise.py).
"""

from __future__ import annotations

from tokenprobe.errors import FormatError, InputError
from tokenprobe.trace import Trace


def check_vocab_size(trace: Trace, v: int, where: str) -> None:
    """Raise a one-line FormatError when the trace holds what V = v tokens cannot."""
    for key, steps in (("steps", trace.steps), ("prompt_steps", trace.prompt_steps)):
        for k, s in enumerate(steps):
            if s.id is not None and s.id >= v:
                raise FormatError(f"{where}: vocab_size is {v}, but {key}[{k}] has token id "
                                  f"{s.id}")
            tokens = {s.id if s.id is not None else s.data}
            for j, c in enumerate(s.top):
                if c.id is not None and c.id >= v:
                    raise FormatError(f"{where}: vocab_size is {v}, but {key}[{k}].top[{j}] "
                                      f"has token id {c.id}")
                tokens.add(c.id if c.id is not None else c.data)
            if len(tokens) > v:
                raise FormatError(f"{where}: vocab_size is {v}, but {key}[{k}] lists "
                                  f"{len(tokens)} different tokens")


def set_vocab_size(traces: list[Trace], v: int, where: str) -> None:
    """Give every trace V = v (what the user knows of the model), after checking it."""
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise InputError(f"the vocabulary size must be a positive whole number (not {v!r})")
    for trace in traces:
        check_vocab_size(trace, v, where)
    for trace in traces:
        trace.vocab_size = v
