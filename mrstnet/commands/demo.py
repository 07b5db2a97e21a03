"""`mrstnet demo`: synthetic data, training, testing and a frame-shuffle check, from nothing."""

from __future__ import annotations

ORDER = 5


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="start here: train and test a small model on synthetic "
        "motion videos (about 10 minutes on 2 CPU cores)",
    )
    p.add_argument(
        "--out",
        default="mrstnet-demo",
        metavar="DIR",
        help="where data, run and report.json go (default: ./mrstnet-demo)",
    )
    p.add_argument("--root", help="use this UCF-101-layout dataset instead of the synthetic set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="demo")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override preset keys, e.g. --set max_steps=300",
    )
    p.add_argument(
        "--classes",
        type=int,
        default=4,
        help="synthetic classes, in time-reversal pairs (default 4: two pairs)",
    )
    p.add_argument("--videos-per-class", type=int, default=150)
    p.add_argument("--test-clips", type=int, default=3, help="clips per test video")
    p.add_argument("--device")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.demo import run_demo

    run_demo(
        args.out,
        root=args.root,
        preset=args.preset,
        sets=args.set,
        seed=args.seed,
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        test_clips=args.test_clips,
        device=args.device,
        progress=not args.no_progress,
    )
    return 0
