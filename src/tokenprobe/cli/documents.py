"""What the operations' commands do with their result document: keep it in the history
(unless --no-save), write it as JSON (--output, --json) and as a page (--html).

It leaves out making the documents (ops/, ops/calibrate.py), the history itself (store.py)
and drawing them (views/).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenprobe.cli.app import err
from tokenprobe.trace import write_atomic

if TYPE_CHECKING:
    from tokenprobe.store import Store


def write_doc(doc: dict[str, Any], output: Path | None, as_json: bool) -> None:
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    if output is not None:
        write_atomic(output, text + "\n")
        err.print(f"wrote {output}", style="dim")
    if as_json:
        sys.stdout.write(text + "\n")


def write_page(page: str, html: Path) -> None:
    from tokenprobe.views.html import write_page

    write_page(page, html)
    err.print(f"wrote {html}", style="dim")


def save_and_write(doc: dict[str, Any], store: Store | None, kind: str, title: str, *,
                   output: Path | None, as_json: bool, html: Path | None,
                   page: Callable[[], str], model: str = "", text: str = "",
                   saved_note: str = "") -> None:
    """`doc` (with its `id` and `created`) saved in the history as a `kind` record when
    there is a store, then written as JSON and, with --html, as the page `page()` renders
    (rendered only then)."""
    if store is not None:
        store.save_document(doc["id"], kind, doc["created"], title, doc, model=model,
                            text=text)
        err.print(f"saved as {doc['id'][:8]}{saved_note}", style="dim")
    write_doc(doc, output, as_json)
    if html is not None:
        write_page(page(), html)
