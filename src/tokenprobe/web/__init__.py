"""The local web app behind `tokenprobe serve`: a JSON API with streamed tokens, and a page.

`create_app(ServerConfig(...))` gives the ASGI app (app.py). The modules, one job each:
config (settings, binding rule), registry (models, keys kept here), jobs (the engine
queue), runs (library operations in worker threads), sse (the event stream), schemas
(validated bodies), errors (one-line answers), security (host, origin, token, bodies),
routes_run / routes_data (the endpoints), payloads (what the page receives), state.
The contract is written in docs/web.md. It leaves out the command line (cli/serve.py).
"""

from __future__ import annotations

from tokenprobe.web.app import create_app
from tokenprobe.web.config import ModelConfig, ServerConfig

__all__ = ["ModelConfig", "ServerConfig", "create_app"]
