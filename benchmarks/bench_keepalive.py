"""Keep-alive request latency of `tokenprobe serve` against uvicorn's own binding, in one run.

Three servers of the same app (web.create_app, its own temporary history), each in its own
process on 127.0.0.1:

  1. `tokenprobe serve --quiet`, the command as users run it (the socket bound by
     web/server.py's `bind`, then handed to uvicorn);
  2. the same app and uvicorn settings (web/server.py's `uvicorn_config`), the socket bound
     by uvicorn itself from host and port: the baseline;
  3. `serve` as it was before: the socket bound as socket.socket(family, SOCK_STREAM)
     (protocol 0, which asyncio does not take for TCP, so the connections it accepted had
     no TCP_NODELAY) and uvicorn's settings of then, to show what was fixed.

For each server, one kept-alive HTTP/1.1 connection sends N requests one after the other
(GET /api/health, GET / and POST /api/jobs/none/cancel in turn: JSON, the page, a POST);
each request's time is from sending it to reading its whole answer. The servers take
turns, one round of requests each, so that a busy moment of the machine falls on all
three. Medians over all requests but each connection's first (which opens it).

Goal: `tokenprobe serve` within 1.5x of uvicorn's own binding (before the fix: about 40 ms
a request against under 2 ms, roughly 20x).

Run: python benchmarks/bench_keepalive.py [--requests 150]. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PATHS = [("GET", "/api/health"), ("GET", "/"), ("POST", "/api/jobs/none/cancel")]
LABELS = {"serve": "tokenprobe serve", "uvicorn": "uvicorn's own binding",
          "before": "serve as it was before"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child(mode: str, port: int, home: str) -> None:
    """Run one server of the same app: uvicorn binding (`uvicorn`) or the old socket."""
    import uvicorn

    from tokenprobe.web import ServerConfig, create_app
    from tokenprobe.web.server import uvicorn_config

    config = ServerConfig(port=port, preload=False,
                          store_path=Path(home) / "history.sqlite3")
    asgi = create_app(config)
    if mode == "uvicorn":
        uv = uvicorn_config(asgi, config, host="127.0.0.1", port=port, log_level="warning")
        uvicorn.Server(uv).run()
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # as before: protocol 0
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        # and uvicorn's settings as they were (its own protocol, which sets no TCP_NODELAY)
        old = uvicorn.Config(asgi, timeout_graceful_shutdown=3, server_header=False,
                             log_level="warning")
        uvicorn.Server(old).run(sockets=[sock])


def start(mode: str, home: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "TOKENPROBE_HOME": home}
    env.pop("TOKENPROBE_TOKEN", None)
    if mode == "serve":
        cmd = [sys.executable, "-m", "tokenprobe", "serve", "--port", str(port), "--quiet"]
    else:
        cmd = [sys.executable, __file__, "--child", mode, str(port), home]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/health")
            r = c.getresponse()
            state = json.loads(r.read())["model"]["state"]
            c.close()
            # `serve` loads and warms its model first: wait until that is over.
            if r.status == 200 and state in ("ready", "error", "idle"):
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{mode}: the server did not start")
        time.sleep(0.2)


def one(conn: http.client.HTTPConnection, method: str, path: str) -> float:
    t0 = time.perf_counter()
    conn.request(method, path, headers={"Content-Length": "0"} if method == "POST" else {})
    r = conn.getresponse()
    r.read()
    t = time.perf_counter() - t0
    if r.status >= 500 or r.getheader("connection", "").lower() == "close":
        raise SystemExit(f"{path}: {r.status}, the connection was not kept")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=150, help="requests per server")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    modes = ["serve", "uvicorn", "before"]
    with tempfile.TemporaryDirectory() as home:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            conns = {}
            for m in modes:
                procs[m], port = start(m, str(Path(home) / m))
                conns[m] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            times: dict[str, list[float]] = {m: [] for m in modes}
            for m in modes:
                one(conns[m], "GET", "/api/health")  # opens the connection: not counted
            for i in range(args.requests):
                method, path = PATHS[i % len(PATHS)]
                for m in modes:
                    times[m].append(one(conns[m], method, path))
        finally:
            for p in procs.values():
                p.terminate()
                p.wait(timeout=30)
    med = {m: statistics.median(t) * 1000 for m, t in times.items()}
    p90 = {m: statistics.quantiles(t, n=10)[-1] * 1000 for m, t in times.items()}
    print(f"keep-alive requests on one connection, {args.requests} per server "
          f"(health, page, POST in turn), 127.0.0.1")
    print(f"{'server':26} {'median':>10} {'p90':>10} {'vs uvicorn':>11}")
    for m in modes:
        print(f"{LABELS[m]:26} {med[m]:8.2f} ms {p90[m]:7.2f} ms "
              f"{med[m] / med['uvicorn']:10.2f}x")
    print(f"goal: tokenprobe serve within 1.5x of uvicorn's own binding: "
          f"{'met' if med['serve'] <= 1.5 * med['uvicorn'] else 'NOT met'}")


if __name__ == "__main__":
    main()
