"""The history: a SQLite file of traces, comparisons, choices and sweeps in the user's data
directory.

Every save is one transaction (SQLite's journal makes it atomic: a process killed in the
middle of a save leaves the store as it was before, with every earlier record intact), and
readers may use the file while another process writes (WAL mode). The file carries a
version (`PRAGMA user_version`); a file from a newer tokenprobe, or one that is not a
database, is refused with a one-line error and never modified.

Location: `$TOKENPROBE_HOME/history.sqlite3` if set, else
`$XDG_DATA_HOME/tokenprobe/history.sqlite3` (default `~/.local/share/tokenprobe`).

It leaves out rendering (views/) and what a comparison contains (compare.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.trace import Trace

STORE_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- trace | comparison | choice | sweep
    created TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    backend TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',  -- the prompt or a label, for lists and search
    text TEXT NOT NULL DEFAULT '',   -- the generated or scored text, for search
    parent_id TEXT,                  -- a branch's parent trace
    root_id TEXT,                    -- the first trace of a branch tree
    body TEXT NOT NULL               -- the JSON document
);
CREATE INDEX IF NOT EXISTS records_created ON records (created);
CREATE INDEX IF NOT EXISTS records_root ON records (root_id);
"""


class StoreError(TokenprobeError):
    """The history store cannot be used (corrupt, newer, unwritable)."""


def default_path() -> Path:
    home = os.environ.get("TOKENPROBE_HOME")
    if home:
        return Path(home) / "history.sqlite3"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "tokenprobe" / "history.sqlite3"


@dataclass
class Record:
    id: str
    kind: str
    created: str
    model: str
    backend: str
    mode: str
    title: str
    text: str
    parent_id: str | None
    root_id: str | None

    def document(self, store: Store) -> dict[str, Any]:
        return store.document(self.id)


class Store:
    """The history store. Open it with `Store()` (default path) or `Store(path)`."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._check()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the history store {self.path}: {e}") from None
        try:
            yield conn
        except sqlite3.DatabaseError as e:
            raise StoreError(f"the history store {self.path} cannot be used: {e}") from None
        finally:
            conn.close()

    def _check(self) -> None:
        with self._connect() as conn:
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError:
                raise StoreError(
                    f"the history store {self.path} is not a valid database (left untouched; "
                    "move it away to start a new history)"
                ) from None
            if version > STORE_VERSION:
                raise StoreError(
                    f"the history store {self.path} was written by a newer tokenprobe "
                    f"(store version {version}); upgrade tokenprobe"
                )
            if version < STORE_VERSION:
                conn.execute("PRAGMA journal_mode=WAL")
                with conn:
                    conn.executescript(_SCHEMA)
                    conn.execute(f"PRAGMA user_version = {STORE_VERSION}")

    # --- writing --------------------------------------------------------------------

    def save_trace(self, trace: Trace) -> str:
        parent = trace.parent or {}
        parent_id = parent.get("id")
        root_id = trace.id
        if parent_id:
            root_id = self._root_of(parent_id) or parent_id
        title = trace.request.prompt or ""
        if trace.request.mode == "chat" and trace.request.messages:
            users = [m.get("content", "") for m in trace.request.messages
                     if m.get("role") == "user"]
            title = users[-1] if users else title
        self._put(trace.id, "trace", trace.created, trace.model, trace.backend,
                  trace.request.mode, title, trace.text or "", parent_id, root_id,
                  trace.to_json())
        return trace.id

    def save_document(self, doc_id: str, kind: str, created: str, title: str,
                      document: dict[str, Any], model: str = "", text: str = "") -> str:
        self._put(doc_id, kind, created, model, "", kind, title, text, None, doc_id,
                  json.dumps(document, ensure_ascii=False, allow_nan=False))
        return doc_id

    def _put(self, *row: Any) -> None:
        with self._connect() as conn, conn:  # one transaction: all or nothing
            conn.execute(
                "INSERT OR REPLACE INTO records (id, kind, created, model, backend, mode, title,"
                " text, parent_id, root_id, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)

    def find(self, record_id: str) -> Record | None:
        """The record with exactly this id, or None (no prefix matching)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, kind, created, model, backend, mode, title, text, parent_id, root_id"
                " FROM records WHERE id = ?", (record_id,)).fetchone()
        return Record(*row) if row else None

    def _root_of(self, record_id: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT root_id FROM records WHERE id = ?",
                               (record_id,)).fetchone()
        return row[0] if row else None

    def delete(self, ref: str) -> Record:
        rec = self.get(ref)
        with self._connect() as conn, conn:
            conn.execute("DELETE FROM records WHERE id = ?", (rec.id,))
        return rec

    # --- reading --------------------------------------------------------------------

    def list(self, search: str | None = None, limit: int = 50,
             kind: str | None = None) -> list[Record]:
        sql = ("SELECT id, kind, created, model, backend, mode, title, text, parent_id, "
               "root_id FROM records")
        where, args = [], []
        if search:
            where.append("(title LIKE ? ESCAPE '\\' OR text LIKE ? ESCAPE '\\')")
            pat = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args += [pat, pat]
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, rowid DESC LIMIT ?"
        args.append(limit)
        with self._connect() as conn:
            return [Record(*r) for r in conn.execute(sql, args).fetchall()]

    def get(self, ref: str) -> Record:
        """A record by id or by a unique id prefix (at least 4 characters)."""
        rec = self.lookup(ref)
        if rec is None:
            raise InputError(f"no history entry with id {ref!r}")
        return rec

    def lookup(self, ref: str) -> Record | None:
        """The record `ref` names (its id, or a unique prefix of at least 4 characters), or
        None when none does; a prefix that several ids share is an InputError.

        The prefix is compared character for character (ids are lower-case hex): a LIKE
        pattern would read `_` and `%` as wildcards and ignore case.
        """
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, kind, created, model, backend, mode, title, text, parent_id, root_id"
                " FROM records WHERE id = ? OR (length(?) >= 4 AND substr(id, 1, length(?)) = ?)",
                (ref, ref, ref, ref)).fetchall()
        exact = [r for r in rows if r[0] == ref]
        if exact:
            return Record(*exact[0])
        if not rows:
            return None
        if len(rows) > 1:
            raise InputError(f"the id prefix {ref!r} matches {len(rows)} entries; give more")
        return Record(*rows[0])

    def document(self, ref: str) -> dict[str, Any]:
        rec = self.get(ref)
        with self._connect() as conn:
            body = conn.execute("SELECT body FROM records WHERE id = ?", (rec.id,)).fetchone()
        return json.loads(body[0])  # type: ignore[no-any-return]

    def trace(self, ref: str) -> Trace:
        rec = self.get(ref)
        if rec.kind != "trace":
            raise InputError(f"history entry {rec.id} is a {rec.kind}, not a trace")
        return Trace.from_dict(self.document(rec.id))

    def tree(self, ref: str) -> list[Trace]:
        """Every trace of the branch tree that `ref` belongs to, oldest first."""
        rec = self.get(ref)
        root = rec.root_id or rec.id
        with self._connect() as conn:
            rows = conn.execute("SELECT body FROM records WHERE root_id = ? AND kind = 'trace'"
                                " ORDER BY created, rowid", (root,)).fetchall()
        return [Trace.from_dict(json.loads(r[0])) for r in rows]
