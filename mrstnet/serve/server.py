"""`mrstnet serve`: a checkpoint behind uvicorn, safe by default.

The server binds 127.0.0.1 unless told otherwise; any other address lets other machines
in, so it needs a bearer token (`--token`, or the MRSTNET_TOKEN environment variable,
which keeps the token out of the process list) or an explicit `--insecure`. The socket
is bound here (so `--port 0` gets a free port, printed on the first line) and handed to
uvicorn; Ctrl-C or SIGTERM stops it, waits a little for requests in progress, then
removes the server's temporary folder.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mrstnet.extras import require

from .limits import Limits

if TYPE_CHECKING:
    from mrstnet.engine.inference import Predictor

WHAT = "the HTTP server"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_exposure(host: str, token: str | None, insecure: bool) -> None:
    """Refuse to serve other machines without a token, unless told `insecure`."""
    if token is not None and not token.strip():
        raise ValueError("--token is empty: give a long random string (or leave it out)")
    if not is_loopback(host) and token is None and not insecure:
        raise ValueError(
            f"--host {host} lets other machines reach the server: give --token TOKEN (or set "
            "MRSTNET_TOKEN), or --insecure to serve without a token"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class Stopped(Exception):
    """SIGINT or SIGTERM: the server has shut down; clean up and leave with 0."""


@contextmanager
def stop_signals():
    """uvicorn shuts down on SIGINT/SIGTERM, then raises the signal again for the handlers
    that were there before it; these raise `Stopped`, so that the temporary folder is still
    removed (the default SIGTERM action would end the process on the spot)."""

    def stopped(signum, frame):
        raise Stopped(signal.Signals(signum).name)

    before = {s: signal.signal(s, stopped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def serve(
    open_model: Callable[[], Predictor],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    insecure: bool = False,
    limits: Limits | None = None,
    log_level: str = "info",
) -> int:
    """Serve the model `open_model()` loads (the commands' `open_predictor`: checkpoint,
    threads, device, dtype) until interrupted; 0 on a clean stop. The extra is checked
    and the port taken before the model loads, so that either fails at once."""
    check_exposure(host, token, insecure)
    limits = limits or Limits()
    for module in ("fastapi", "uvicorn", "python_multipart"):
        require("serve", module, WHAT)
    import uvicorn

    from .app import create_app
    from .service import Service

    sock = bind(host, port)  # first: a taken port fails at once, not after the model loads
    try:
        predictor = open_model()
        service = Service(predictor, limits)
    except BaseException:
        sock.close()
        raise
    with stop_signals():
        try:
            service.start()
            app = create_app(service, token=token)
            config = uvicorn.Config(
                app,
                log_level=log_level,
                timeout_keep_alive=5,
                timeout_graceful_shutdown=10,
                lifespan="off",
            )
            server = uvicorn.Server(config)
            auth = "bearer token required" if token else "no token"
            print(
                f"serving {predictor.checkpoint} on {url_of(sock)} ({auth}; "
                f"{predictor.num_classes} classes, {predictor.device}); Ctrl-C stops",
                flush=True,
            )
            if not is_loopback(host) and token is None:
                print(f"mrstnet serve: warning: --insecure: anyone who reaches {host} can use this "
                      "server", file=sys.stderr, flush=True)  # fmt: skip
            server.run(sockets=[sock])
        except Stopped:
            pass
        finally:
            service.stop()
            sock.close()
    return 0


__all__ = ["bind", "check_exposure", "is_loopback", "serve"]
