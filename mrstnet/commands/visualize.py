"""`mrstnet visualize`: S, T, S~ and T~ of one tube on a video frame (paper Figure 3)."""

from __future__ import annotations

ORDER = 34


def register(sub) -> None:
    p = sub.add_parser(
        "visualize", help="feature maps S, T, S~, T~ of a tube, to PNG (needs matplotlib)"
    )
    p.add_argument("--checkpoint", required=True, metavar="CKPT")
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument(
        "--block",
        metavar="NAME",
        help="tube or block module name, e.g. stem, stages.1.1 (default: the first)",
    )
    p.add_argument("--frame", type=int, metavar="T", help="frame of the clip (default: middle)")
    p.add_argument("--channels", type=int, default=4, help="single channels shown per map")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.deploy.visualize import visualize

    # without matplotlib: MissingExtraError (exit 1); a bad --block, --frame or a missing
    # file: a user error (exit 2), both reported by the CLI in one line
    path = visualize(
        args.checkpoint,
        args.video,
        args.out,
        block=args.block,
        frame=args.frame,
        channels=args.channels,
    )
    print(f"wrote {path}")
    return 0
