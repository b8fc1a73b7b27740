"""Rules the importers share, each on the input that once broke it: JSON lines that hold
line separators, numbers that are not finite, ids that are not ASCII digits, N+1 lists
keyed by text, finish reasons that are errors, SGLang streams, and saved traces whose text
is not what their tokens spell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.inprocess import invoke

from tokenprobe.errors import FormatError
from tokenprobe.formats import llamacpp, load_all, parse_document, read_documents, sglang, vllm
from tokenprobe.formats.wire_tokens import drop_extra_chosen, make_step, token_piece
from tokenprobe.trace import Candidate, Step, Trace

SEPARATORS = "a\u2028b\u2029c\x85d"


# --- lines ---------------------------------------------------------------------------


def chat_chunk(token: str, finish: str | None = None) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "model": "m", "choices": [{
        "index": 0, "delta": {"content": token}, "finish_reason": finish,
        "logprobs": {"content": [{"token": token, "logprob": -0.5, "top_logprobs": []}]}}]}


@pytest.mark.parametrize("form", ["jsonl", "sse"])
def test_a_line_separator_inside_a_string_does_not_end_the_line(form: str) -> None:
    docs = [chat_chunk(SEPARATORS), chat_chunk("!", "stop")]
    lines = [json.dumps(d, ensure_ascii=False) for d in docs]  # raw U+2028, as servers write
    text = ("\r\n".join(lines) + "\r\n" if form == "jsonl"
            else "".join(f"data: {ln}\r\n\r\n" for ln in lines) + "data: [DONE]\n\n")
    got = read_documents(text)
    assert got == docs
    (t,) = parse_document(got)
    assert t.text == SEPARATORS + "!"


def test_a_trace_file_of_json_lines_with_separators(tmp_path: Path) -> None:
    t = Trace(backend="import", model="m", steps=[Step(token=SEPARATORS, logprob=-0.5)])
    t.rebuild_text()
    path = tmp_path / "traces.jsonl"
    path.write_text(t.to_json() + "\n" + t.to_json() + "\n", encoding="utf-8")
    assert [x.text for x in load_all(path)] == [SEPARATORS, SEPARATORS]


# --- numbers and ids that are not what they claim --------------------------------------


def trace_doc(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": "tokenprobe/trace@1", "backend": "llama", "model": "m",
                           "steps": [{"token": "a", "id": 1, "logprob": -0.1}], "text": "a"}
    doc.update(fields)
    return doc


@pytest.mark.parametrize(("doc", "message"), [
    ({"object": "text_completion", "choices": [{"index": 0, "text": "a", "logprobs": {
        "tokens": ["token_id:\u00b2"], "token_logprobs": [-0.1], "top_logprobs": [None]}}]},
     "do not spell the response text"),
    ({"object": "text_completion", "choices": [{"index": 0, "text": "a", "logprobs": {
        "tokens": ["token_id:" + "9" * 5000], "token_logprobs": [-0.1],
        "top_logprobs": [None]}}]}, "do not spell the response text"),
    ({"object": "text_completion", "choices": [{"index": 0, "text": "a", "logprobs": {
        "tokens": ["a"], "token_logprobs": [-0.1], "top_logprobs": [None]},
        "prompt_logprobs": [None, {"\u00b3": {"logprob": -1.0, "decoded_token": "x"}}]}]},
     "not a token id"),
    (trace_doc(tail_temperatures=[1.0, float("nan")]), "tail_temperatures must be finite"),
    (trace_doc(steps=[{"token": "a", "logprob": -0.1, "tail_logsumexp": [float("inf")]}]),
     "tail_logsumexp must be finite"),
    (trace_doc(source={"format": "x", "weight": float("nan")}), "source holds a number"),
    (trace_doc(parent={"id": "p", "step": float("inf")}), "parent holds a number"),
    (trace_doc(error=float("nan")), "error must be a string"),
    (trace_doc(request={"stop": "END"}), "request.stop must be a list of strings"),
    (trace_doc(request={"messages": [{"role": "user", "content": 5}]}), "request.messages"),
    (trace_doc(finish_reason="exploded"), "finish_reason must be stop, length, error"),
])
def test_malformed_values_are_format_errors(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        parse_document(doc, "auto", "x.json")
    assert "\n" not in str(info.value)


def test_vllm_ids_are_ascii_digits() -> None:
    assert vllm.token_id("token_id:\u00b2") is None
    assert vllm.token_id("token_id:" + "1" * 5000) is None
    assert vllm.token_id("token_id:42") == 42


def test_a_huge_id_in_a_trace_is_not_reported() -> None:
    (t,) = parse_document(trace_doc(steps=[{"token": "a", "id": 1e999, "logprob": -0.1}]))
    assert t.steps[0].id is None
    json.loads(t.to_json())


def test_settings_that_are_not_finite_are_not_reported() -> None:
    doc = {"content": "a", "stop": True, "stop_type": "eos", "generation_settings": {
        "temperature": float("nan"), "top_p": float("inf"), "top_k": 5},
        "completion_probabilities": [{"id": 1, "token": "a", "bytes": [97], "logprob": -0.5,
                                      "top_logprobs": []}]}
    (t,) = llamacpp.parse(doc)
    assert t.request.temperature is None and t.request.top_p is None
    assert t.request.top_k == 5
    json.loads(t.to_json())


def test_import_json_of_a_file_with_nan_settings(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "answer.json"
    path.write_text('{"content": "a", "stop": true, "stop_type": "eos", '
                    '"generation_settings": {"temperature": NaN}, "completion_probabilities": '
                    '[{"id": 1, "token": "a", "bytes": [97], "logprob": -0.5, '
                    '"top_logprobs": []}]}')
    r = invoke(["import", str(path), "--json"], tmp_path, monkeypatch)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["request"]["temperature"] is None
    bad = tmp_path / "trace.json"
    bad.write_text(json.dumps(trace_doc(source={"x": 12345})).replace("12345", "Infinity"))
    r = invoke(["import", str(bad), "--json"], tmp_path, monkeypatch)
    assert r.code == 2 and "not finite" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


# --- N+1 lists -----------------------------------------------------------------------


def step(chosen: tuple[str, float], alts: list[tuple[str, float]]) -> Step:
    piece = token_piece(chosen[0])
    return make_step(piece, chosen[1], None, [
        Candidate(token=t or "\ufffd", logprob=lp, bytes=(t or "\ufffd").encode())
        for t, lp in alts])


def test_lists_shortened_by_collapsed_alternatives_keep_their_ranks() -> None:
    # N = 3. Text-keyed lists collapse byte-fallback alternatives into one "" entry: the
    # first list is short by one, and its chosen token (rank 3 there) is last.
    collapsed = step(("c", -1.5), [("", -0.5), ("c", -1.5)])
    full = step(("x", -0.2), [("x", -0.2), ("y", -1.0), ("z", -2.0)])
    outside = step(("w", -4.0), [("x", -0.3), ("y", -1.0), ("z", -2.0), ("w", -4.0)])
    drop_extra_chosen([collapsed, full, outside])
    assert collapsed.rank() == 2 and len(collapsed.top) == 2  # its entry is kept
    assert outside.rank() is None and len(outside.top) == 3  # the appended entry is gone
    assert full.rank() == 1 and len(full.top) == 3


def test_the_count_asked_for_decides_when_known() -> None:
    # Every list ends with its chosen token: from the lists alone N is not known.
    a = step(("a", -2.0), [("x", -0.1), ("a", -2.0)])
    b = step(("b", -3.0), [("x", -0.1), ("y", -0.5), ("b", -3.0)])
    drop_extra_chosen([a, b], n=2)
    assert [len(a.top), len(b.top)] == [2, 2] and a.rank() == 2 and b.rank() is None


def test_ids_are_compared_only_when_both_are_known() -> None:
    s = Step(token="a", logprob=-2.0, bytes=b"a",
             top=[Candidate("x", -0.1, None, b"x"), Candidate("y", -2.0, None, b"y")])
    other = Step(token="q", logprob=-0.1, bytes=b"q",
                 top=[Candidate("q", -0.1, None, b"q")])
    drop_extra_chosen([s, other])
    assert [c.token for c in s.top] == ["x", "y"]  # "y" is not the chosen "a"


# --- finish reasons that are errors ----------------------------------------------------


def completion(finish: str) -> dict[str, Any]:
    return {"object": "text_completion", "choices": [{"index": 0, "text": "ab",
            "finish_reason": finish, "logprobs": {"tokens": ["a", "b"],
                                                  "token_logprobs": [-0.1, -0.2],
                                                  "top_logprobs": [None, None]}}]}


def chat(finish: str) -> dict[str, Any]:
    return {"object": "chat.completion", "choices": [{
        "index": 0, "finish_reason": finish, "message": {"content": "ab"},
        "logprobs": {"content": [{"token": "a", "logprob": -0.1, "top_logprobs": []},
                                 {"token": "b", "logprob": -0.2, "top_logprobs": []}]}}]}


def ollama_doc(finish: str) -> dict[str, Any]:
    return {"model": "m", "response": "ab", "done": True, "done_reason": finish,
            "logprobs": [{"token": "a", "logprob": -0.1, "top_logprobs": []},
                         {"token": "b", "logprob": -0.2, "top_logprobs": []}]}


@pytest.mark.parametrize("make", [completion, chat, ollama_doc])
@pytest.mark.parametrize(("finish", "says"), [
    ("content_filter", "content filter"), ("abort", "aborted"), ("error", "with an error")])
def test_an_error_finish_makes_the_trace_incomplete(make: Any, finish: str, says: str) -> None:
    (t,) = parse_document(make(finish))
    assert t.finish_reason == "error" and t.complete is False
    assert says in (t.error or "") and f"finish reason {finish}" in (t.error or "")
    assert t.text == "ab"
    (ok,) = parse_document(make("stop"))
    assert ok.complete and ok.error is None


# --- SGLang streams --------------------------------------------------------------------


def sglang_event(text: str, tokens: list[list[Any]], finish: Any = None) -> dict[str, Any]:
    return {"text": text, "meta_info": {"id": "r1", "finish_reason": finish,
                                        "output_token_logprobs": tokens}}


def test_sglang_incremental_events_that_repeat_their_text() -> None:
    ha = [-0.1, 5, "ha"]
    events = [sglang_event("ha", [ha]), sglang_event("ha", [ha]),
              sglang_event("ha", [ha], {"type": "length"})]
    (t,) = sglang.parse(events)
    assert t.text == "hahaha" and len(t.steps) == 3


def test_sglang_cumulative_events() -> None:
    a, b = [-0.1, 5, "ha"], [-0.2, 6, "!"]
    events = [sglang_event("ha", [a]), sglang_event("ha!", [a, b], {"type": "stop"})]
    (t,) = sglang.parse(events)
    assert t.text == "ha!" and [s.token for s in t.steps] == ["ha", "!"]


# --- saved traces keep the trace rules ------------------------------------------------


def test_a_trace_whose_text_is_not_its_tokens_is_refused() -> None:
    with pytest.raises(FormatError, match="text is not what its tokens spell") as info:
        parse_document(trace_doc(text="zzz"))
    assert "\n" not in str(info.value)


def test_a_saved_trace_is_put_in_order() -> None:
    doc = trace_doc(
        steps=[{"token": "ab", "id": 1, "logprob": -0.1, "offset": 7,
                "top": [{"token": "x", "id": 2, "logprob": -3.0},
                        {"token": "ab", "id": 1, "logprob": -0.1},
                        {"token": "x", "id": 2, "logprob": -3.0}]},
               {"token": "c", "id": 3, "logprob": -0.2, "offset": 0}],
        text="abc", prompt_steps=[{"token": "P", "id": 9, "logprob": None},
                                  {"token": "Q", "id": 8, "logprob": -1.0}],
        request={"mode": "score"})
    (t,) = parse_document(doc)
    assert [c.token for c in t.steps[0].top] == ["ab", "x"]
    assert [s.offset for s in t.steps] == [0, 2]
    assert [s.offset for s in t.prompt_steps] == [0, 1]
    assert t.request.prompt == "PQ"
