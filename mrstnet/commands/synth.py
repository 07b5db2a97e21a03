"""`mrstnet synth`: write the synthetic motion set (time-reversal class pairs) as real videos."""

from __future__ import annotations

import argparse
import time

ORDER = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write the synthetic motion dataset (UCF-101 layout, real .avi files)",
        description="Write classes in time-reversal pairs (left/right, clockwise/"
        "anticlockwise, ...) as mpeg4 .avi files in the UCF-101 layout, with "
        "ucfTrainTestlist/ (classInd.txt, trainlist0{1,2,3}.txt, testlist0{1,2,3}.txt, CRLF). "
        "Train on it with --dataset ucf101 --root OUT.",
    )
    p.add_argument("out", metavar="OUT", help="output folder (created)")
    p.add_argument(
        "--classes",
        type=int,
        default=10,
        help="number of classes, 2..16, even numbers keep the pairs whole (default 10)",
    )
    p.add_argument("--videos-per-class", type=int, default=30, help="default 30 (at least 3)")
    p.add_argument(
        "--frames", type=int, default=32, help="frames per video (default 32, at least 2)"
    )
    p.add_argument(
        "--size", type=int, default=64, help="frame width and height (default 64, at least 16)"
    )
    p.add_argument("--seed", type=int, default=0, help="the set is deterministic in it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mrstnet.data.synthetic import write_synthetic

    start = time.perf_counter()
    out = write_synthetic(  # bad arguments or an unwritable OUT: the CLI's user error
        args.out,
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        frames=args.frames,
        size=args.size,
        seed=args.seed,
    )
    seconds = time.perf_counter() - start
    n = args.classes * args.videos_per_class
    print(
        f"wrote {n} videos ({args.classes} classes x {args.videos_per_class}), "
        f"{args.frames} frames of {args.size}x{args.size}, to {out} in {seconds:.1f} s"
    )
    print(f"split files: {out / 'ucfTrainTestlist'}")
    print(f"use: --dataset ucf101 --root {out}")
    return 0
