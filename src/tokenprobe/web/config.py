"""The web app's settings: where it listens, who may call it, how long its queues may grow.

`ServerConfig` is filled by `tokenprobe serve` (cli/serve.py) or by a test, and read by the
app factory. `check_binding` is the rule for addresses: a loopback address is served as it
is; any other address is refused unless a bearer token is set, because the API runs models
and reads the history for whoever can reach it (`tokenprobe serve` makes one with
`make_token` when none is given). `token_problem` is the rule for tokens: long enough and
varied enough that guessing, slowed down as it is (security.py), cannot find one.

It leaves out the models themselves (registry.py) and the HTTP checks (security.py).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from tokenprobe.backends import BackendOptions
from tokenprobe.errors import InputError

# Sizes the API accepts; larger inputs are refused with a 422 naming the limit.
MAX_TEXT = 100_000  # characters in one prompt, message, system prompt or scored text
MAX_MESSAGES = 200  # turns in one chat request
MAX_BODY = 4_000_000  # bytes in one request body (the largest of BODY_LIMITS)
MAX_ERRORS = 20  # validation errors listed in one answer (the rest are counted)
MAX_ALTERNATIVES = 100  # per token, in the page (the library allows more for files)
MAX_NEW_TOKENS = 4096
MAX_VARIANTS = 16  # in one comparison
MAX_SAMPLES = 10


# Bytes one request body may hold, by path: what the largest valid request needs (every
# text at its limit, as a browser's JSON.stringify writes it), no more. Any other path
# takes SMALL_BODY (a job's cancel sends none).
BODY_LIMITS = {
    "/api/generate": MAX_BODY,  # 200 messages, a system prompt
    "/api/compare": MAX_BODY,  # 8 prompts, 8 system prompts, an answer
    "/api/choose": 2_000_000,  # a prompt, a system prompt, 20 options
    "/api/score": 1_000_000,  # one text
    "/api/calibrate": MAX_BODY,  # a labelled set's JSONL text (1M characters), settings
    "/api/branch": 16_000,
    "/api/models": 16_000,
    "/api/tokenize": 200_000,  # 20,000 characters, 8 tokenizer ids
}
SMALL_BODY = 4_000

# Connections: a request's headers must arrive within HEADER_TIMEOUT seconds of the
# connection opening (or of the previous answer, on a kept-alive one), its body within
# BODY_TIMEOUT of its headers; an idle kept-alive connection is closed after KEEP_ALIVE.
# An answer, a stream of events included, has no time limit.
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
KEEP_ALIVE = 5.0
MAX_HEADER_BYTES = 16_384  # request line and headers (larger: 400)

MIN_TOKEN_LENGTH = 16
MIN_TOKEN_DISTINCT = 10


@dataclass
class ModelConfig:
    """A model to offer from the start: a `--model` value and how to reach it."""

    spec: str | None  # None: the embedded default
    options: BackendOptions = field(default_factory=BackendOptions, repr=False)
    label: str | None = None


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)  # never printed
    models: list[ModelConfig] = field(default_factory=list)
    max_waiting: int = 32  # jobs waiting per engine before new ones are refused (503)
    server_slots: int = 4  # generations at once on one remote server
    preload: bool = True  # load and warm the default model when the app starts
    store_path: Path | None = None  # None: the history's default location
    heartbeat: float = 10.0  # seconds between keep-alive comments on an idle stream
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    keep_alive: float = KEEP_ALIVE

    def __post_init__(self) -> None:
        if self.max_waiting < 0:
            raise InputError(f"--queue-size must be >= 0 (got {self.max_waiting})")
        if self.server_slots < 1:
            raise InputError(f"--server-slots must be >= 1 (got {self.server_slots})")
        if self.token is not None:
            problem = token_problem(self.token)
            if problem:
                raise InputError(f"--token {problem}")


def token_problem(token: str) -> str | None:
    """Why a bearer token is too weak to guard a server, or None."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"is too short ({len(token)} characters; at least {MIN_TOKEN_LENGTH})"
    if not all("!" <= c <= "~" for c in token):
        return "must be printable ASCII without spaces (it travels in an HTTP header)"
    distinct = len(set(token))
    if distinct < MIN_TOKEN_DISTINCT:
        return (f"has too few distinct characters ({distinct}; at least "
                f"{MIN_TOKEN_DISTINCT})")
    return None


def make_token() -> str:
    """A random token (192 bits), for a server that listens beyond loopback."""
    while True:
        token = secrets.token_urlsafe(24)
        if token_problem(token) is None:  # 32 characters: all but never fewer than 10 kinds
            return token


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> str | None:
    """Refuse a non-loopback address without a token; return a warning to print, if any."""
    if is_loopback(host):
        return None
    if not token:
        raise InputError(
            f"--host {host} is reachable from other machines: give --token (or set "
            "TOKENPROBE_TOKEN) so that every API request must carry it, or serve on 127.0.0.1"
        )
    return (f"serving on {host}, reachable from other machines: every /api request must "
            "carry the token (the page asks for it)")
