"""`mrstnet serve [CHECKPOINT]`: an HTTP API and a page to try a model in a browser."""

from __future__ import annotations

import argparse

from ._predictor import add_predictor_args, open_predictor

ORDER = 37

EPILOG = """\
API: POST /v1/predict (multipart field 'video'; ?timeline=true adds segments),
GET /v1/model, GET /healthz, GET /openapi.json; the page is at /. See docs/serve.md.

  mrstnet serve                                  # the shipped demo weights, 127.0.0.1:8000
  curl -F video=@clip.mp4 http://127.0.0.1:8000/v1/predict

Safe by default: it listens on 127.0.0.1 only. Another --host needs --token (or the
MRSTNET_TOKEN environment variable, which keeps it out of `ps`), or --insecure.

exit status: 0 stopped cleanly; 1 the optional extra 'serve' is missing
(pip install 'mrstnet[serve]'); 2 a user error (bad option, no checkpoint, port taken).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a checkpoint over HTTP: a JSON API and a page to try it in a browser",
        description="Serve a checkpoint over HTTP: a versioned JSON API (top classes and "
        "timelines of uploaded videos, batched across requests) and a page at /.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "checkpoint",
        nargs="?",
        metavar="CHECKPOINT",
        help="default: the shipped demo weights (mrstnet/weights/demo.pt)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="default 8000; 0: any free port")
    p.add_argument("--token", help="bearer token /v1/* require (default: $MRSTNET_TOKEN)")
    p.add_argument("--insecure", action="store_true", help="allow a non-local --host, no token")
    g = p.add_argument_group("limits")
    g.add_argument("--max-upload-mb", type=float, default=100.0, help="upload size (default 100)")
    g.add_argument("--max-seconds", type=float, default=300.0, help="video duration (default 300)")
    g.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    g.add_argument("--queue", type=int, default=32, help="requests inside at once, then 503 "
                   "(default 32)")  # fmt: skip
    g.add_argument("--max-batch", type=int, default=16, help="clips per model call across "
                   "requests (default 16; 1: no batching)")  # fmt: skip
    g.add_argument("--max-wait-ms", type=float, default=5.0, help="how long clips wait for "
                   "company (default 5)")  # fmt: skip
    g.add_argument("--workers", type=int, default=2, help="requests decoding at once (default 2)")
    add_predictor_args(p, checkpoint=False)  # --threads, --device, --no-amp: as predict's
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))  # fmt: skip
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    from pathlib import Path

    from mrstnet.serve.limits import MIB, Limits
    from mrstnet.serve.server import check_exposure, serve

    token = args.token if args.token is not None else os.environ.get("MRSTNET_TOKEN")
    check_exposure(args.host, token, args.insecure)  # before anything slow
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    limits = Limits(
        max_upload_bytes=int(args.max_upload_mb * MIB),
        max_seconds=args.max_seconds,
        timeout=args.timeout,
        queue=args.queue,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        workers=args.workers,
    )
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        # before the port is taken: the model itself loads after (see server.serve)
        raise FileNotFoundError(f"no checkpoint at {args.checkpoint}")
    return serve(
        lambda: open_predictor(args),  # as predict, timeline and watch load their model
        host=args.host,
        port=args.port,
        token=token,
        insecure=args.insecure,
        limits=limits,
        log_level=args.log_level,
    )
