"""The interactive viewer as one self-contained HTML page, and inline in Jupyter.

`render_html` fills the page shell (static/viewer.html) with the stylesheets (viewer.css,
ops.css), the scripts of SCRIPTS (the viewer's files, its Inside-the-model tab
viewer-lens.js, then the page views of operations, ops*.js: the one list that the web app
loads too), each in its own `<script>` element, and the traces in the
compact page encoding (encode.py), embedded as JSON in a `<script type="application/json">`
element. `render_comparison`, `render_choice` and `render_sweep` do the same for an
operation's page (encode_ops.py);
`render_document` picks the page for a history record. The page loads nothing from
anywhere: a Content-Security-Policy allows only the page's own scripts (by their hashes),
so even a mistake that let model text become markup could not run it or reach the network.
`render_notebook` wraps a page in a sandboxed iframe for Jupyter.

It leaves out what the pages draw and how (the static files) and the terminal views.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import uuid
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenprobe.trace import Trace, write_atomic
from tokenprobe.views.encode import embed_json, encode_page

if TYPE_CHECKING:
    from tokenprobe.ops.choose import Choice
    from tokenprobe.ops.compare import Comparison
    from tokenprobe.ops.sweep import Sweep

# Package data next to this module; a plain path works for wheels and editable installs.
_STATIC = Path(__file__).parent / "static"
_MARKER = re.compile(r"\{\{(CSP|TITLE|CSS|DATA|SCRIPTS)\}\}")
# The viewer's files in load order: the DOM-free parts first (number formats, the
# temperature math, bytes and glyphs, the trace model: they also run in node), then the DOM
# helpers, the viewer (App) and its views, each adding its methods, and viewer.js, the public
# API and the boot.
VIEWER_SCRIPTS = ("viewer-format.js", "viewer-math.js", "viewer-bytes.js", "viewer-trace.js",
                  "viewer-dom.js", "viewer-app.js", "viewer-toolbar.js", "viewer-read.js",
                  "viewer-popover.js", "viewer-chart.js", "viewer-step.js", "viewer-live.js",
                  "viewer-thinking.js", "viewer.js")
# Every script of a page, in this order: the viewer first (the page views build on it), then
# its Inside-the-model tab and the pages of operations. The boot runs once the document is
# parsed, after every one of them has registered. The HTML export, Jupyter and the web app
# (web/app.py) all load this list.
SCRIPTS = (*VIEWER_SCRIPTS, "viewer-lens.js", "ops.js", "ops-compare.js", "ops-tree.js",
           "ops-sweep.js", "ops-choice.js", "ops-calibrate.js")
STYLES = ("viewer.css", "ops.css")


@cache
def _static(name: str) -> str:
    text = (_STATIC / name).read_text("utf-8")
    # Our own files are inlined as they are; they must not end their element early.
    closing = {".js": "</script", ".css": "</style"}.get(Path(name).suffix)
    if closing and closing in text.lower():
        raise ValueError(f"{name} contains {closing}, which would end the inlined element")
    return text


def _csp(scripts: list[str]) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii")
        + "'" for s in scripts)
    return (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
            "img-src data:; base-uri 'none'; form-action 'none'")


def _default_title(traces: list[Trace]) -> str:
    prompts = {(t.request.prompt or "").strip() for t in traces}
    if len(prompts) == 1 and traces:
        # One trace, or branches of one prompt.
        prompt = prompts.pop()
        if prompt:
            return _short(prompt)
        if len(traces) == 1:
            return traces[0].model or "tokenprobe trace"
    return f"{len(traces)} traces"


def _short(text: str, n: int = 60) -> str:
    text = text.strip().replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def render_page(page: dict[str, Any], title: str) -> str:
    """The shell filled with a page document (`tokenprobe/page@1`) and every asset."""
    scripts = [_static(name) for name in SCRIPTS]
    parts = {
        "CSP": _csp(scripts),
        "TITLE": html.escape(f"{title} · tokenprobe"),
        "CSS": "\n".join(_static(name) for name in STYLES),
        "DATA": embed_json(page),
        "SCRIPTS": "\n".join(f"<script>{s}</script>" for s in scripts),
    }
    # One pass, so a marker-like string inside the data or the assets is never replaced.
    return _MARKER.sub(lambda m: parts[m.group(1)], _static("viewer.html"))


def render_html(traces: list[Trace], title: str | None = None) -> str:
    """One self-contained page showing `traces` (a switcher picks one when there are several;
    traces that are branches of one another are shown as their tree).

    `title` names the page; without one the page is named after the trace's prompt or model.
    """
    traces = list(traces)
    return render_page(encode_page(traces, title), title or _default_title(traces))


def render_comparison(c: Comparison, title: str | None = None) -> str:
    """The comparison's page: the variants side by side, and on a fixed answer the
    per-token differences."""
    from tokenprobe.views.encode_ops import encode_comparison

    name = title or ("comparison on " + repr(_short(c.answer, 40)) if c.answer is not None
                     else "comparison of " + str(len(c.variants)) + " variants")
    return render_page(encode_comparison(c, title), name)


def render_choice(ch: Choice, title: str | None = None) -> str:
    """The choice's page: the options ranked, with each option's tokens."""
    from tokenprobe.views.encode_ops import encode_choice

    return render_page(encode_choice(ch, title), title or "choose after " + _short(ch.prompt))


def render_sweep(sw: Sweep, title: str | None = None) -> str:
    """The sweep's page: each step's candidates at every temperature, and the samples."""
    from tokenprobe.views.encode_ops import encode_sweep

    return render_page(encode_sweep(sw, title), title or "sweep of " + _short(sw.prompt))


def render_calibration(doc: dict[str, Any], title: str | None = None) -> str:
    """The calibration's page: per run, the reliability diagram with its counts, the
    selective-prediction curve and each signal's AUROC; a bin's items open in the viewer."""
    from tokenprobe.views.encode_ops import encode_calibration

    return render_page(encode_calibration(doc, title), title or "calibration on " + doc["data"])


def render_document(kind: str, doc: dict[str, Any], traces: list[Trace],
                    title: str | None = None) -> str:
    """The page for a history record: `doc` is its JSON document (a comparison, a choice,
    a sweep), `traces` its traces (a trace's whole branch tree)."""
    if kind == "comparison":
        from tokenprobe.ops.compare import Comparison

        return render_comparison(Comparison.from_dict(doc), title)
    if kind == "choice":
        from tokenprobe.ops.choose import Choice

        return render_choice(Choice.from_dict(doc), title)
    if kind == "calibration":
        return render_calibration(doc, title)
    if kind == "sweep":
        from tokenprobe.ops.sweep import Sweep

        return render_sweep(Sweep.from_dict(doc), title)
    return render_html(traces, title)


def write_html(traces: list[Trace], path: str | os.PathLike[str], title: str | None = None) -> None:
    """Write the page to `path` atomically (a crash never leaves half a file)."""
    write_atomic(Path(path), render_html(traces, title))


def write_page(text: str, path: str | os.PathLike[str]) -> None:
    """Write a rendered page to `path` atomically."""
    write_atomic(Path(path), text)


def render_notebook(trace: Trace, height: int = 680) -> str:
    """The viewer for Jupyter: an iframe whose `srcdoc` is the whole page.

    Each frame has its own id and its own document, so several in one notebook never share
    state or styles. `sandbox="allow-scripts"` without same-origin keeps the page away from
    the notebook (and from its cookies and storage).
    """
    frame_id = f"tokenprobe-{uuid.uuid4().hex[:12]}"
    page = render_html([trace])
    return (
        f'<iframe id="{frame_id}" class="tokenprobe-frame" title="tokenprobe viewer" '
        f'sandbox="allow-scripts" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid rgba(128,128,128,.35);'
        f'border-radius:8px;resize:vertical"></iframe>'
    )
