"""Calibrate: is the model's confidence worth anything on a labelled set?

Each run (a model × a system prompt × a temperature: several side by side) asks every item:
an open answer is generated (greedy at T = 0, the default) and judged; a multiple-choice
item's options, and an open item's accepted answers, are scored as fixed answers after the
prompt, as `choose` scores them. All of it goes through batch (ops/batch.py): its
concurrency against servers, its resuming (the traces are appended to a work file, JSONL,
one per request, named by ids made from the run's settings and the item, so a re-run skips
what is done), its progress. Scoring is shared by the runs that differ only in temperature.

The result is one `tokenprobe/calibration@1` document: the settings, and per run its items
(the answer or the options' probabilities, whether right, each signal's value, the traces)
and each signal's figures (calibration/report.py). See docs/architecture.md.

It leaves out the command line and the drawing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenprobe.api import build_request
from tokenprobe.backends import Backend, BackendOptions, get_backend
from tokenprobe.calibration.data import JUDGES, LabelledItem, judge
from tokenprobe.calibration.report import signal_figures
from tokenprobe.calibration.signals import (
    CHOICE_SIGNALS,
    OPEN_SIGNALS,
    PART,
    choice_outcome,
    open_signals,
    thinking_of,
)
from tokenprobe.errors import InputError
from tokenprobe.ops.batch import Item, Progress, run_batch_sync
from tokenprobe.ops.choose import choice_from_traces
from tokenprobe.trace import Trace, _now

SCHEMA = "tokenprobe/calibration@1"


@dataclass
class Settings:
    judge: str = "normalised"
    chat: bool = False
    max_tokens: int = 16
    stop: tuple[str, ...] = ("\n",)
    alternatives: int = 5
    seed: int = 0  # sampling at T > 0, the bootstrap and the scaling split
    n_bins: int = 10
    resamples: int = 1000
    concurrency: int = 8


@dataclass
class Run:
    model: str | None
    system: str | None
    temperature: float

    def label(self) -> str:
        parts = [self.model or "embedded"]
        if self.system is not None:
            parts.append(f"system {self.system[:40]!r}")
        parts.append("greedy" if self.temperature == 0 else f"T={self.temperature:g}")
        return " · ".join(parts)


def runs_of(models: list[str | None], systems: list[str | None],
            temperatures: list[float]) -> list[Run]:
    for t in temperatures:
        if t < 0:
            raise InputError(f"-t must be >= 0 (got {t:g})")
    return [Run(m, s, t) for m in models for s in systems for t in temperatures]


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts).encode("utf-8")).hexdigest()[:10]


def _requests(run: Run, item: LabelledItem, st: Settings) -> tuple[Any, Any]:
    chat = st.chat or run.system is not None
    scoring = build_request(item.prompt, chat=chat, system=run.system, temperature=1.0,
                            alternatives=st.alternatives)
    answer = build_request(item.prompt, chat=chat, system=run.system,
                           max_tokens=st.max_tokens, temperature=run.temperature,
                           seed=st.seed, alternatives=st.alternatives, stop=list(st.stop))
    return scoring, answer


def _ids(run: Run, item: LabelledItem, st: Settings) -> dict[str, Any]:
    """The work file's ids of the item's requests under the run."""
    score_key = _key(run.model, run.system, st.chat, st.alternatives)
    gen_key = _key(run.model, run.system, st.chat, st.alternatives, run.temperature,
                   st.max_tokens, list(st.stop), st.seed)
    if item.options is not None:
        return {"options": [f"{score_key}:{item.id}:option{k}"
                            for k in range(len(item.options))]}
    return {"answer": f"{gen_key}:{item.id}:answer",
            "gold": [f"{score_key}:{item.id}:gold{k}" for k in range(len(item.answers))]}


def plan(runs: list[Run], items: list[LabelledItem], st: Settings) -> dict[str | None,
                                                                           list[Item]]:
    """The batch items each model is asked, without repeats (scoring is shared by the runs
    that differ only in temperature)."""
    out: dict[str | None, dict[str, Item]] = {}
    for run in runs:
        todo = out.setdefault(run.model, {})
        for item in items:
            scoring, answer = _requests(run, item, st)
            ids = _ids(run, item, st)
            if item.options is not None:
                for ident, option in zip(ids["options"], item.options):
                    todo[ident] = Item(ident, scoring, answer=option)
            else:
                todo[ids["answer"]] = Item(ids["answer"], answer)
                for ident, gold in zip(ids["gold"], item.answers):
                    todo[ident] = Item(ident, scoring, answer=gold)
    return {m: list(d.values()) for m, d in out.items()}


def read_work(path: Path) -> dict[str, dict[str, Any]]:
    """The complete traces in the work file by id (the last one written wins)."""
    found: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            doc = json.loads(line)
            if doc.get("complete", True):
                found[str(doc["source"]["batch_id"])] = doc
    return found


def calibrate(
    items: list[LabelledItem],
    work: Path,
    models: list[str | None] | None = None,
    systems: list[str | None] | None = None,
    temperatures: list[float] | None = None,
    settings: Settings | None = None,
    data: str = "",
    backend_options: BackendOptions | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    get_model: Callable[[str | None], Backend] | None = None,
) -> dict[str, Any]:
    """Run every item under every run (resuming from `work`) and return the document.

    `get_model` gives a model's backend (the web app's offered models, each with its own
    server and key); without it `models` are `--model` values under `backend_options`."""
    st = settings or Settings()
    if st.judge not in JUDGES:
        raise InputError(f"--judge must be one of {', '.join(JUDGES)} (got {st.judge!r})")
    runs = runs_of(models or [None], systems or [None],
                   temperatures if temperatures else [0.0])
    planned = plan(runs, items, st)
    if on_total is not None:
        on_total(sum(len(v) for v in planned.values()))
    names: dict[str | None, str] = {}
    failed: dict[str, str] = {}
    for model, batch_items in planned.items():
        backend = (get_model(model) if get_model is not None
                   else get_backend(model, backend_options))
        names[model] = backend.model
        result = run_batch_sync(backend, batch_items, work, st.concurrency, progress)
        failed.update(result.failed)
    traces = read_work(work)
    doc: dict[str, Any] = {
        "schema": SCHEMA, "id": uuid.uuid4().hex, "created": _now(), "data": data,
        "n_items": len(items), "work": str(work), "part": PART,
        "settings": {"judge": st.judge, "chat": st.chat, "max_tokens": st.max_tokens,
                     "stop": list(st.stop), "alternatives": st.alternatives,
                     "seed": st.seed, "n_bins": st.n_bins, "resamples": st.resamples},
        "runs": [_run_doc(run, names[run.model], items, traces, failed, st) for run in runs],
    }
    return doc


def _run_doc(run: Run, model_name: str, items: list[LabelledItem],
             traces: dict[str, dict[str, Any]], failed: dict[str, str],
             st: Settings) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    for item in items:
        ids = _ids(run, item, st)
        wanted = ids["options"] if item.options is not None else [ids["answer"], *ids["gold"]]
        absent = [i for i in wanted if i not in traces]
        if absent:
            missing.append({"id": item.id, "error": failed.get(absent[0], "not answered")})
            continue
        if item.options is not None:
            records.append(_choice_record(item, [traces[i] for i in ids["options"]], run,
                                          model_name))
        else:
            records.append(_open_record(item, traces[ids["answer"]],
                                        [traces[i] for i in ids["gold"]], st))
    signals: dict[str, Any] = {}
    for kind, group in (("choice", CHOICE_SIGNALS), ("open", OPEN_SIGNALS)):
        mine = [r for r in records if r["kind"] == kind]
        if not mine:
            continue
        for sig in group:
            have = [r for r in mine if r["signals"][sig.name]["confidence"] is not None]
            conf = [r["signals"][sig.name]["confidence"] for r in have]
            hit = [r["signals"][sig.name]["correct"] for r in have]
            logits = labels = None
            if kind == "choice" and len({len(r["options"]) for r in have}) == 1:
                logits = [[s / run.temperature if run.temperature > 0 else s
                           for s in r["outcome"][sig.name]["scores"]] for r in have]
                labels = [r["answer"] for r in have]
            figures = signal_figures(conf, hit, sig.probability, logits, labels,
                                     n_bins=st.n_bins, resamples=st.resamples, seed=st.seed)
            signals[sig.name] = {"kind": kind, "label": sig.label,
                                 "probability": sig.probability,
                                 "without_value": len(mine) - len(have), **figures}
    return {"label": run.label(), "model": model_name, "model_spec": run.model,
            "system": run.system, "temperature": run.temperature,
            "items": records, "failed": missing, "signals": signals}


def _open_record(item: LabelledItem, answer: dict[str, Any], gold: list[dict[str, Any]],
                 st: Settings) -> dict[str, Any]:
    trace = Trace.from_dict(answer)
    values = open_signals(trace, [Trace.from_dict(g) for g in gold])
    right = judge(trace.text, item.answers, st.judge)
    record = {"id": item.id, "kind": "open", "prompt": item.prompt, "answers": item.answers,
              "text": trace.text, "correct": right,
              "signals": {k: {"confidence": v, "correct": right} for k, v in values.items()},
              "traces": [answer]}
    thinking = thinking_of([trace])
    if thinking is not None:  # the signals and the judge saw the answer only
        record["thinking"] = thinking
    return record


def _choice_record(item: LabelledItem, docs: list[dict[str, Any]], run: Run,
                   model_name: str) -> dict[str, Any]:
    assert item.options is not None and item.answer_index is not None
    choice = choice_from_traces(item.prompt, item.options,
                                [Trace.from_dict(d) for d in docs], model_name)
    # T = 0 would divide by zero: the options are then compared at T = 1 (the prediction,
    # the most probable option, is the same at every T > 0).
    outcome = choice_outcome(choice, item.answer_index,
                             run.temperature if run.temperature > 0 else 1.0)
    record = {"id": item.id, "kind": "choice", "prompt": item.prompt,
              "options": item.options, "answer": item.answer_index, "outcome": outcome,
              "signals": {k: {"confidence": v["confidence"], "correct": v["correct"]}
                          for k, v in outcome.items()},
              "traces": docs}
    thinking = thinking_of([o.trace for o in choice.options])
    if thinking is not None:
        record["thinking"] = thinking
    return record
