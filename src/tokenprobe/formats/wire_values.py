"""Reading a server's values for the importers: logprobs and probabilities (sentinels become
None, never a number), required and optional fields (a one-line FormatError naming what is
wrong), a response's documents and choices, and finish reasons in the trace's words.

It leaves out a token's bytes and steps (wire_tokens.py) and finishing a trace (trace_finish.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from tokenprobe.errors import FormatError
from tokenprobe.trace import clean_logprob


def logprob(value: Any) -> float | None:
    """A reported logprob as nats, or None when it means "not reported" (see clean_logprob)."""
    # Fast path for the common case: a plain negative float above the sentinel floor.
    if type(value) is float and -9999.0 < value <= 0.0:
        return value
    return clean_logprob(value)


def openai_logprob(value: Any) -> float | None:
    """A logprob from an OpenAI-shaped response (chat, completions, Responses, vLLM).

    Besides the general sentinels, exactly -100.0 reads as "not reported" here. OpenAI
    documents only -9999.0, but its chat models have been seen to return many logprobs of
    exactly -100 (github.com/baoguangsheng/glimpse/issues/2): a clamp, whose true value is
    somewhere below. A computed float32 logprob that lands on -100.0 exactly is practically
    impossible (vLLM clamps -inf to -9999.0, not -100), so nothing real is lost.
    """
    if value == -100.0 and not isinstance(value, bool):
        return None
    return logprob(value)


def from_prob(value: Any) -> float | None:
    """A probability in [0, 1] as a logprob; 0, negative, > 1 or non-numbers give None.

    A probability of exactly 0 is what a server writes for a token its sampler removed (or
    one below float precision): nothing is known about its raw likelihood, so None.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    p = float(value)
    if not (0.0 < p <= 1.0 + 1e-6):  # also false for NaN
        return None
    return logprob(math.log(min(p, 1.0)))


def opt_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def documents(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) for a whole response, or for each chunk of a list of them."""
    if not isinstance(doc, list):
        yield "response", need_dict(doc, "response")
        return
    for n, d in enumerate(doc):
        yield f"chunk {n}", need_dict(d, f"chunk {n}")


def choices(d: dict[str, Any], where: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(index, where, choice) for each of an OpenAI-shaped document's choices; a choice
    without `index` is numbered by its place."""
    for k, ch in enumerate(opt_list(d.get("choices"), f"{where}.choices")):
        ch = need_dict(ch, f"{where}.choices[{k}]")
        index = ch.get("index", k)
        if isinstance(index, bool) or not isinstance(index, int):
            raise FormatError(f"{where}.choices[{k}].index must be an integer")
        yield index, f"{where}.choices[{k}]", ch


def need_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{where} must be a JSON object, not {_kind(value)}")
    return value


def need_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise FormatError(f"{where} must be a JSON array, not {_kind(value)}")
    return value


def opt_list(value: Any, where: str) -> list[Any]:
    """A list, or [] for null / missing."""
    return [] if value is None else need_list(value, where)


def need_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{where} must be a string, not {_kind(value)}")
    return value


def opt_str(value: Any, where: str) -> str | None:
    return None if value is None else need_str(value, where)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


def clean_text(text: str) -> str:
    """`text` with lone surrogates (from JSON escapes like \\ud842 alone) as U+FFFD."""
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_FINISH = {
    "stop": "stop", "eos": "stop", "word": "stop", "end_turn": "stop", "tool_calls": "stop",
    "function_call": "stop", "stop_sequence": "stop", "completed": "stop",
    "length": "length", "limit": "length", "max_tokens": "length", "max_output_tokens": "length",
    "incomplete": "length", "content_filter": "error", "safety": "error", "error": "error",
    "abort": "error", "recitation": "error", "blocklist": "error", "prohibited_content": "error",
    "spii": "error", "language": "error", "image_safety": "error",
    "malformed_function_call": "error", "unexpected_tool_call": "error",
}


_FILTERS = frozenset({"content_filter", "safety", "recitation", "blocklist",
                      "prohibited_content", "spii", "image_safety", "language"})


def finish_reason(value: Any) -> str | None:
    """A server's finish reason in the trace's words: stop, length, error, or None."""
    if not isinstance(value, str) or not value:
        return None
    return _FINISH.get(value.lower(), "stop" if value.lower().startswith("stop") else None)


def finish_error(value: Any, who: str = "the server") -> str:
    """Why an answer whose finish reason reads as "error" is incomplete, in one line."""
    name = clean_text(str(value))[:60]
    low = name.lower()
    if low in _FILTERS:
        return f"{who} stopped the answer with its content filter (finish reason {name})"
    if low == "abort":
        return f"{who} aborted the answer (finish reason {name})"
    return f"{who} stopped the answer with an error (finish reason {name})"
