"""The app factory: the API, the page and its files, the checks around them.

`create_app(config)` builds the FastAPI app: routes (routes_run.py, routes_data.py), error
answers (errors.py), the security guard (security.py), and the front end served from files
inside the package: the page (web/static/index.html, given the viewer's stylesheets and
scripts from views/html.py's STYLES and SCRIPTS, the export's one list) and the files it
shares with the HTML export (views/static/, the very same files, served under /viewer/).
The OpenAPI schema is at /api/openapi.json; the interactive docs are off (they load
scripts from the network).

It leaves out the command line (cli/serve.py) and everything the routes do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

import tokenprobe
from tokenprobe.store import Store
from tokenprobe.views.html import SCRIPTS, STYLES
from tokenprobe.web import errors, routes_calibrate, routes_data, routes_run, routes_tokenize
from tokenprobe.web.config import ServerConfig
from tokenprobe.web.jobs import Scheduler
from tokenprobe.web.registry import Registry
from tokenprobe.web.security import Guard
from tokenprobe.web.state import AppState

STATIC = Path(__file__).parent / "static"
STOPPING = "the server stopped"
VIEWER = Path(__file__).parent.parent / "views" / "static"


def _page() -> str:
    """index.html with the viewer's stylesheets and scripts in the export's order (the one
    list in views/html.py), so that the app and the export never load different files."""
    text = (STATIC / "index.html").read_text("utf-8")
    styles = "\n".join(f'<link rel="stylesheet" href="/viewer/{n}">' for n in STYLES)
    scripts = "\n".join(f'<script src="/viewer/{n}"></script>' for n in SCRIPTS)
    return (text.replace("<!--tp:viewer-styles-->", styles)
            .replace("<!--tp:viewer-scripts-->", scripts))


def create_app(config: ServerConfig | None = None) -> Guard:
    """The ASGI app for `config` (the app itself is `.app` of the returned guard)."""
    config = config or ServerConfig()
    registry = Registry(config.models)
    state = AppState(
        config=config,
        registry=registry,
        scheduler=Scheduler(config.max_waiting,
                            lambda lane: 1 if lane == "local" else config.server_slots),
        store=Store(config.store_path),  # a corrupt or newer store fails here, at start
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.preload:
            state.warm_up()
        yield
        await state.scheduler.stop_all(STOPPING, wait=5.0)

    app = FastAPI(title="tokenprobe", version=tokenprobe.__version__, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  description="See a language model's token-by-token choices. Engine work "
                  "answers with server-sent events; see docs/web.md.")
    app.state.tp = state
    errors.install(app)
    app.include_router(routes_run.router)
    app.include_router(routes_data.router)
    app.include_router(routes_calibrate.router)
    app.include_router(routes_tokenize.router)

    page_text = _page()

    @app.get("/", include_in_schema=False)
    @app.get("/static/index.html", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_text, headers={"Cache-Control": "no-cache"})

    for name in (*SCRIPTS, *STYLES):
        # The export's own files, served as they are (no copy that could drift): the
        # viewer's files, its Inside-the-model tab and the pages of operations.
        def viewer_file(path: Path = VIEWER / name) -> FileResponse:
            return FileResponse(path, headers={"Cache-Control": "no-cache"})

        app.add_api_route(f"/viewer/{name}", viewer_file, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return Guard(app, config.token, config.host)
