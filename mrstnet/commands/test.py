"""`mrstnet test`: multi-clip video-level evaluation of a checkpoint."""

from __future__ import annotations

from mrstnet.commands.train import add_dataset_args, parse_splits

ORDER = 31


def register(sub) -> None:
    p = sub.add_parser(
        "test",
        help="test a checkpoint: top-1/top-5, per class, confusion",
        description="Video-level top-1/top-5 (mean of the clips' softmax scores), "
        "clip-level top-1, mean class accuracy, per-class accuracy and "
        "the confusion matrix (CSV; PNG with matplotlib).",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="CKPT",
        help="a .pt file; with --split all, RUN_DIR holding split{1,2,3}/best.pt "
        "or a path containing {split}",
    )
    add_dataset_args(p, "tests the three splits and reports their average")
    p.add_argument(
        "--subset",
        help="default: test (kinetics: val; folder: test/ when ROOT has one, else the val "
        "split of the run, RUN_DIR/splits beside the checkpoint)",
    )
    p.add_argument("--clips", type=int, default=20, help="clips per video (paper: 20)")
    p.add_argument("--crops", type=int, default=1, choices=(1, 3))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--shuffle-frames",
        action="store_true",
        help="permute each clip's frames (a model that uses motion should drop)",
    )
    p.add_argument(
        "--no-amp", action="store_true", help="fp32 even where bf16 pays (CUDA, AMX CPUs)"
    )
    p.add_argument("--json", metavar="FILE", help="write the metrics here")
    p.add_argument(
        "--out", metavar="DIR", help="confusion / per-class CSV folder (default: the checkpoint's)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mrstnet.engine import distributed
    from mrstnet.engine.evaluate import write_report
    from mrstnet.engine.runner import (
        average_splits,
        public_json,
        split_checkpoint,
        test_run,
        write_json,
    )

    splits = parse_splits(args)
    results = {}
    for split in splits:
        ckpt = split_checkpoint(args.checkpoint, split) if args.split == "all" else args.checkpoint
        m = test_run(
            ckpt,
            dataset=args.dataset,
            root=args.root,
            split=split,
            annotations=args.annotations,
            subset=args.subset,
            clips=args.clips,
            crops=args.crops,
            batch_size=args.batch_size,
            num_workers=args.workers,
            device=args.device,
            amp=not args.no_amp,
            shuffle_frames=args.shuffle_frames,
            progress=not args.no_progress,
        )
        results[split] = m
        if distributed.rank() == 0:
            prefix = "test" + ("_shuffled" if args.shuffle_frames else "")
            prefix += f"_split{split}" if len(splits) > 1 else ""
            out = Path(args.out) if args.out else Path(ckpt).parent
            files = write_report(m, out, prefix)
            print("wrote " + ", ".join(str(f) for f in files))
    if distributed.rank() == 0:
        report = public_json(results[splits[0]]) if len(splits) == 1 else None
        if report is None:
            report = public_json(average_splits(results))
            print(
                f"3-split average: top1 {report['top1']:.4f}  top5 {report['top5']:.4f}  "
                f"clip_top1 {report['clip_top1']:.4f}  "
                f"mean_class_acc {report['mean_class_acc']:.4f}"
            )
        if args.json:
            write_json(args.json, report)
    return 0
