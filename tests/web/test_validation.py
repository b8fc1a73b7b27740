"""Every validation error the API gives: the status, and one line that names the problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.web.asgi import AsgiClient

from tokenprobe.web.config import MAX_ERRORS
from tokenprobe.web.security import Guard

OK = {"prompt": "Hello", "max_tokens": 2}
CHAT = {"mode": "chat", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}


GENERATE_CASES: list[tuple[dict[str, Any], str]] = [
    ({**OK, "temperature": 7}, "temperature: must be at most 5"),
    ({**OK, "temperature": -0.1}, "temperature: must be at least 0"),
    ({**OK, "temperature": "hot"}, "temperature: must be a number"),
    ({**OK, "top_p": 0}, "top_p: must be more than 0"),
    ({**OK, "top_p": 1.5}, "top_p: must be at most 1"),
    ({**OK, "top_k": -1}, "top_k: must be at least 0"),
    ({**OK, "max_tokens": 0}, "max_tokens: must be at least 1"),
    ({**OK, "max_tokens": 5000}, "max_tokens: must be at most 4096"),
    ({**OK, "max_tokens": 2.5}, "max_tokens: must be an integer"),
    ({**OK, "alternatives": 101}, "alternatives: must be at most 100"),
    ({**OK, "seed": -1}, "seed: must be at least 0"),
    ({**OK, "stop": [""]}, "stop[0]: must not be empty"),
    ({**OK, "stop": ["x"] * 9}, "stop: has too many items (at most 8)"),
    ({**OK, "temprature": 1}, "temprature: is not a known field"),
    ({**OK, "prompt": "x" * 100_001}, "prompt: is too long (at most 100000 characters)"),
    ({"max_tokens": 2}, "a completion needs a non-empty prompt"),
    ({**OK, "prompt": ""}, "a completion needs a non-empty prompt"),
    ({**OK, "system": "Be brief."}, "messages and system belong to chat mode (mode: chat)"),
    ({**OK, "mode": "poem"}, "mode: must be 'completion' or 'chat'"),
    ({**CHAT, "prompt": "x"}, "a chat takes messages, not a prompt"),
    ({"mode": "chat", "max_tokens": 2}, "a chat needs at least one message"),
    ({**CHAT, "messages": [{"role": "user", "content": "Hi"},
                           {"role": "assistant", "content": "Hello"}]},
     "the last chat message must be a non-empty user message"),
    ({**CHAT, "messages": [{"role": "user", "content": "  "}]},
     "the last chat message must be a non-empty user message"),
    ({**CHAT, "messages": [{"role": "system", "content": "x"}]},
     "messages[0].role: must be 'user' or 'assistant'"),
    ({**CHAT, "messages": [{"role": "user"}]}, "messages[0].content: is required"),
    ({**CHAT, "messages": [{"role": "user", "content": "x"}] * 201},
     "messages: has too many items (at most 200)"),
    ({**OK, "model": "nope"}, "unknown model 'nope' (known: embedded)"),
]


@pytest.mark.parametrize(("body", "message"), GENERATE_CASES)
async def test_generate_refuses_bad_input(client: AsgiClient, body: dict[str, Any],
                                          message: str) -> None:
    r = await client.post("/api/generate", body)
    assert r.status == 422, r.body
    assert r.detail == message
    assert "\n" not in r.detail


OTHER_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("/api/score", {"text": ""}, 422, "text: must not be empty"),
    ("/api/score", {"text": "x", "alternatives": -1}, 422, "alternatives: must be at least 0"),
    ("/api/score", {"text": "x", "model": "gpt-5"}, 422, "unknown model 'gpt-5' (known: "
     "embedded)"),
    ("/api/compare", {"prompts": ["a"]}, 422, "a comparison needs at least two variants: give "
     "two or more prompts, system prompts, temperatures or models"),
    ("/api/compare", {"prompts": ["a", ""]}, 422, "prompts: a prompt is empty"),
    ("/api/compare", {"prompts": ["a", "b"], "temperatures": [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5],
                      "systems": ["x", "y", "z"]}, 422, "48 variants is too many (at most 16)"),
    ("/api/compare", {"prompts": ["a", "b"], "samples": 11}, 422,
     "samples: must be at most 10"),
    ("/api/compare", {"prompts": ["a", "b"], "answer": ""}, 422, "the fixed answer is empty"),
    ("/api/compare", {"prompts": ["a", "b"], "models": ["x"]}, 422,
     "unknown model 'x' (known: embedded)"),
    ("/api/choose", {"prompt": "p", "options": ["a"]}, 422, "options: needs at least 2 items"),
    ("/api/choose", {"prompt": "p", "options": ["a", "a"]}, 422,
     "the option 'a' is given twice"),
    ("/api/choose", {"prompt": "p", "options": ["a", "b"], "system": "s"}, 422,
     "system needs chat: true (a completion has no system prompt)"),
    ("/api/branch", {"trace_id": "abcd", "step": 0}, 422,
     "give exactly one of candidate (an alternative's index) or token"),
    ("/api/branch", {"trace_id": "abcd", "step": 0, "candidate": 0, "token": "x"}, 422,
     "give exactly one of candidate (an alternative's index) or token"),
    ("/api/branch", {"trace_id": "abcd", "step": -1, "token": "x"}, 422,
     "step: must be at least 0"),
    ("/api/branch", {"trace_id": "abcdef12", "step": 0, "token": "x"}, 404,
     "no history entry with id 'abcdef12'"),
    ("/api/models", {"spec": "nope"}, 422, "unknown model 'nope': give a path to a .gguf "
     "file, or one of "),
    ("/api/models", {"spec": "/no/such/model.gguf"}, 422,
     "no such model file: /no/such/model.gguf"),
    ("/api/models", {"spec": "openai:m", "base_url": "ftp://host/v1"}, 422,
     "the base URL 'ftp://host/v1' must start with http:// or https://"),
    ("/api/models", {"spec": "openai:m", "base_url": "http://u:pw12345@host:abc/v1"}, 422,
     "the base URL 'http://host:abc/v1' has a port that is not a number from 0 to 65535"),
    ("/api/models", {"spec": "openai:m", "api_key": 12345}, 422, "api_key: must be a string"),
    ("/api/jobs/" + "0" * 32 + "/cancel", {}, 404, f"no job '{'0' * 32}' is waiting or "
     "running"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), OTHER_CASES)
async def test_other_endpoints_refuse_bad_input(client: AsgiClient, path: str,
                                                body: dict[str, Any], status: int,
                                                message: str) -> None:
    r = await client.post(path, body)
    assert r.status == status, r.body
    assert r.detail.startswith(message), r.detail
    assert "\n" not in r.detail


async def test_validation_lists_every_field_and_never_echoes_values(
        client: AsgiClient) -> None:
    secret = "sk-never-echo-this-0123456789"
    r = await client.post("/api/models", {"spec": ["x"], "api_key": [secret]})
    assert r.status == 422
    assert {e["field"] for e in r.json()["errors"]} == {"spec", "api_key"}
    assert secret not in r.body.decode()


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/api/history?limit=0", 422, "limit: must be at least 1"),
    ("/api/history?kind=poem", 422,
     "kind: must be 'trace', 'comparison', 'choice', 'sweep' or 'calibration'"),
    ("/api/history/abcdef12", 404, "no history entry with id 'abcdef12'"),
    ("/api/history/abc", 422, "record_id: is too short (at least 4 characters)"),
    ("/api/history/abcdef12/export?format=pdf", 422, "format: must be 'json', 'jsonl' or "
     "'html'"),
])
async def test_reading_endpoints_refuse_bad_input(client: AsgiClient, path: str, status: int,
                                                  message: str) -> None:
    r = await client.get(path)
    assert r.status == status and r.detail == message


async def test_bodies_must_be_json_of_a_stated_size(client: AsgiClient) -> None:
    r = await client.post("/api/generate", body=b"prompt=hi",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status == 415 and "application/json" in r.detail
    r = await client.post("/api/generate", body=b"{not json",
                          headers={"content-type": "application/json"})
    assert r.status == 422 and r.detail.endswith("is not valid JSON")
    big = json.dumps({"prompt": "x" * 4_100_000}).encode()
    r = await client.post("/api/generate", body=big,
                          headers={"content-type": "application/json"})
    assert r.status == 413
    assert r.detail == (f"the request body is too large ({len(big)} bytes; at most 4000000 "
                        "for /api/generate)")
    r = await client.post("/api/generate", body=b"{}", headers={
        "content-type": "application/json", "content-length": "",
        "transfer-encoding": "chunked"})
    assert r.status == 411


@pytest.mark.parametrize(("path", "size", "limit"), [
    ("/api/models", 20_000, 16_000),
    ("/api/branch", 20_000, 16_000),
    ("/api/score", 1_100_000, 1_000_000),
    ("/api/choose", 2_100_000, 2_000_000),
    ("/api/jobs/abcdef12/cancel", 5_000, 4_000),
])
async def test_each_endpoint_takes_the_body_it_needs_and_no_more(
        make_app: Callable[..., Guard], path: str, size: int, limit: int) -> None:
    client = AsgiClient(make_app())
    body = json.dumps({"spec": "x" * (size - 12)}).encode()
    assert len(body) == size
    r = await client.post(path, body=body, headers={"content-type": "application/json"})
    assert r.status == 413
    where = f" for {path}" if "jobs" not in path else ""
    assert r.detail == f"the request body is too large ({size} bytes; at most {limit}{where})"


def _keys(n: int) -> list[str]:
    """n distinct short field names, none of them a real one (`_` and 4 characters)."""
    digits = "abcdefghijklmnopqrstuvwxyz0123456789"
    return ["_" + "".join(digits[(i // 36 ** k) % 36] for k in range(4)) for i in range(n)]


async def test_many_unknown_fields_make_one_short_error(make_app: Callable[..., Guard]) -> None:
    """330,000 unknown fields in a 3 MB body: one error, not a 20 MB list of them."""
    client = AsgiClient(make_app())
    body = json.dumps({"prompt": "Hello", **dict.fromkeys(_keys(330_000), 0)}).encode()
    assert 2_500_000 < len(body) < 4_000_000
    r = await client.post("/api/generate", body=body,
                          headers={"content-type": "application/json"})
    assert r.status == 422 and len(r.body) < 2_000
    assert r.detail.startswith("330000 fields are not known fields (the known ones: model, "
                               "temperature, ")
    assert r.json()["errors"] == [{"field": "body", "message": r.detail}]
    # A few are still each named.
    few = await client.post("/api/generate", {"prompt": "x", "temprature": 1, "mx": 2})
    assert [e["field"] for e in few.json()["errors"]] == ["temprature", "mx"]


async def test_the_error_list_is_capped_and_says_how_many_more(
        make_app: Callable[..., Guard]) -> None:
    client = AsgiClient(make_app())
    messages = [{"role": "robot", "content": 5}] * 200  # two errors each
    r = await client.post("/api/generate", {"mode": "chat", "messages": messages})
    assert r.status == 422 and len(r.body) < 4_000
    got = r.json()
    assert len(got["errors"]) == MAX_ERRORS and got["more_errors"] == 400 - MAX_ERRORS
    assert got["detail"] == "messages[0].role: must be 'user' or 'assistant'"
    assert "more_errors" not in (await client.post("/api/generate", {"prompt": 5})).json()
