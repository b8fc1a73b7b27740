"""The interactive viewer as one self-contained HTML page, and inline in Jupyter.

`render_html` fills the page shell (static/viewer.html) with the viewer's stylesheet and
script (static/viewer.css, static/viewer.js) and the traces in the compact page encoding
(encode.py), embedded as JSON in a `<script type="application/json">` element. The page
loads nothing from anywhere: a Content-Security-Policy allows only the viewer's own script
(by its hash), so even a mistake that let model text become markup could not run it or
reach the network. `render_notebook` wraps a page in a sandboxed iframe for Jupyter.

It leaves out what the viewer draws and how (the static files) and the terminal view.
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

from tokenprobe.trace import Trace, write_atomic
from tokenprobe.views.encode import embed_json, encode_page

# Package data next to this module; a plain path works for wheels and editable installs.
_STATIC = Path(__file__).parent / "static"
_MARKER = re.compile(r"\{\{(CSP|TITLE|CSS|DATA|JS)\}\}")


@cache
def _static(name: str) -> str:
    text = (_STATIC / name).read_text("utf-8")
    # Our own files are inlined as they are; they must not end their element early.
    closing = {"viewer.js": "</script", "viewer.css": "</style"}.get(name)
    if closing and closing in text.lower():
        raise ValueError(f"{name} contains {closing}, which would end the inlined element")
    return text


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
            "img-src data:; base-uri 'none'; form-action 'none'")


def _default_title(traces: list[Trace]) -> str:
    if len(traces) == 1:
        t = traces[0]
        prompt = (t.request.prompt or "").strip().replace("\n", " ")
        if prompt:
            return prompt if len(prompt) <= 60 else prompt[:59] + "…"
        return t.model or "tokenprobe trace"
    return f"{len(traces)} traces"


def render_html(traces: list[Trace], title: str | None = None) -> str:
    """One self-contained page showing `traces` (a switcher picks one when there are several).

    `title` names the page; without one the page is named after the trace's prompt or model.
    """
    traces = list(traces)
    script = _static("viewer.js")
    data = embed_json(encode_page(traces, title))
    page_title = title or _default_title(traces)
    parts = {
        "CSP": _csp(script),
        "TITLE": html.escape(f"{page_title} · tokenprobe"),
        "CSS": _static("viewer.css"),
        "DATA": data,
        "JS": script,
    }
    # One pass, so a marker-like string inside the data or the assets is never replaced.
    return _MARKER.sub(lambda m: parts[m.group(1)], _static("viewer.html"))


def write_html(traces: list[Trace], path: str | os.PathLike[str], title: str | None = None) -> None:
    """Write the page to `path` atomically (a crash never leaves half a file)."""
    write_atomic(Path(path), render_html(traces, title))


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
