"""What the routes share: the settings, the offered models, the queue and the history.

It also keeps the default model's loading state, which the page shows while the server
warms up: the default model is loaded and run for one token in a background thread when
the app starts, so the first request does not pay for it.

It leaves out the routes (routes_*.py) and the app's assembly (app.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request as HttpRequest

from tokenprobe.errors import InputError, TokenprobeError
from tokenprobe.store import Store
from tokenprobe.trace import Request, Trace
from tokenprobe.web.config import ServerConfig
from tokenprobe.web.errors import NotFound
from tokenprobe.web.jobs import Scheduler
from tokenprobe.web.registry import Registry


@dataclass
class AppState:
    config: ServerConfig
    registry: Registry
    scheduler: Scheduler
    store: Store
    warm: dict[str, Any] = field(default_factory=lambda: {"state": "idle"})

    def record_trace(self, ref: str) -> Trace:
        """A saved trace by id; NotFound (404) when there is none."""
        try:
            return self.store.trace(ref)
        except InputError as e:
            raise NotFound(str(e)) from None

    def warm_up(self) -> None:
        """Load the default model and make one token, in a background thread."""
        entry = self.registry.get(None)
        self.warm = {"state": "loading", "model": entry.id}

        def run() -> None:
            try:
                backend = self.registry.backend(entry.id)
                if entry.local:
                    backend.stream(Request(prompt="Hello", max_tokens=1, temperature=0.0,
                                           alternatives=1)).run()
                self.warm = {"state": "ready", "model": entry.id}
            except TokenprobeError as e:
                self.warm = {"state": "error", "model": entry.id, "error": str(e)}

        threading.Thread(target=run, name="tokenprobe-warm-up", daemon=True).start()


def get_state(request: HttpRequest) -> AppState:
    return request.app.state.tp  # type: ignore[no-any-return]
