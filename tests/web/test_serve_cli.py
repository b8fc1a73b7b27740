"""`tokenprobe serve` as a user starts it: the binding rule (a token made and printed once
for another address, a weak one refused), a port in use, and logs that never show a token
or a key."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests.helpers import run_cli, sigint_default
from tests.scripted_model import SPEC
from tests.web.serve import free_port, serve

from tokenprobe.web.config import token_problem

TOKEN = "tok-3f9a1c77e2b84d5aa0c1"
KEY = "sk-proj-LOGSECRETlogsecret0123456789"


def test_other_addresses_get_a_token_made_and_printed_once(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "TOKENPROBE_HOME": str(tmp_path), "COLUMNS": "80"}
    env.pop("TOKENPROBE_TOKEN", None)
    with log.open("wb") as out:
        # The scripted model loads at once, so the first request arrives as soon as the
        # token is printed: before uvicorn's loop runs (it waits in the socket's backlog).
        proc = subprocess.Popen([sys.executable, "-m", "tokenprobe", "serve", "-m", SPEC,
                                 "--host", "0.0.0.0", "--port", str(port)],
                                stdout=subprocess.DEVNULL,
                                stderr=out, stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 120
        while not (m := re.search(r"the token for this run \(the page asks for it\): (\S+)\n",
                                  log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        made = m[1]
        assert token_problem(made) is None and len(made) >= 32
        url = f"http://127.0.0.1:{port}/api/models"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=60)
        assert refused.value.code == 401
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {made}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    out = log.read_text()
    assert f"tokenprobe: serving on http://0.0.0.0:{port}/ (Ctrl-C to stop)\n" in out
    assert out.count(made) == 1  # printed once, and never logged


@pytest.mark.parametrize(("token", "message"), [
    ("12345678", "error: --token is too short (8 characters; at least 16)\n"),
    ("abcabcabcabcabcabc", "error: --token has too few distinct characters (3; at least 10)\n"),
])
def test_a_weak_token_is_refused(token: str, message: str) -> None:
    r = run_cli(["serve", "--token", token, "--port", str(free_port())], timeout=60)
    assert r.code == 2 and r.stderr == message
    r = run_cli(["serve", "--host", "0.0.0.0", "--port", str(free_port())], timeout=60,
                env={"TOKENPROBE_TOKEN": token})
    assert r.code == 2 and r.stderr == message


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_cli(["serve", "--port", str(port)], timeout=60)
    assert r.code == 2
    assert r.stderr == f"error: cannot listen on 127.0.0.1:{port}: the port is in use\n"


def test_no_token_or_key_in_the_logs(tmp_path: Path) -> None:
    with serve(tmp_path, "-m", SPEC, host="0.0.0.0", token=TOKEN) as s:
        assert s.call("GET", "/api/health", token="")[0] == 401
        assert s.call("GET", "/api/models", token="wrong-token-value-123")[0] == 401
        status, added = s.call("POST", "/api/models", {"spec": "openai:m", "api_key": KEY,
                                                       "base_url": "http://127.0.0.1:9/v1"})
        assert status == 201 and added["has_key"]
        status, text = s.call("POST", "/api/generate", {"prompt": "Hi", "max_tokens": 2,
                                                        "temperature": 0})
        assert status == 200 and "event: done" in text
        # A failing server model: its error path is logged and answered without the key.
        status, text = s.call("POST", "/api/generate", {"model": added["id"], "mode": "chat",
                              "messages": [{"role": "user", "content": "x"}], "max_tokens": 2})
        assert status == 200 and "event: error" in text and KEY not in text
    out = s.output()
    assert "warning: serving on 0.0.0.0, reachable from other machines" in out
    assert '"POST /api/generate HTTP/1.1" 200' in out  # the access log is on
    for secret in (TOKEN, KEY, "wrong-token-value-123"):
        assert secret not in out


def test_stopping_the_server_saves_the_generations_in_flight(tmp_path: Path) -> None:
    got: list[str] = []
    with serve(tmp_path) as s:
        req = urllib.request.Request(
            s.url + "/api/generate", method="POST", headers={"Content-Type":
                                                             "application/json"},
            data=json.dumps({"prompt": "Once upon a time", "max_tokens": 2000,
                             "temperature": 0}).encode())

        def read() -> None:
            with urllib.request.urlopen(req, timeout=120) as r:
                for line in r:
                    got.append(line.decode())

        reader = threading.Thread(target=read)
        reader.start()
        while sum(1 for line in got if line.startswith("event: steps")) < 3:
            assert reader.is_alive()
            threading.Event().wait(0.05)
        s.proc.send_signal(signal.SIGINT)
        s.proc.wait(timeout=60)
        reader.join(timeout=30)
    # The page got the end of its stream, with the tokens made.
    ends = [line for line in got if line.startswith("event: ")]
    assert ends[-1] == "event: done\n"
    with serve(tmp_path, "-m", SPEC) as again:  # only its history is read
        _, listed = again.call("GET", "/api/history")
        (rec,) = listed["records"]
        _, entry = again.call("GET", f"/api/history/{rec['id']}")
    trace = entry["traces"][0]
    assert trace["complete"] is False and trace["error"] == "the server stopped"
    assert 3 <= trace["steps"]["n"] < 2000
