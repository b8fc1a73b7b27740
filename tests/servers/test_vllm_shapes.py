"""vLLM's answers as recorded from a real server (tests/fixtures/vllm/real_*), read without
one: the <bos> its echo adds, ranks and ids from prompt_logprobs, the cap's error (a 400, or
an SSE error event after a 200), and what the numbers are (log-probabilities or logits,
formats/vllm_values.py), live and imported alike."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import run_async

from tokenprobe.backends.base import replay_steps
from tokenprobe.backends.openai import OpenAIBackend
from tokenprobe.backends.openai_reader import AnswerReader, sse_line
from tokenprobe.backends.server_errors import ServerError
from tokenprobe.errors import FormatError, InputError
from tokenprobe.formats import load_all, vllm
from tokenprobe.formats.vllm_values import ValueJudge, logits_proof, raw_value
from tokenprobe.trace import Candidate, Request, Step, Trace

VLLM = Path(__file__).parent.parent / "fixtures" / "vllm"


def live(docs: list[dict[str, Any]], request: Request, kind: str | None = None,
         echo: bool = False) -> Trace:
    chat = request.mode == "chat"
    backend = OpenAIBackend("m", "http://127.0.0.1:9/v1", None, stream=False,
                            logprobs_kind=kind)
    reader = AnswerReader(backend.where, [], request, chat, stream=False, kind=kind,
                          echo=echo)
    steps = [s for d in docs for s in reader.feed(d)] + reader.fitter.finish()
    trace = replay_steps(backend, request, steps, reader.end(True), None)
    reader.settle_trace(trace)
    reader.attach_prompt(trace)
    return trace


def sse_docs(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        doc, done = sse_line(line, "test")
        if done:
            break
        if doc is not None:
            out.append(doc)
    return out


@pytest.mark.parametrize("name", ["real_echo_bos.json", "real_echo_bos_stream.sse"])
def test_echo_with_bos_imports(name: str) -> None:
    t = load_all(VLLM / name)[0]
    bos = t.prompt_steps[0]
    assert bos.special and bos.token == "<bos>" and bos.data == b"" and bos.logprob is None
    assert t.request.prompt == "Is 𠮷 Café" and t.text == " a good place"
    # One byte per byte token of 𠮷, though vLLM writes "", "", "", "𠮷".
    assert [s.data for s in t.prompt_steps[3:7]] == [b"\xf0", b"\xa0", b"\xae", b"\xb7"]
    # Offsets within the prompt: <bos> takes no characters.
    assert [s.offset for s in t.prompt_steps[:3]] == [0, 0, 2]
    # A round trip keeps the special step.
    again = Trace.from_dict(json.loads(t.to_json()))
    assert again.prompt_steps[0].special and again.prompt_steps[0].data == b""


def test_echo_merges_ranks_and_ids_from_prompt_logprobs() -> None:
    t = load_all(VLLM / "real_echo_bos.json")[0]
    doc = json.loads((VLLM / "real_echo_bos.json").read_text())
    plp = doc["choices"][0]["prompt_logprobs"]
    for k, s in enumerate(t.prompt_steps[1:], 1):
        entry = plp[k]
        assert s.id is not None and str(s.id) in entry
        assert s.vocab_rank == entry[str(s.id)]["rank"]
        assert s.logprob == entry[str(s.id)]["logprob"]
    # " Café" stood at rank 101233: outside the listed two, its rank is the server's.
    cafe = t.prompt_steps[7]
    assert cafe.vocab_rank == 101233 and cafe.rank() is None
    assert cafe.to_dict()["rank"] == 101233


@pytest.mark.parametrize("stream", [False, True])
def test_live_echo_is_the_import(stream: bool) -> None:
    name = "real_echo_bos_stream.sse" if stream else "real_echo_bos.json"
    docs = sse_docs(VLLM / name) if stream else [json.loads((VLLM / name).read_text())]
    request = Request(mode="completion", prompt="Is 𠮷 Café", alternatives=2)
    got = live(docs, request, echo=True)
    want = load_all(VLLM / name)[0]
    assert got.text == want.text and got.complete
    assert [(s.data, s.logprob, s.special) for s in got.prompt_steps] == [
        (s.data, s.logprob, s.special) for s in want.prompt_steps]
    assert [(s.data, s.logprob) for s in got.steps] == [(s.data, s.logprob) for s in want.steps]


def test_chat_echo_of_a_final_assistant_message() -> None:
    # vLLM's chat echo puts the final assistant message's text before the answer, with no
    # tokens for it: the answer's text is what the tokens spell.
    docs = [{"object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": "Hello"},
                 "logprobs": None, "finish_reason": None}]},
            {"object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"content": ","},
                 "logprobs": {"content": [{"token": ",", "logprob": -0.5, "bytes": [44],
                                           "top_logprobs": []}]},
                 "finish_reason": "length"}]}]
    request = Request(mode="chat", messages=[{"role": "user", "content": "Say hi"},
                                             {"role": "assistant", "content": "Hello"}],
                      alternatives=0)
    t = live(docs, request, echo=True)
    assert t.text == "," and t.complete


def test_cap_error_as_sse_event_after_200() -> None:
    # vLLM answers a streamed request over its cap with 200 and an error event.
    line = ('data: {"error": {"message": "Requested sample logprobs of 21, which is greater '
            'than max allowed: 20 (parameter=logprobs, value=21)", "type": "BadRequestError",'
            ' "param": "logprobs", "code": 400}}')
    doc, done = sse_line(line, "the server")
    assert not done
    reader = AnswerReader("the server", [], Request(alternatives=21), False, True)
    with pytest.raises(ServerError, match="max allowed: 20") as e:
        reader.feed(doc)
    assert "\n" not in str(e.value)


# --- what the numbers are ----------------------------------------------------------------

def step(lp: float | None, *alts: float, tid: int = 10) -> Step:
    top = [Candidate(f"t{j}", v, id=10 + j) for j, v in enumerate(alts)]
    return Step(token="x", logprob=lp, id=tid, top=top)


def test_logits_proofs() -> None:
    assert logits_proof(step(-0.1, -0.1, -2.3)) is None
    assert "above zero" in str(logits_proof(step(12.5, 12.5, 11.0)))
    # All negative, but the listed probabilities sum past one: not log-probabilities.
    assert "sum to" in str(logits_proof(step(-0.2, -0.2, -0.3, -0.4)))
    # Tiny positive rounding is not a proof.
    assert logits_proof(step(0.0004, 0.0004, -8.0)) is None
    assert raw_value(-9999.0) is None and raw_value(float("nan")) is None
    assert raw_value(True) is None and raw_value(3) == 3.0 and raw_value(1e300) is None


def test_judge_reads_logits_as_logits_and_invents_no_probability() -> None:
    judge = ValueJudge()
    steps = [step(14.0, 15.5, 14.0, 9.25)]
    judge.settle(steps, "x")
    s = steps[0]
    assert judge.kind == "logits" and "logits" in str(judge.note)
    assert s.logprob is None and s.logit == 14.0 and s.entropy is None
    assert [c.logit for c in s.top] == [15.5, 14.0, 9.25]
    assert all(c.logprob is None for c in s.top)


def test_judge_refuses_logits_declared_as_logprobs() -> None:
    with pytest.raises(FormatError, match="--logprobs-kind logits"):
        ValueJudge("raw").settle([step(14.0, 15.5, 14.0)], "x")


def test_judge_refuses_logits_after_logprobs_in_one_answer() -> None:
    judge = ValueJudge()
    judge.settle([step(-0.5, -0.5, -1.5)], "chunk 0")
    with pytest.raises(FormatError, match="earlier tokens"):
        judge.settle([step(3.0, 3.0, 1.0)], "chunk 1")


def test_judge_keeps_declared_logits_even_when_negative() -> None:
    judge = ValueJudge("logits")
    steps = [step(-3.0, -3.0, -4.0)]
    judge.settle(steps, "x")
    assert steps[0].logit == -3.0 and steps[0].logprob is None


def logits_chat() -> dict[str, Any]:
    """The recorded chat answer with every number made a logit (a constant added, as
    logits are log-probabilities plus log Z)."""
    doc = json.loads((VLLM / "real_chat_prompt_logprobs.json").read_text())
    for item in doc["choices"][0]["logprobs"]["content"]:
        item["logprob"] += 17.0
        for alt in item["top_logprobs"]:
            alt["logprob"] += 17.0
    return doc


def test_live_logits_found_and_kept() -> None:
    request = Request(mode="chat", messages=[{"role": "user", "content": "Say hi"}],
                      alternatives=2)
    t = live([logits_chat()], request)
    assert t.logprobs_kind == "logits" and "logits" in t.source["note"]
    assert all(s.logprob is None and s.logit is not None for s in t.steps)
    first = t.steps[0]
    assert math.isclose(first.logit, -1.133097529411316 + 17.0)  # type: ignore[arg-type]
    d = json.loads(t.to_json())
    assert d["logprobs_kind"] == "logits" and d["steps"][0]["logprob"] is None
    assert d["steps"][0]["logit"] == first.logit


def test_live_logits_declared_raw_is_one_line_refusal() -> None:
    request = Request(mode="chat", messages=[{"role": "user", "content": "Say hi"}],
                      alternatives=2)
    backend = OpenAIBackend("m", "http://127.0.0.1:9/v1", None, stream=False,
                            logprobs_kind="raw")
    reader = AnswerReader(backend.where, [], request, True, stream=False, kind="raw")
    with pytest.raises(FormatError) as e:
        reader.feed(logits_chat())
    assert "not log-probabilities" in str(e.value) and "\n" not in str(e.value)


def test_imported_logits() -> None:
    t = vllm.parse(logits_chat())[0]
    assert t.logprobs_kind == "logits" and t.steps[0].logprob is None


def test_kind_option_is_checked() -> None:
    with pytest.raises(InputError, match="logprobs kind"):
        OpenAIBackend("m", "http://127.0.0.1:9/v1", None, logprobs_kind="probs")
    b = OpenAIBackend("m", "http://127.0.0.1:9/v1", None, logprobs_kind="processed")
    assert b.logprobs_kind == "processed" and b.declared_kind == "processed"
    # The older way, in the extra body, still works and is not sent to the server.
    b = OpenAIBackend("m", "http://127.0.0.1:9/v1", None,
                      extra_body={"logprobs_kind": "logits"})
    assert b.declared_kind == "logits" and "logprobs_kind" not in b.extra_body


# --- the backend, fed vLLM's recorded answers by a local stub ------------------------------

def test_score_replayed_from_vllm() -> None:
    from tests.servers.faultserver import fault_server, raw_body

    body = (VLLM / "real_echo_bos.json").read_text()
    with fault_server(raw_body(body)) as s:
        b = OpenAIBackend("gemma", s.base_url, None)
        t = b.score("Is 𠮷 Café", alternatives=2)
    sent = s.requests[0]
    assert sent["echo"] is True and sent["logprobs"] == 2 and sent["max_tokens"] == 1
    assert t.prompt_steps[0].special and t.request.prompt == "Is 𠮷 Café"
    assert t.logprobs_kind == "raw" and t.prompt_steps[7].vocab_rank == 101233


def test_score_declared_processed_is_raw_with_a_note() -> None:
    from tests.servers.faultserver import fault_server, raw_body

    body = (VLLM / "real_echo_bos.json").read_text()
    with fault_server(raw_body(body)) as s:
        t = OpenAIBackend("gemma", s.base_url, None, logprobs_kind="processed").score(
            "Is 𠮷 Café", alternatives=2)
    assert t.logprobs_kind == "raw" and "before any sampling" in t.source["note"]


def test_score_of_logits_is_logits() -> None:
    from tests.servers.faultserver import fault_server, raw_body

    doc = json.loads((VLLM / "real_echo_bos.json").read_text())
    lp = doc["choices"][0]["logprobs"]
    lp["token_logprobs"] = [None if x is None else x + 20.0 for x in lp["token_logprobs"]]
    lp["top_logprobs"] = [None if d is None else {k: v + 20.0 for k, v in d.items()}
                          for d in lp["top_logprobs"]]
    for entry in doc["choices"][0]["prompt_logprobs"]:
        for v in (entry or {}).values():
            v["logprob"] += 20.0
    with fault_server(raw_body(json.dumps(doc))) as s:
        t = OpenAIBackend("gemma", s.base_url, None).score("Is 𠮷 Café", alternatives=2)
    assert t.logprobs_kind == "logits"
    assert all(x.logprob is None for x in t.prompt_steps)
    assert t.prompt_steps[1].logit == pytest.approx(-8.091032981872559 + 20.0)


@pytest.mark.parametrize("stream", [False, True])
def test_cap_refused_with_the_servers_message(stream: bool) -> None:
    from tests.servers.faultserver import fault_server, sse, status

    from tokenprobe.api import build_request

    error = json.loads((VLLM / "real_cap_error.json").read_text())
    answer = sse([error]) if stream else status(400, error)
    with fault_server(answer) as s:
        b = OpenAIBackend("gemma", s.base_url, None, stream=stream, max_retries=0)
        with pytest.raises(ServerError) as e:
            b.stream(build_request("Hi", max_tokens=2, alternatives=21)).run()
    assert "20" in str(e.value) and "\n" not in str(e.value)


def test_batch_score_replayed(tmp_path: Path) -> None:

    from tests.servers.faultserver import fault_server, raw_body

    from tokenprobe.ops.batch import read_texts, run_batch

    body = (VLLM / "real_echo_bos.json").read_text()
    src, out = tmp_path / "t.jsonl", tmp_path / "o.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "Is 𠮷 Café"}) + "\n")
    with fault_server(raw_body(body)) as s:
        b = OpenAIBackend("gemma", s.base_url, None)
        result = run_async(run_batch(b, read_texts(src, 2), out, 2))
    assert result.done == 1 and not result.failed
    doc = json.loads(out.read_text())
    lps = [x["logprob"] for x in doc["prompt_steps"][1:]]
    assert doc["source"]["score"]["tokens"] == 7
    assert doc["source"]["score"]["perplexity"] == pytest.approx(
        math.exp(-math.fsum(lps) / len(lps)))
