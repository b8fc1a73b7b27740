"""A real `tokenprobe serve` process for tests: on a free port, with its own history
directory, stopped (Ctrl-C, as a user would) at the end, its output kept for inspection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import sigint_default
from tests.serverproc import free_port


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen[bytes]
    log: Path  # stdout and stderr together
    token: str | None = None

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, Any]:
        """One request; returns (status, JSON body or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        tok = token if token is not None else self.token
        if tok:
            req.add_header("Authorization", f"Bearer {tok}")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                raw = r.read().decode()
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read().decode(), e.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")


@contextmanager
def serve(home: Path, *args: str, token: str | None = None, host: str = "127.0.0.1",
          timeout: float = 120) -> Iterator[Served]:
    port = free_port()
    log = home / f"serve-{port}.log"
    env = {**os.environ, "TOKENPROBE_HOME": str(home), "COLUMNS": "200"}
    env.pop("TOKENPROBE_TOKEN", None)
    if token:
        env["TOKENPROBE_TOKEN"] = token  # as a user would, kept out of the process list
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tokenprobe", "serve", "--host", host,
                                 "--port", str(port), *args],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, preexec_fn=sigint_default)
    served = Served(f"http://127.0.0.1:{port}", proc, log, token)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tokenprobe serve exited with {proc.returncode}: "
                                   f"{served.output()[-2000:]}")
            try:
                status, body = served.call("GET", "/api/health")
                if status == 200 and body["model"]["state"] in ("ready", "error"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("tokenprobe serve did not start in time")
            time.sleep(0.2)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
