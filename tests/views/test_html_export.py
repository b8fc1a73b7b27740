"""The exported page as text: self-contained, escaped, and the compact encoding it carries."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path

from tests.views.traces import EVIL, evil_trace, local_trace, newer_trace, server_trace

from tokenprobe.views.encode import PAGE_FORMAT
from tokenprobe.views.html import SCRIPTS, render_html, render_notebook, write_html

STATIC = Path(__file__).resolve().parents[2] / "src" / "tokenprobe" / "views" / "static"


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="tp-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_page_refers_to_nothing_outside_itself() -> None:
    page = render_html([local_trace()])
    # The only URL-like string is the SVG namespace, an identifier that is never fetched.
    rest = page.replace("http://www.w3.org/2000/svg", "")
    assert "://" not in rest
    assert not re.search(r"\b(src|href|action)\s*=", rest, re.I)
    assert "@import" not in rest and "url(" not in rest
    for name in (*SCRIPTS, "viewer.css", "ops.css", "viewer.html"):
        text = (STATIC / name).read_text("utf-8").replace("http://www.w3.org/2000/svg", "")
        assert "://" not in text, name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, name


def test_csp_allows_exactly_the_inlined_scripts() -> None:
    page = render_html([local_trace()])
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert scripts == [(STATIC / name).read_text("utf-8") for name in SCRIPTS]
    digests = ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
               for s in scripts]
    assert f"script-src {' '.join(digests)};" in page
    assert "default-src 'none'" in page
    # Every <script> element is one of those, or the data (which is never run).
    assert page.count("<script") == len(scripts) + 1


def test_model_text_cannot_end_or_open_elements() -> None:
    page = render_html([evil_trace()], title="</title><script>alert(1)</script>")
    start = page.index('id="tp-data">') + len('id="tp-data">')
    body = page[start:page.index("</script>", start)]
    assert "<" not in body  # every < is \u003c, so no </script> and no <!--
    assert "<title>&lt;/title&gt;&lt;script&gt;" in page
    doc = _data(page)
    assert set(EVIL) <= set(doc["traces"][0]["vocab"])
    assert doc["title"] == "</title><script>alert(1)</script>"


def test_encoding_keeps_what_the_viewer_needs() -> None:
    t = local_trace()
    doc = _data(render_html([t]))
    assert doc["format"] == PAGE_FORMAT
    enc = doc["traces"][0]
    assert enc["schema"] == "tokenprobe/trace@1"
    cols = enc["steps"]
    assert cols["n"] == len(t.steps)
    vocab = enc["vocab"]
    by_index = dict((i, bytes(b)) for i, b in enc["vocab_bytes"])
    assert [by_index.get(v, vocab[v].encode()) for v in cols["tok"]] == [s.data for s in t.steps]
    assert [q / 1e4 for q in cols["lp"]] == [s.logprob for s in t.steps]
    assert cols["rank"] == [s.rank() for s in t.steps]
    assert cols["top_n"] == [len(s.top) for s in t.steps]

    def undelta(flat: list[int], counts: list[int]) -> list[float]:
        out, i = [], 0
        for n in counts:
            prev = None
            for q in flat[i:i + n]:
                prev = q if prev is None else prev - q
                out.append(prev / 1e4)
            i += n
        return out

    assert undelta(cols["top_lp"], cols["top_n"]) == [c.logprob for s in t.steps for c in s.top]
    assert undelta(cols["tail"], cols["tail_n"]) == \
        [v for s in t.steps for v in s.tail_logsumexp or []]
    assert all(d >= 0 for d in cols["top_lp"][1:5])  # sorted: small positive differences
    assert cols["chosen"][5] == -1  # " city" is not among its step's listed top-5
    assert enc["summary"]["tokens"] == len(t.steps)
    assert "tail" not in _data(render_html([server_trace()]))["traces"][0]["steps"]


def test_newer_schema_passes_through_for_the_page_to_explain() -> None:
    enc = _data(render_html([newer_trace()]))["traces"][0]
    assert enc["schema"] == "tokenprobe/trace@2"
    assert "steps" not in enc


def test_write_html_is_atomic_and_complete(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "view.html"
    traces = [local_trace(), server_trace()]
    write_html(traces, out)
    text = out.read_text("utf-8")
    assert text == render_html(traces)
    assert text.rstrip().endswith("</html>")
    assert [p.name for p in out.parent.iterdir()] == ["view.html"]


def test_to_html_is_the_same_page() -> None:
    t = local_trace()
    assert t.to_html() == render_html([t])


def test_notebook_frames_are_distinct_and_escaped() -> None:
    a, b = evil_trace(), local_trace()
    fa, fb = render_notebook(a), b._repr_html_()
    ids = [re.search(r'<iframe id="([^"]+)"', f).group(1) for f in (fa, fb)]  # type: ignore[union-attr]
    assert ids[0] != ids[1]
    for f, t in ((fa, a), (fb, b)):
        srcdoc = re.search(r'srcdoc="([^"]*)"', f).group(1)  # type: ignore[union-attr]
        assert "<" not in srcdoc and ">" not in srcdoc
        assert html.unescape(srcdoc) == render_html([t])
        assert 'sandbox="allow-scripts"' in f
