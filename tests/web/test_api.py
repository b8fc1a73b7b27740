"""Every endpoint of the web API, in process: what it answers, that streamed tokens are the
library's tokens, and that everything lands in the history. Generation, scoring, branching,
choosing and the history run on the scripted model (tests/scripted_model.py); chat, the
model list and its embedded default on the embedded model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.scripted_model import SPEC, expected_logprobs
from tests.scripted_model import encode as scripted_ids
from tests.servers.faultserver import fault_server, silence, status
from tests.views.traces import split_differently
from tests.web.asgi import AsgiClient
from tests.web.conftest import last, live_text, names, state_of

from tokenprobe.api import build_request
from tokenprobe.backends import evict, get_backend
from tokenprobe.ops.choose import choose
from tokenprobe.ops.compare import compare
from tokenprobe.own_model import OwnModel
from tokenprobe.trace import Candidate, Request, Step, Trace
from tokenprobe.views.html import render_document
from tokenprobe.web.security import Guard

PROMPT = "The capital of France is"
GREEDY = {"temperature": 0, "max_tokens": 6, "alternatives": 4}


async def run(client: AsgiClient, path: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    async with client.stream("POST", path, body) as s:
        assert s.status == 200, s
        assert s.headers["content-type"].startswith("text/event-stream")
        return await s.rest()


async def test_health_info_models_and_openapi(client: AsgiClient) -> None:
    h = await client.get("/api/health")
    assert h.status == 200 and h.json()["status"] == "ok"
    info = (await client.get("/api/info")).json()
    assert info["auth"] is False and info["default_model"] == "embedded"
    assert info["limits"]["alternatives"] == 100
    models = (await client.get("/api/models")).json()
    assert models["default"] == "embedded"
    (m,) = models["models"]
    assert m["id"] == "embedded" and m["local"] and "chats poorly" in m["note"]
    schema = (await client.get("/api/openapi.json")).json()
    for path in ("/api/generate", "/api/branch", "/api/score", "/api/compare", "/api/choose",
                 "/api/jobs/{job_id}/cancel", "/api/history", "/api/history/{record_id}",
                 "/api/history/{record_id}/export", "/api/models", "/api/health"):
        assert path in schema["paths"], path
    gen = schema["paths"]["/api/generate"]["post"]
    assert "text/event-stream" in gen["responses"]["200"]["content"]
    assert "GenerateIn" in json.dumps(gen["requestBody"])


async def test_generate_streams_the_library_tokens_and_saves(
        scripted_client: AsgiClient, scripted_model: OwnModel) -> None:
    client = scripted_client
    events = await run(client, "/api/generate", {"prompt": PROMPT, **GREEDY})
    seq = names(events)
    assert seq[0] == "started" and seq[1] == "trace" and seq[-1] == "done"
    assert seq.count("steps") == 6  # one event per token: each went out as it was made
    done = last(events, "done")
    direct = scripted_model.stream(build_request(PROMPT, **GREEDY)).run()  # type: ignore[arg-type]
    assert live_text(events) == direct.text == done["trace"]["text"]
    assert done["trace"]["model"] == direct.model and direct.backend == "own"
    assert done["trace"]["summary"]["tokens"] == 6 and done["trace"]["complete"] is True
    assert done["timing"]["tokens"] == 6 and done["timing"]["ttft_ms"] > 0
    # Live numbers are the export's numbers: the same quantised logprobs.
    lps = [lp for n, d in events if n == "steps" for lp in d["steps"]["lp"]]
    assert lps == done["trace"]["steps"]["lp"]
    # Saved: the history lists it and opens it.
    rec_id = done["saved"]
    assert rec_id == done["trace"]["id"]
    listed = (await client.get("/api/history")).json()["records"]
    assert [r["id"] for r in listed] == [rec_id]
    entry = (await client.get(f"/api/history/{rec_id}")).json()
    assert entry["kind"] == "trace" and entry["traces"][0]["text"] == direct.text


async def test_chat_with_history_and_system(client: AsgiClient) -> None:
    body = {"mode": "chat", "system": "Answer in one word.", "messages": [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"}], **GREEDY}
    events = await run(client, "/api/generate", body)
    trace = last(events, "done")["trace"]
    assert trace["request"]["mode"] == "chat"
    assert [m["role"] for m in trace["request"]["messages"]] == [
        "system", "user", "assistant", "user"]
    assert trace["request"]["prompt"] == "And of Italy?"


async def test_score_reports_progress_and_the_scored_tokens(
        scripted_client: AsgiClient, scripted_model: OwnModel) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    events = await run(scripted_client, "/api/score", {"text": text, "alternatives": 3})
    assert "progress" in names(events)
    trace = last(events, "done")["trace"]
    direct = scripted_model.score(text, alternatives=3)
    assert trace["prompt_steps"]["n"] == len(direct.prompt_steps) == len(text) + 1
    # The scored tokens' logprobs are the table's log-softmax (numpy, float64).
    ids = scripted_ids(text)
    want = [expected_logprobs(ids[k - 1])[ids[k]] for k in range(1, len(ids))]
    assert [s.logprob for s in direct.prompt_steps[1:]] == pytest.approx(want, abs=1e-5)
    assert trace["summary"]["scope"] == "prompt_steps"
    assert trace["summary"]["perplexity"] == pytest.approx(
        __import__("tokenprobe.metrics", fromlist=["summarize"]).summarize(direct).perplexity,
        rel=1e-6)


async def test_compare_two_system_prompts_and_a_fixed_answer(client: AsgiClient,
                                                             app: Guard) -> None:
    body = {"prompts": ["What is the capital of France?"],
            "systems": ["Answer briefly.", "Answer like a pirate."], "max_tokens": 4,
            "alternatives": 3}
    events = await run(client, "/api/compare", body)
    progress = [d for n, d in events if n == "progress"]
    assert [p["done"] for p in progress] == [1, 2] and progress[0]["total"] == 2
    c = last(events, "done")["comparison"]
    assert len(c["variants"]) == 2 and c["deltas"] is None
    assert c["variants"][0]["label"].startswith("system=Answer briefly")
    assert c["variants"][0]["stats"]["tokens"][0] >= 1
    fixed = await run(client, "/api/compare", {**body, "answer": "Paris"})
    fc = last(fixed, "done")["comparison"]
    assert fc["answer"] == "Paris"
    assert fc["deltas"][0] == [0.0] * len(fc["deltas"][0])  # the base against itself
    texts = [v["traces"][0]["text"] for v in fc["variants"]]
    assert texts == ["Paris", "Paris"]  # the same tokens under both
    saved = last(fixed, "done")["saved"]
    entry = (await client.get(f"/api/history/{saved}")).json()
    assert entry["kind"] == "comparison" and entry["comparison"]["deltas"] == fc["deltas"]
    # Exported as HTML it is the comparison page (variants side by side), not a plain list.
    page = (await client.get(f"/api/history/{saved}/export?format=html")).body.decode()
    data = json.loads(page.split('id="tp-data">')[1].split("</script>")[0])
    assert data["comparison"]["answer"] == "Paris" and len(data["comparison"]["variants"]) == 2
    # It names itself as the CLI's export does (from the answer), not by the record's title.
    assert data["title"] is None
    cli_page = render_document("comparison", state_of(app).store.document(saved), [])
    assert page.split("<title>")[1].split("</title>")[0] == \
        cli_page.split("<title>")[1].split("</title>")[0]


async def test_a_variant_split_into_other_tokens_gets_no_deltas(
        scripted_client: AsgiClient, scripted_app: Guard) -> None:
    client, app = scripted_client, scripted_app
    c = split_differently(compare([PROMPT, "The largest city in Germany is"],
                                  answer=" Paris, a city", models=[SPEC]), 1)
    state_of(app).store.save_document(c.id, "comparison", c.created, "split", c.to_dict(),
                                      text=c.answer or "")
    got = (await client.get(f"/api/history/{c.id}")).json()["comparison"]
    assert got["deltas"] == c.token_deltas() and got["deltas"][1] is None
    assert got["deltas"][0] == [0.0] * len(c.variants[0].traces[0].steps)


async def test_branch_from_an_alternative_streams_and_joins_the_tree(
        scripted_client: AsgiClient) -> None:
    client = scripted_client
    parent = last(await run(client, "/api/generate", {"prompt": PROMPT, **GREEDY}), "done")
    pid = parent["saved"]
    events = await run(client, "/api/branch", {"trace_id": pid, "step": 1, "candidate": 1})
    branch = last(events, "done")["trace"]
    assert branch["steps"]["n"] >= 2 and names(events).count("steps") == branch["steps"]["n"]
    # The prefix is the parent's, the forced token is the parent's second alternative.
    p_vocab, b_vocab = parent["trace"]["vocab"], branch["vocab"]
    p_tok = parent["trace"]["steps"]["tok"]
    p_top = parent["trace"]["steps"]["top_tok"]
    n0 = parent["trace"]["steps"]["top_n"][0]
    alt = p_vocab[p_top[n0 + 1]]
    assert b_vocab[branch["steps"]["tok"][0]] == p_vocab[p_tok[0]]
    assert b_vocab[branch["steps"]["tok"][1]] == alt
    entry = (await client.get(f"/api/history/{pid}")).json()
    assert [t["id"] for t in entry["traces"]] == [pid, branch["id"]]
    assert entry["index"] == 0
    # Branching by text works too, and so does a branch of a branch.
    more = await run(client, "/api/branch", {"trace_id": branch["id"], "step": 2,
                                             "token": " Lyon"})
    assert last(more, "done")["trace"]["text"].split(" Lyon")[0] in branch["text"]
    tree = (await client.get(f"/api/history/{branch['id']}")).json()["traces"]
    assert len(tree) == 3


async def test_choose_gives_probabilities_that_sum_to_one(scripted_client: AsgiClient) -> None:
    client = scripted_client
    events = await run(client, "/api/choose", {"prompt": PROMPT,
                                               "options": [" Paris", " Berlin"]})
    ch = last(events, "done")["choice"]
    direct = choose(PROMPT, [" Paris", " Berlin"], model=SPEC)
    assert sum(o["probability"] for o in ch["options"]) == pytest.approx(1.0)
    assert ch["best"] == direct.best().option
    assert [o["total_logprob"] for o in ch["options"]] == pytest.approx(
        [o.total_logprob for o in direct.options])
    saved = last(events, "done")["saved"]
    page = (await client.get(f"/api/history/{saved}/export?format=html")).body.decode()
    data = json.loads(page.split('id="tp-data">')[1].split("</script>")[0])
    assert [o["option"] for o in data["choice"]["options"]] == [" Paris", " Berlin"]
    assert data["title"] is None  # the choice page names itself


async def test_models_keep_keys_on_the_server(client: AsgiClient, app: Guard) -> None:
    key = "sk-test-KEEPMEONTHESERVER0123456789"
    r = await client.post("/api/models", {"spec": "openai:my-model",
                                          "base_url": "http://user:pw@127.0.0.1:9/v1",
                                          "api_key": key, "label": "My server"})
    assert r.status == 201
    added = r.json()
    assert added["has_key"] is True and added["base_url"] == "http://127.0.0.1:9/v1"
    assert key not in r.body.decode() and "pw" not in r.body.decode()
    listed = await client.get("/api/models")
    assert key not in listed.body.decode() and added["id"] in listed.body.decode()
    assert state_of(app).registry.get(added["id"]).options.api_key == key
    again = await client.post("/api/models", {"spec": "openai:my-model",
                                              "base_url": "http://user:pw@127.0.0.1:9/v1",
                                              "api_key": key})
    assert again.json()["id"] == added["id"]  # the same model is one entry
    removed = await client.delete(f"/api/models/{added['id']}")
    assert removed.status == 200
    assert len((await client.get("/api/models")).json()["models"]) == 1
    builtin = await client.delete("/api/models/embedded")
    assert builtin.status == 422 and "only models added in the page" in builtin.detail

    # A password in the spec's own URL: never in a label, an id, a queue's name or an error.
    secret = "pw12345"
    r = await client.post("/api/models", {"spec": f"llamacpp:http://bob:{secret}@127.0.0.1:9"})
    assert r.status == 201 and secret not in r.body.decode() and "bob" not in r.body.decode()
    lc = r.json()
    assert lc["base_url"] == "http://127.0.0.1:9" and lc["label"] == "llamacpp:http://127.0.0.1:9"
    events = await run(client, "/api/generate", {"prompt": "x", "model": lc["id"],
                                                 "max_tokens": 1})
    assert names(events)[-1] == "error" and secret not in json.dumps(events)
    health = await client.get("/api/health")
    assert secret not in health.body.decode() and "bob" not in health.body.decode()
    assert lc["id"] in health.json()["queues"]  # the lane is named by the entry's id
    unknown = await client.post("/api/generate", {"prompt": "x", "model": "nope"})
    assert unknown.status == 422 and lc["id"] in unknown.detail
    assert secret not in unknown.body.decode()
    # The same without a scheme (host:port, as llamacpp: also takes it).
    bare = await client.post("/api/models", {"spec": f"llamacpp:bob:{secret}@127.0.0.1:9"})
    assert bare.status == 201 and secret not in bare.body.decode()
    assert bare.json()["base_url"] == "http://127.0.0.1:9"
    assert bare.json()["label"] == "llamacpp:127.0.0.1:9"
    assert secret not in (await client.get("/api/models")).body.decode()
    # A URL no request can go to is refused at once, in one line, and the list still works.
    for bad in ({"spec": "openai:m", "base_url": f"http://u:{secret}@host:abc/v1"},
                {"spec": f"llamacpp:http://u:{secret}@host:abc"},
                {"spec": "openai:m", "base_url": f"http://u:{secret}@host:99999/v1"},
                {"spec": "openai:m", "base_url": f"ftp://u:{secret}@host/v1"},
                {"spec": f"nope:http://u:{secret}@host"}):
        refused = await client.post("/api/models", bad)
        assert refused.status == 422, bad
        assert secret not in refused.body.decode() and "\n" not in refused.detail, bad
    listed = await client.get("/api/models")
    assert listed.status == 200 and len(listed.json()["models"]) == 3


async def test_a_model_says_what_its_numbers_are(client: AsgiClient, app: Guard) -> None:
    # As --logprobs-kind: a vLLM started with processed_logprobs or a logits mode is declared
    # in the model's settings, and its backend reads the numbers for what they are.
    r = await client.post("/api/models", {"spec": "openai:gemma",
                                          "base_url": "http://127.0.0.1:9/v1",
                                          "logprobs_kind": "processed"})
    assert r.status == 201 and r.json()["logprobs_kind"] == "processed"
    entry = state_of(app).registry.get(r.json()["id"])
    assert state_of(app).registry.backend(entry.id).declared_kind == "processed"  # type: ignore[attr-defined]
    plain = await client.post("/api/models", {"spec": "openai:gemma",
                                              "base_url": "http://127.0.0.1:9/v1"})
    assert plain.json()["id"] != r.json()["id"] and plain.json()["logprobs_kind"] is None
    bad = await client.post("/api/models", {"spec": "openai:gemma", "logprobs_kind": "probs"})
    assert bad.status == 422 and "logprobs_kind" in bad.detail and "\n" not in bad.detail
    local = await client.post("/api/models", {"spec": "hf:/nowhere", "logprobs_kind": "raw"})
    assert local.status == 422 and "for server models" in local.detail
    for added in (r.json(), plain.json()):
        assert (await client.delete(f"/api/models/{added['id']}")).status == 200


async def test_removing_a_model_unloads_it_when_no_job_uses_it(client: AsgiClient,
                                                               app: Guard) -> None:
    st = state_of(app)
    with fault_server(silence(1.5)) as fs:
        root = fs.base_url.removesuffix("/v1")
        mid = (await client.post("/api/models", {"spec": f"llamacpp:{root}"})).json()["id"]
        entry = st.registry.get(mid)
        async with client.stream("POST", "/api/generate", {"prompt": "x", "model": mid,
                                                           "max_tokens": 1}) as s:
            await s.until("started")
            busy = await client.delete(f"/api/models/{mid}")
            assert busy.status == 422 and "1 job(s) waiting or running" in busy.detail
            await s.rest()
        backend = get_backend(entry.spec, entry.options)  # the one the job loaded
        assert st.registry.backend(mid) is backend
        assert (await client.delete(f"/api/models/{mid}")).status == 200
    assert backend.http.client.is_closed  # type: ignore[attr-defined]
    assert get_backend(entry.spec, entry.options) is not backend  # forgotten: loaded anew
    assert evict(entry.spec, entry.options)


async def test_a_branch_goes_only_to_an_offered_model(client: AsgiClient, app: Guard,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A saved trace may come from a file: the server it names gets no key of this
    server's, and nothing at all until that server is offered as a model."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SERVERSOWNKEY0123456789")
    refused = status(400, {"error": {"message": "no thanks"}})
    with fault_server(refused) as fs:
        root = fs.base_url.removesuffix("/v1")
        steps = [Step(" blue", -0.4, None, top=[Candidate(" blue", -0.4, None),
                                                 Candidate(" red", -1.6, None)])]
        t = Trace(backend="llamacpp", model="m", request=Request(prompt="The sky is"),
                  steps=steps, source={"base_url": root})
        t.rebuild_text()
        state_of(app).store.save_trace(t)
        r = await client.post("/api/branch", {"trace_id": t.id, "step": 0, "candidate": 1})
        assert r.status == 422 and "does not offer" in r.detail
        assert r.json()["add_model"] == {"spec": f"llamacpp:{root}", "base_url": None,
                                         "logprobs_kind": None}
        assert fs.headers == []  # nothing was sent
        added = await client.post("/api/models", r.json()["add_model"])
        events = await run(client, "/api/branch", {"trace_id": t.id, "step": 0,
                                                   "candidate": 1})
        assert names(events)[-1] == "error" and "no thanks" in last(events, "error")["message"]
        assert len(fs.headers) == 1 and "authorization" not in fs.headers[0]
        assert (await client.delete(f"/api/models/{added.json()['id']}")).status == 200


async def test_history_search_export_and_delete(scripted_client: AsgiClient) -> None:
    client = scripted_client
    a = last(await run(client, "/api/generate", {"prompt": "Roses are red,", **GREEDY}),
             "done")["saved"]
    b = last(await run(client, "/api/generate", {"prompt": PROMPT, **GREEDY}), "done")["saved"]
    found = (await client.get("/api/history?search=roses")).json()["records"]
    assert [r["id"] for r in found] == [a]
    assert (await client.get("/api/history?search=%25")).json()["records"] == []
    j = await client.get(f"/api/history/{b}/export?format=json")
    assert j.status == 200 and 'attachment; filename="tokenprobe-trace-' in \
        j.headers["content-disposition"]
    assert Trace.from_dict(j.json()).id == b
    h = await client.get(f"/api/history/{b}/export?format=html")
    assert h.headers["content-type"].startswith("text/html")
    assert "tokenprobe/page@1" in h.body.decode()
    jl = await client.get(f"/api/history/{b}/export?format=jsonl")
    assert len(jl.body.decode().splitlines()) == 1
    d = await client.delete(f"/api/history/{a}")
    assert d.status == 200 and d.json() == {"deleted": a}
    assert [r["id"] for r in (await client.get("/api/history")).json()["records"]] == [b]
    gone = await client.get(f"/api/history/{a}")
    assert gone.status == 404 and "no history entry" in gone.detail
    # What a server hands the route for /api/history/%25%25%25%25 (the path decoded), with
    # one entry left: wildcards and an upper-case prefix name no entry.
    upper = b[:8].upper()
    for ref in ["%%%%", "____"] + ([upper] if upper != b[:8] else []):
        assert (await client.get(f"/api/history/{ref}")).status == 404, ref
        assert (await client.delete(f"/api/history/{ref}")).status == 404, ref
    assert [r["id"] for r in (await client.get("/api/history")).json()["records"]] == [b]


async def test_every_get_leaves_the_state_as_it_was(scripted_client: AsgiClient,
                                                    scripted_app: Guard) -> None:
    client, app = scripted_client, scripted_app
    rec = last(await run(client, "/api/generate", {"prompt": PROMPT, **GREEDY}), "done")
    st = state_of(app)
    before = (st.store.path.read_bytes(), [e.public() for e in st.registry.list()])
    for route in app.app.routes:  # type: ignore[attr-defined]
        methods = getattr(route, "methods", None) or set()
        if "GET" not in methods or not route.path.startswith("/api"):
            continue
        path = route.path.replace("{record_id}", rec["saved"]).replace("{job_id}", "0" * 32)
        r = await client.get(path)
        assert r.status in (200, 404), (path, r.status)
    after = (st.store.path.read_bytes(), [e.public() for e in st.registry.list()])
    assert after == before
    # State-changing endpoints do not answer GET.
    for path in ("/api/generate", "/api/branch", "/api/score", "/api/compare",
                 "/api/choose", "/api/jobs/x/cancel"):
        assert (await client.get(path)).status == 405, path
