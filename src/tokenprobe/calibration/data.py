"""A labelled set for `calibrate`: reading its JSONL, and judging an open answer.

Two forms, one item per line (blank lines skipped, lines end at LF):
- multiple choice: `{"id": …, "prompt": "…", "options": ["…", …], "answer": INDEX}`; the
  options are scored as fixed answers after the prompt (`choose`), exactly as written;
- open answer: `{"id": …, "prompt": "…", "answer": "…"}` or `"answer": ["…", …]` for several
  accepted answers; the model answers, and the answer is judged against each accepted one.
`id` (a string or a number) is optional: without it the line's content names it, so a re-run
finds it again. A bad line is refused with its line number.

Judging rules (`judge`): `exact` the answer's text without its surrounding whitespace equals
an accepted answer's; `normalised` both are compared after lower-casing, removing
punctuation and the articles a / an / the, and collapsing whitespace (the SQuAD rule);
`contains` an accepted answer, normalised, appears in the normalised answer as whole words.

It leaves out running the model (ops/calibrate.py) and the figures (metrics.py).
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from typing import Any

from tokenprobe.errors import FormatError, InputError
from tokenprobe.ops.batch_input import content_id, jsonl_items, read_jsonl

JUDGES = ("exact", "normalised", "contains")


@dataclass
class LabelledItem:
    id: str
    prompt: str
    options: list[str] | None = None  # multiple choice
    answer_index: int | None = None  # multiple choice: the right option
    answers: list[str] = field(default_factory=list)  # open answer: those accepted

    @property
    def kind(self) -> str:
        return "choice" if self.options is not None else "open"

    def to_dict(self) -> dict[str, Any]:
        if self.options is not None:
            return {"id": self.id, "prompt": self.prompt, "options": self.options,
                    "answer": self.answer_index}
        return {"id": self.id, "prompt": self.prompt, "answer": self.answers}


def read_items(path: str | os.PathLike[str]) -> list[LabelledItem]:
    return items_from_text(read_jsonl(path), str(path))


def items_from_text(text: str, name: str) -> list[LabelledItem]:
    """The items of a set's JSONL text (`name` names it in errors: a path, an upload)."""
    return jsonl_items(text, name, parse_item, "items")


def parse_item(doc: Any, where: str) -> LabelledItem:
    """One line's item; every mistake is a one-line FormatError naming `where`."""
    if not isinstance(doc, dict):
        raise FormatError(f"{where} must be a JSON object with \"prompt\" and \"answer\"")
    unknown = set(doc) - {"id", "prompt", "options", "answer"}
    if unknown:
        raise FormatError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    prompt = doc.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise FormatError(f"{where}: \"prompt\" must be a non-empty string")
    given = doc.get("id")
    if given is not None and (isinstance(given, bool) or not isinstance(given, (str, int))):
        raise FormatError(f"{where}: id must be a string or a number")
    ident = str(given) if given is not None else content_id(doc)
    if "answer" not in doc:
        raise FormatError(f"{where}: \"answer\" is missing")
    answer = doc["answer"]
    if "options" in doc:
        options = doc["options"]
        if (not isinstance(options, list) or len(options) < 2
                or not all(isinstance(o, str) and o for o in options)):
            raise FormatError(f"{where}: \"options\" must be a list of at least two "
                              "non-empty strings")
        if len(set(options)) != len(options):
            raise FormatError(f"{where}: an option is given twice")
        if isinstance(answer, bool) or not isinstance(answer, int) or not (
                0 <= answer < len(options)):
            raise FormatError(f"{where}: with \"options\", \"answer\" must be the right "
                              f"option's index (0 to {len(options) - 1})")
        return LabelledItem(ident, prompt, options=list(options), answer_index=answer)
    answers = [answer] if isinstance(answer, str) else answer
    if (not isinstance(answers, list) or not answers
            or not all(isinstance(a, str) and a.strip() for a in answers)):
        raise FormatError(f"{where}: \"answer\" must be a non-empty string or a list of them "
                          "(or an option's index, with \"options\")")
    return LabelledItem(ident, prompt, answers=list(answers))


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the SQuAD rule)."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


def judge(answer: str, accepted: list[str], rule: str) -> bool:
    if rule == "exact":
        return any(answer.strip() == a.strip() for a in accepted)
    if rule == "normalised":
        return any(normalise(answer) == normalise(a) for a in accepted)
    if rule == "contains":
        said = f" {normalise(answer)} "
        return any(normalise(a) and f" {normalise(a)} " in said for a in accepted)
    raise InputError(f"--judge must be one of {', '.join(JUDGES)} (got {rule!r})")
