"""The pages' number formats, written in Python the way JavaScript rounds.

`Number.prototype.toFixed` and `toPrecision` round the exact binary value half away from
zero, where Python's format() rounds half to even; Decimal on the exact value with
ROUND_HALF_UP is what JavaScript does, so a test can expect the very text a page shows.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

MINUS = "\u2212"


def to_fixed(x: float, d: int) -> str:
    return str(Decimal(x).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP))


def to_precision(x: float, digits: int) -> str:
    """For 1e-6 <= x < 10**digits, as the pages use it."""
    exp = math.floor(math.log10(abs(x)))
    q = Decimal(x).quantize(Decimal(1).scaleb(exp - digits + 1), rounding=ROUND_HALF_UP)
    if q.adjusted() != exp:  # rounding carried into the next power of ten
        q = q.quantize(Decimal(1).scaleb(exp - digits + 2))
    return f"{q:f}"


def num(x: float | None, d: int) -> str:
    """viewer.js fmtNum."""
    if x is None or math.isnan(x):
        return "not reported"
    s = to_fixed(x, d)
    return MINUS + s[1:] if s.startswith("-") else s


def pct(p: float | None) -> str:
    """viewer.js fmtPct."""
    if p is None or math.isnan(p):
        return "not reported"
    v = 100 * p
    if v >= 0.1 or v == 0:
        return to_fixed(v, 1) + "%"
    if v >= 1e-4:
        return to_precision(v, 2) + "%"
    return "<0.0001%"


def delta(d: float | None) -> str:
    """ops.js fmtDelta: sign, three decimals, no sign on 0.000."""
    if d is None or math.isnan(d):
        return "not reported"
    s = to_fixed(abs(d), 3)
    if s == "0.000":
        return s
    return ("+" if d > 0 else MINUS) + s


def stat(st: tuple[float, float] | list[float] | None, f: object, samples: int) -> str:
    """A metric as mean, or mean ± sd over several samples."""
    if st is None:
        return "not reported"
    return f(st[0]) + (" \u00b1 " + f(st[1]) if samples > 1 else "")  # type: ignore[operator]
