"""The `serve` command: the web app (tokenprobe.web) on a local port, through uvicorn.

The socket is bound before uvicorn starts (web/server.py), so that a port in use or an
address that cannot be had is a one-line error. A non-loopback address needs a token: one
is made when none is given, and printed once on stderr with the address (web/config.py);
a weak one is refused. Logs go to stderr; the access log shows method, path and status,
and no request carries a key or token in its path or query. On Ctrl-C the running
generations are stopped first, so that their traces are saved and their pages get what
was made.

It leaves out the app itself (web/) and the HTTP server's settings (web/server.py).
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from tokenprobe.cli.app import (
    BaseUrlOpt,
    ExtraBodyOpt,
    app,
    backend_options,
    err,
    fail,
)
from tokenprobe.errors import TokenprobeError


def _log_config(quiet: bool) -> dict[str, object]:
    """uvicorn's loggers, all on stderr (stdout is for results, and serve has none)."""
    fmt = {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s",
           "use_colors": None}
    access = {"()": "uvicorn.logging.AccessFormatter",
              "fmt": '%(levelprefix)s %(client_addr)s "%(request_line)s" %(status_code)s'}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"default": fmt, "access": access},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default",
                        "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "access",
                       "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "propagate": False,
                               "level": "WARNING" if quiet else "INFO"},
            "tokenprobe.web": {"handlers": ["default"], "level": "INFO", "propagate": False}},
    }


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on; anything but "
                                      "a loopback address needs --token")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="a model to offer (repeatable; the first is the default; the "
        "embedded model is always offered): PATH.gguf, openai:NAME, llamacpp:URL, "
        "ollama:NAME")] = None,
    base_url: BaseUrlOpt = None,
    extra_body: ExtraBodyOpt = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="TOKENPROBE_TOKEN", show_default=False,
        help="a bearer token every API request must carry (the page asks for it); "
        "at least 16 characters; made for you on a non-loopback --host")] = None,
    queue_size: Annotated[int, typer.Option(
        "--queue-size", help="jobs that may wait for one model before new ones are "
        "refused")] = 32,
    server_slots: Annotated[int, typer.Option(
        "--server-slots", help="generations at once on one remote server")] = 4,
    quiet: Annotated[bool, typer.Option("--quiet", help="no access log")] = False,
) -> None:
    """Start the web app: chat, complete, score, compare and branch in the browser."""
    import uvicorn

    from tokenprobe.backends import BackendOptions, backend_class
    from tokenprobe.web import ModelConfig, ServerConfig, create_app
    from tokenprobe.web.config import check_binding, is_loopback, make_token
    from tokenprobe.web.server import bind, uvicorn_config

    made = None
    try:
        if not 1 <= port <= 65535:
            raise TokenprobeError(f"--port must be between 1 and 65535 (got {port})")
        if not token and not is_loopback(host):
            token = made = make_token()
        warning = check_binding(host, token)
        remote = backend_options(base_url, extra_body)
        models = [ModelConfig(m, BackendOptions() if backend_class(m).local
                              else remote) for m in (model or [])]
        config = ServerConfig(host=host, port=port, token=token, models=models,
                              max_waiting=queue_size, server_slots=server_slots)
        asgi = create_app(config)
        sock = bind(host, port)
    except TokenprobeError as e:
        fail(str(e), e.exit_code)
    if warning:
        err.print(f"warning: {warning}", style="yellow", markup=False)
    shown = f"[{host}]" if ":" in host else host
    err.print(f"tokenprobe: serving on http://{shown}:{port}/ (Ctrl-C to stop)", markup=False)
    if made:
        # Once, here only: the page asks for it, and nothing else shows or logs it.
        err.print(f"tokenprobe: the token for this run (the page asks for it): {made}",
                  markup=False, soft_wrap=True)
    scheduler = asgi.app.state.tp.scheduler  # type: ignore[attr-defined]

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Stop the jobs first, so that their pages get the tokens made so far and the
            # traces are saved, before uvicorn waits for the connections to close.
            await scheduler.stop_all("the server stopped", wait=5.0)
            await super().shutdown(sockets)

    server = Server(uvicorn_config(asgi, config, log_config=_log_config(quiet)))
    server.run(sockets=[sock])
