"""`mrstnet pretrain`: the weights `--init pretrained:NAME` fine-tunes from."""

from __future__ import annotations

from .train import add_stopping_args

ORDER = 29


def register(sub) -> None:
    p = sub.add_parser(
        "pretrain",
        help="make the weights that `train --init pretrained:NAME` fine-tunes from "
        "(about 30 minutes on 2 CPU cores)",
        description="Write a large synthetic set (humans: 10 of the generator's 18 actions, "
        "360 videos each, seeds apart from a small set's), train the humans_pretrain preset "
        "on it until the loss on a held-out group stalls or the time budget is spent, and "
        "keep best.pt's weights in $MRSTNET_HOME/pretrained/NAME.pt (default "
        "~/.cache/mrstnet), where --init pretrained:NAME finds them.",
    )
    p.add_argument("name", nargs="?", default="humans", help="the recipe (default: humans)")
    p.add_argument(
        "--work",
        metavar="DIR",
        help="where the set, the split and the run go (default $MRSTNET_HOME/pretrain/NAME; "
        "a set already there is reused)",
    )
    p.add_argument(
        "--to",
        metavar="FILE",
        help="write the weights here instead (then --init FILE, not pretrained:NAME)",
    )
    p.add_argument("--seed", type=int, default=0, help="the training seed (default 0)")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override keys of the humans_pretrain preset, e.g. --set max_steps=2000",
    )
    add_stopping_args(p)
    p.add_argument(
        "--videos-per-class",
        type=int,
        metavar="N",
        help="a smaller set than the recipe's 360 a class (quick checks; 9 or more)",
    )
    p.add_argument("--device")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.engine.pretrained import run_pretrain

    from .train import stopping_overrides

    run_pretrain(
        args.name,
        args.work,
        to=args.to,
        sets=args.set,
        stopping=stopping_overrides(args),
        videos_per_class=args.videos_per_class,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
    )
    return 0
