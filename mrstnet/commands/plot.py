"""`mrstnet plot RUN_DIR`: training curves from the run's log.jsonl to a PNG."""

from __future__ import annotations

import sys

ORDER = 40


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw a run's training curves to PNG (needs matplotlib)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", help="PNG path (default: RUN_DIR/curves.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.plot import plot_run

    try:
        path = plot_run(args.run_dir, args.out)
    except ImportError as e:  # matplotlib is an optional extra
        print(f"mrstnet plot: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
