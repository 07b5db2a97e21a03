"""`mrstnet ablate`: Table 2's six units on the synthetic set, same budget, several seeds."""

from __future__ import annotations

ORDER = 41


def register(sub) -> None:
    p = sub.add_parser("ablate", help="Table 2 ablation (six units × seeds) on synthetic data")
    p.add_argument("--out", default="mrstnet-ablation", metavar="DIR")
    p.add_argument("--root", help="a UCF-101-layout dataset (default: write the synthetic set)")
    p.add_argument("--seeds", type=int, default=3)
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
        help="e.g. --set max_steps=100 (the budget every unit gets)",
    )
    p.add_argument("--test-clips", type=int, default=3)
    p.add_argument("--videos-per-class", type=int, default=150)
    p.add_argument("--progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.ablate import run_ablation

    run_ablation(
        args.out,
        root=args.root,
        seeds=tuple(range(args.seeds)),
        units=args.units,
        preset=args.preset,
        sets=args.set,
        test_clips=args.test_clips,
        videos_per_class=args.videos_per_class,
        progress=args.progress,
    )
    return 0
