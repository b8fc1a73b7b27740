"""Exports of entries whose ids hold anything (an imported trace keeps its file's id): the
download's name reaches the header encoded (RFC 6266 / RFC 5987), through a real server,
whose HTTP layer is what refused the raw header before."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote

from tests.scripted_model import SPEC
from tests.web.serve import serve

from tokenprobe.store import Store
from tokenprobe.trace import Candidate, Request, Step, Trace

# id -> (the name the download gets, the ASCII fallback)
IDS = {
    "中文标识符-0123": ("tokenprobe-trace-中文标识符-01.json", "tokenprobe-trace-_____-01.json"),
    "naïve-é-0123": ("tokenprobe-trace-naïve-é-.json", "tokenprobe-trace-na_ve-_-.json"),
    "ab\r\nSet-Cookie: x=1": ("tokenprobe-trace-ab__Set-.json",
                              "tokenprobe-trace-ab__Set-.json"),
    'q"t;x=1\\y': ('tokenprobe-trace-q"t;x=1_.json', "tokenprobe-trace-q_t_x_1_.json"),
    "3f0c1a2b9e": ("tokenprobe-trace-3f0c1a2b.json", "tokenprobe-trace-3f0c1a2b.json"),
}
# A quoted ASCII fallback, then the RFC 5987 value: attr-chars and %XX only.
HEADER = re.compile(r"""^attachment; filename="([^"\\]*)"; """
                    r"""filename\*=UTF-8''([!#$&+\-.^_`|~0-9A-Za-z%]*)$""")


def _trace(record_id: str) -> Trace:
    steps = [Step(" blue", -0.4, 1, top=[Candidate(" blue", -0.4, 1)])]
    t = Trace(backend="llama", model="m", request=Request(prompt="The sky is"), steps=steps)
    t.rebuild_text()
    t.id = record_id
    return t


def test_odd_ids_export_with_an_encoded_name(tmp_path: Path) -> None:
    store = Store(tmp_path / "history.sqlite3")
    for record_id in IDS:
        store.save_trace(_trace(record_id))
    # No model runs here: the scripted one, offered by default, starts in milliseconds.
    with serve(tmp_path, "--quiet", "-m", SPEC) as s:
        for record_id, (name, fallback) in IDS.items():
            url = f"{s.url}/api/history/{quote(record_id, safe='')}/export?format=json"
            with urllib.request.urlopen(url, timeout=60) as r:
                status, raw = r.status, r.read()
                header = r.headers["Content-Disposition"]
            assert status == 200, record_id
            assert json.loads(raw)["id"] == record_id
            assert header.isascii(), header
            m = HEADER.match(header)
            assert m, header
            assert m[1] == fallback
            assert unquote(m[2], encoding="utf-8", errors="strict") == name
        # The connection that served them all is fine, and so is the server.
        assert s.call("GET", "/api/health")[0] == 200
