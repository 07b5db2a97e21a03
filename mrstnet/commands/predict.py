"""`mrstnet predict`: the top classes of video files, from a checkpoint alone."""

from __future__ import annotations

ORDER = 32


def register(sub) -> None:
    p = sub.add_parser("predict", help="top classes with probabilities for video files")
    p.add_argument(
        "--checkpoint",
        metavar="CKPT",
        help="default: the shipped demo weights (mrstnet/weights/demo.pt)",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--clips", type=int, default=10, help="clips per video, scores averaged")
    p.add_argument("--crops", type=int, default=1, choices=(1, 3))
    p.add_argument("--device")
    p.add_argument(
        "--no-amp", action="store_true", help="fp32 even where bf16 pays (CUDA, AMX CPUs)"
    )
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.deploy.weights import demo_checkpoint
    from mrstnet.engine.runner import predict, write_json

    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = demo_checkpoint()  # FileNotFoundError (exit 2) when not shipped
        print(f"using the shipped demo weights {checkpoint}")
    results = predict(
        checkpoint,
        args.videos,
        top=args.top,
        clips=args.clips,
        crops=args.crops,
        device=args.device,
        amp=not args.no_amp,
    )
    for r in results:
        print(r["video"])
        if "error" in r:
            print(f"  unreadable: {r['error']}")
            continue
        for t in r["top"]:
            print(f"  {t['prob']:7.2%}  {t['class']}")
    if args.json:
        write_json(args.json, {"predictions": results})
    return 1 if all("error" in r for r in results) else 0
