"""`mrstnet ablate`: Table 2's units on human actions, each to convergence, paired seeds."""

from __future__ import annotations

from .train import add_stopping_args

ORDER = 41


def register(sub) -> None:
    p = sub.add_parser(
        "ablate",
        help="Table 2 ablation: every unit trained to convergence on synthetic human "
        "actions, several seeds, mean ± 95%% CI and paired differences",
        description="Train every unit of the unit table (Table 2's six) with one recipe until "
        "its validation loss stops improving, over paired seeds (a seed fixes the data order "
        "and the initialisation for every unit), test each plain and frame-shuffled, and "
        "summarise: OUT/results.jsonl (a line a finished run; a restart skips those), "
        "OUT/summary.md and summary.json (mean ± 95%% t interval, paired differences against "
        "STD and C3D, the paper's Table 2 beside), OUT/curves_<family>.png.",
    )
    p.add_argument("--out", default="mrstnet-ablation", metavar="DIR")
    p.add_argument("--root", help="a UCF-101-layout dataset (default: write the humans set)")
    p.add_argument(
        "--family",
        nargs="+",
        choices=("c3d", "mrst_net"),
        default=["c3d", "mrst_net"],
        help="c3d: the Table 2 backbone with the unit; mrst_net: the small MRST-Net with "
        "the unit swapped (default: both, seed by seed)",
    )
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument(
        "--units",
        nargs="+",
        metavar="UNIT",
        help="units to train (default: every unit of the unit table, Table 2's six)",
    )
    p.add_argument("--preset", default="ablation")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="change the recipe every unit gets, e.g. --set max_steps=300",
    )
    add_stopping_args(p)
    p.add_argument(
        "--videos-per-class",
        type=int,
        default=225,
        help="the humans set's size (default 225 a class: 75 test, 25 validation, 125 training)",
    )
    p.add_argument("--test-clips", type=int, default=3)
    p.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="runs at a time, each in its own process on the preset's `threads` (default 2)",
    )
    p.add_argument("--progress", action="store_true", help="progress bars (with --jobs 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.ablate import run_ablation

    from .train import stopping_overrides

    run_ablation(
        args.out,
        root=args.root,
        families=args.family,
        seeds=tuple(range(args.seeds)),
        units=args.units,
        preset=args.preset,
        sets=args.set,
        stopping=stopping_overrides(args),
        data={"videos_per_class": args.videos_per_class},
        test_clips=args.test_clips,
        jobs=args.jobs,
        progress=args.progress,
    )
    return 0
