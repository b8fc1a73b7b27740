"""The importers on random and damaged input: a list of traces or a FormatError, nothing else.

Every format module's `parse` gets random JSON values and mutations of every fixture (a
value replaced, a key dropped, a list cut, a string or number changed); so does detection.
Every trace that comes back must serialise with `to_json()` (no NaN or Infinity, no stray
types) into valid UTF-8, and read back the same.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenprobe.errors import FormatError
from tokenprobe.formats import modules, parse_document, read_documents
from tokenprobe.trace import Trace

FIXTURES = Path(__file__).parent.parent / "fixtures"
FOLDERS = ["openai", "wild", "vllm", "sglang", "gemini", "llama-cpp-python", "trace",
           "llamacpp", "ollama"]
DOCS = {f"{p.parent.name}/{p.name}": read_documents(p.read_text(encoding="utf-8"))
        for folder in FOLDERS for p in sorted((FIXTURES / folder).iterdir())
        if p.suffix in (".json", ".jsonl", ".sse") and p.name != "expected.json"}

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-2**40, 2**40)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["", "\ufffd", "bytes:\\xe6\\x9b", "<0xE6>", "token_id:7", "\\x87",
                              "-9999", "content", "logprobs", "tokens", "meta_info"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["choices", "message", "delta", "logprobs", "content", "token",
                         "logprob", "bytes", "top_logprobs", "tokens", "token_logprobs",
                         "text_offset", "text", "index", "object", "meta_info",
                         "output_token_logprobs", "candidates", "logprobsResult", "schema",
                         "steps", "output", "type", "prompt_logprobs", "finish_reason",
                         "completion_probabilities", "generation_settings", "temperature",
                         "id", "response", "done", "done_reason", "source",
                         "tail_temperatures", "tail_logsumexp"])
        | st.text(max_size=6), inner, max_size=5),
    max_leaves=25)


def outcome(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        traces = fn(*args, **kwargs)
    except FormatError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(traces, list)
    for t in traces:
        assert isinstance(t, Trace)
        text = t.to_json()  # raises ValueError on NaN or Infinity (allow_nan=False)
        back = json.loads(text.encode("utf-8"))  # valid UTF-8: no lone surrogates
        assert Trace.from_dict(back).to_dict() == back


@SETTINGS
@given(doc=json_values)
def test_random_json(doc: Any) -> None:
    for m in modules():
        outcome(m.parse, copy.deepcopy(doc), file="fuzz.json")
    outcome(parse_document, doc, "auto", "fuzz.json")


surrogate_text = st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010,
                                       exclude_categories=()), max_size=4)
chat_items = st.lists(st.fixed_dictionaries({
    "token": st.one_of(surrogate_text, st.just("a")), "logprob": st.floats(-5, 0),
    "top_logprobs": st.lists(st.fixed_dictionaries({"token": surrogate_text,
                                                    "logprob": st.floats(-5, 0)}),
                             max_size=3)}), max_size=4)


@SETTINGS
@given(items=chat_items, text=surrogate_text, model=surrogate_text)
def test_files_with_lone_surrogates(items: list[Any], text: str, model: str) -> None:
    # JSON escapes can spell half a surrogate pair (\ud842 alone); as a file it is read,
    # detected and parsed like any other, and no such half reaches a trace.
    doc = {"object": "chat.completion", "model": model, "choices": [
        {"index": 0, "message": {"content": text}, "logprobs": {"content": items}}]}
    file_text = json.dumps(doc)  # ensure_ascii: \udXXX escapes
    outcome(lambda: parse_document(read_documents(file_text), "auto", "s.json"))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            out += paths(v, (*prefix, i))
    return out


def mutate(doc: Any, where: tuple[Any, ...], how: str, new: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not where:
        return new
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    key = where[-1]
    if how == "replace":
        parent[key] = new
    elif how == "drop":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif how == "cut" and isinstance(parent[key], (list, str)):
        parent[key] = parent[key][: len(parent[key]) // 2]
    elif how == "negate" and isinstance(parent[key], (int, float)) and not isinstance(
            parent[key], bool):
        parent[key] = -parent[key] if parent[key] else 1e300
    return doc


@pytest.mark.parametrize("name", sorted(DOCS))
@SETTINGS
@given(data=st.data())
def test_mutated_fixture(name: str, data: st.DataObject) -> None:
    doc = DOCS[name]
    where = data.draw(st.sampled_from(paths(doc)))
    how = data.draw(st.sampled_from(["replace", "drop", "cut", "negate"]))
    new = data.draw(json_values)
    bad = mutate(doc, where, how, new)
    outcome(parse_document, bad, "auto", name)
    for m in modules():
        outcome(m.parse, copy.deepcopy(bad), file=name)


def number_paths(doc: Any) -> list[tuple[Any, ...]]:
    out = []
    for p in paths(doc):
        value = doc
        for k in p:
            value = value[k]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(p)
    return out


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_number_not_finite(name: str) -> None:
    # JSON readers accept NaN and Infinity (Python servers write them): wherever one stands
    # for a number, the file reads as traces that serialise, or is refused in one line.
    doc = DOCS[name]
    for where in number_paths(doc):
        for value in (math.nan, math.inf, -math.inf):
            outcome(parse_document, mutate(doc, where, "replace", value), "auto", name)
