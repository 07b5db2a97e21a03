"""`mrstnet plot RUN_DIR`: training curves from the run's log.jsonl to a PNG."""

from __future__ import annotations

ORDER = 40


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw a run's training curves to PNG (needs matplotlib)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", help="PNG path (default: RUN_DIR/curves.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.plot import plot_run

    path = plot_run(args.run_dir, args.out)  # without matplotlib: MissingExtraError, exit 1
    print(f"wrote {path}")
    return 0
