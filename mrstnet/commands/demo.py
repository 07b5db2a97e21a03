"""`mrstnet demo`: human-action videos, training, testing and a frame-shuffle check."""

from __future__ import annotations

from .train import add_stopping_args

ORDER = 5


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="start here: train and test a small model on synthetic human-action "
        "videos (under 10 minutes on 2 CPU cores)",
        description="Write a synthetic human-action set (4 classes in two motion-only pairs: "
        "clapping/waving, jogging/running), train the small MRST-T-Net until its validation "
        "loss stops improving or the time budget is spent, test it, and test it again with "
        "every clip's frames shuffled (chance within a pair if it uses motion).",
    )
    p.add_argument(
        "--out",
        default="mrstnet-demo",
        metavar="DIR",
        help="where data, run and report.json go (default: ./mrstnet-demo)",
    )
    p.add_argument("--root", help="use this UCF-101-layout dataset instead of the synthetic set")
    p.add_argument(
        "--kind",
        choices=("humans", "shapes"),
        default="humans",
        help="the synthetic set: humans (default; articulated figures, mrstnet synth --kind "
        "humans) or shapes (moving shapes in time-reversal pairs)",
    )
    p.add_argument(
        "--difficulty",
        default=None,
        help="humans: easy (0.2), medium (0.5), hard (0.8) or a number in [0, 1] "
        "(default 0.1: the demo model separates its pairs within the time budget)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="demo")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override preset keys, e.g. --set lr=1e-3",
    )
    add_stopping_args(p)
    p.add_argument(
        "--classes",
        type=int,
        default=4,
        help="synthetic classes, in pairs (default 4: two pairs)",
    )
    p.add_argument(
        "--videos-per-class",
        type=int,
        default=225,
        help="default 225: 3 groups of 9 tested, 1 validated, 5 trained on",
    )
    p.add_argument("--test-clips", type=int, default=3, help="clips per test video")
    p.add_argument("--device")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.demo import DIFFICULTY, run_demo

    from .train import stopping_overrides

    run_demo(
        args.out,
        root=args.root,
        kind=args.kind,
        difficulty=DIFFICULTY if args.difficulty is None else args.difficulty,
        preset=args.preset,
        sets=args.set,
        stopping=stopping_overrides(args),
        seed=args.seed,
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        test_clips=args.test_clips,
        device=args.device,
        progress=not args.no_progress,
    )
    return 0
