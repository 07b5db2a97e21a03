"""`mrstnet synth`: write a synthetic motion set (moving shapes or human actions) as real videos."""

from __future__ import annotations

import argparse
import time

ORDER = 20

# Defaults that differ by --kind: (classes, size).
DEFAULTS = {"shapes": (10, 64), "humans": (18, 112)}


# Kept here rather than imported so that the CLI starts without numpy and torch; the tests
# check them against mrstnet.data.humans and mrstnet.data.layouts.
LAYOUTS = ("ucf101", "hmdb51", "list", "kinetics", "folder")
DESCRIPTION = """\
--kind shapes (default): moving shapes in time-reversal class pairs (left/right,
clockwise/anticlockwise, ...).

--kind humans: an articulated figure (head, torso, arms, legs as thick textured limbs)
doing KTH-style actions, with random proportions, clothing, scale, position, speed and
phase, in a cluttered scene with other moving things and camera shake. Classes in pairs
(--classes N takes the first N):
  hand_clapping   hand_waving     motion only (one arm arc, clapping ~3x faster)
  jog_right       run_right       motion only (one stride, running at a faster cadence)
  squat_down      stand_up        motion only (one video played backwards)
  walk_right      walk_left       direction
  box_right       box_left        direction
  jog_left        run_left        motion only
  kick_right      kick_left       direction
  bend_down       straighten_up   motion only (one video played backwards)
  jump_right      jump_left       direction
In a motion-only pair both classes show the same poses, in another order or at another
rate: appearance alone cannot tell them apart. --difficulty: easy = 0.2, medium = 0.5,
hard = 0.8, or a number in [0, 1] (nuisance strength and intra-class variation).

Videos are mpeg4 .avi at 25 fps in one --layout the readers take (ucf101: class folders
and ucfTrainTestlist/ with classInd.txt and three train/test splits by group, CRLF; or
hmdb51, list, kinetics, folder). The same --seed gives the same videos; another seed,
other videos."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic motion dataset (moving shapes or human actions, real videos)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="output folder (created)")
    p.add_argument(
        "--kind",
        choices=sorted(DEFAULTS),
        default="shapes",
        help="shapes (default) or humans (articulated figures doing actions)",
    )
    p.add_argument(
        "--classes",
        type=int,
        help="number of classes; even numbers keep the pairs whole "
        "(shapes: 2..16, default 10; humans: 2..18, default 18)",
    )
    p.add_argument(
        "--actions",
        metavar="A,B,...",
        help="humans only: these classes by name (comma-separated) instead of the first "
        "--classes, e.g. the actions a pre-training set left out",
    )
    p.add_argument("--videos-per-class", type=int, default=30, help="default 30 (at least 3)")
    p.add_argument(
        "--frames", type=int, default=32, help="frames per video (default 32; humans: >= 8)"
    )
    p.add_argument(
        "--size",
        type=int,
        help="frame width and height (shapes: default 64, >= 16; humans: default 112, >= 32)",
    )
    p.add_argument(
        "--difficulty",
        help="humans only: easy, medium (default), hard, or a number in [0, 1]",
    )
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="ucf101",
        help="annotation layout (default ucf101); train with --dataset LAYOUT --root OUT",
    )
    p.add_argument("--seed", type=int, default=0, help="the set is deterministic in it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    classes, size = DEFAULTS[args.kind]
    classes = args.classes if args.classes is not None else classes
    size = args.size if args.size is not None else size
    if args.actions is not None:
        if args.kind != "humans" or args.classes is not None:
            raise ValueError("--actions is for --kind humans, instead of --classes")
        classes = [a.strip() for a in args.actions.split(",") if a.strip()]
    common = dict(
        classes=classes,
        videos_per_class=args.videos_per_class,
        frames=args.frames,
        size=size,
        seed=args.seed,
        layout=args.layout,
    )
    start = time.perf_counter()
    # bad arguments or an unwritable OUT: the CLI's user error (exit 2)
    if args.kind == "humans":
        from mrstnet.data.humans import write_humans

        difficulty = "medium" if args.difficulty is None else args.difficulty
        out = write_humans(args.out, difficulty=difficulty, **common)
    else:
        if args.difficulty is not None:
            raise ValueError("--difficulty applies to --kind humans only")
        from mrstnet.data.synthetic import write_synthetic

        out = write_synthetic(args.out, **common)
    seconds = time.perf_counter() - start
    count = classes if isinstance(classes, int) else len(classes)
    n = count * args.videos_per_class
    print(
        f"wrote {n} videos ({count} classes x {args.videos_per_class}), "
        f"{args.frames} frames of {size}x{size}, to {out} in {seconds:.1f} s"
    )
    if args.layout == "ucf101":
        print(f"split files: {out / 'ucfTrainTestlist'}")
    print(f"use: --dataset {args.layout} --root {out}")
    return 0
