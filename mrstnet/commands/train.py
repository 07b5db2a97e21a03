"""`mrstnet train`: a preset recipe on a dataset folder, on one process or under torchrun."""

from __future__ import annotations

import argparse

from mrstnet.data.readers import READERS, split_datasets, split_numbers

ORDER = 30


def add_dataset_args(p: argparse.ArgumentParser, split_all_help: str) -> None:
    p.add_argument("--dataset", required=True, choices=list(READERS))
    p.add_argument("--root", required=True, help="the dataset folder")
    p.add_argument(
        "--split",
        default="1",
        choices=(*map(str, split_numbers()), "all"),
        help=f"the official split of {'/'.join(split_datasets())} (default 1); "
        f"'all' {split_all_help}",
    )
    p.add_argument(
        "--annotations",
        help="list file (--dataset list), annotations folder, or a folder run's split "
        "(--dataset folder: RUN_DIR/splits)",
    )
    p.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when present)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def parse_splits(args) -> list[int]:
    if args.split == "all":
        splits = READERS[args.dataset].splits
        if splits < 2:
            raise ValueError(
                f"--split all is for {' and '.join(split_datasets())} "
                "(the formats with official splits)"
            )
        return list(range(1, splits + 1))
    return [int(args.split)]


def add_stopping_args(p: argparse.ArgumentParser) -> None:
    """When training ends besides the preset's epochs / max_steps (also `demo`, `ablate`)."""
    p.add_argument(
        "--time-budget",
        metavar="T",
        help="stop once the training loop has run this long: seconds, or 90s, 15m, 1.5h "
        "(a resumed run counts its earlier time; config key time_budget)",
    )
    p.add_argument(
        "--patience",
        type=int,
        metavar="N",
        help="stop after N validation rounds in a row in which the monitored score "
        "(config key monitor: val_top1 or val_loss) did not improve by more than min_delta",
    )
    p.add_argument(
        "--patience-from",
        type=int,
        metavar="STEP",
        help="validation rounds before this optimizer step count neither towards patience "
        "nor for the plateau lr (config key patience_from; default 0)",
    )
    p.add_argument(
        "--val-every",
        metavar="N[steps]",
        help="validate every N epochs (N or Nepochs) or every N optimizer steps (Nsteps), "
        "so that short runs can stop early (config keys val_every, val_every_steps)",
    )


def stopping_overrides(args) -> dict:
    """The config keys the stopping flags set (absent flags: none)."""
    from mrstnet.engine.config import parse_duration, parse_val_every

    out: dict = {}
    if args.time_budget is not None:
        out["time_budget"] = parse_duration(args.time_budget)
    if args.patience is not None:
        out["patience"] = args.patience
    if args.patience_from is not None:
        out["patience_from"] = args.patience_from
    if args.val_every is not None:
        out.update(parse_val_every(args.val_every))
    return out


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model with a preset recipe",
        description="Train a model. Under `torchrun --nproc_per_node N -m mrstnet "
        "train ...` it runs data-parallel (DDP); the batch size is "
        "global.",
    )
    add_dataset_args(p, "trains the three splits into RUN_DIR/split{1,2,3} and tests each")
    p.add_argument("--val-annotations", help="validation list file (--dataset list)")
    p.add_argument("--model", help="model name (default: the preset's)")
    p.add_argument(
        "--preset",
        required=True,
        help="kinetics_scratch, ucf101_finetune, hmdb51_finetune, demo, or a YAML path",
    )
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    again.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in a RUN_DIR that holds a run (its last.pt, best.pt and log go)",
    )
    p.add_argument(
        "--init",
        metavar="CKPT",
        help="start from these weights (classifier replaced if the classes differ); "
        "imagenet:FILE inflates a 2D ResNet state dict (torchvision/timm names) "
        "into MRST-Net's spatial 1×k×k convs, 1×1×1 convs and BNs; pretrained:NAME "
        "the weights `mrstnet pretrain NAME` made (e.g. pretrained:humans)",
    )
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override preset keys, e.g. --set lr=3e-4 epochs=5 model_args.head=lstm",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help="--dataset folder without val/: the share of each class's videos held out for "
        "validation, split by source group, written to RUN_DIR/splits (default 0.2; "
        "config key val_fraction)",
    )
    p.add_argument(
        "--group-regex",
        metavar="REGEX",
        help="--dataset folder: the source of a video, searched in its file name (the first "
        "group, or the whole match; clips of one source stay on one side of the split); "
        "default: UCF-style names, v_Walk_g08_c01.mp4 is source v_Walk_g08",
    )
    p.add_argument(
        "--balance",
        choices=("none", "sampler", "loss"),
        help="class imbalance: a class-balanced sampler, or class weights in the loss "
        "(default none; config key balance)",
    )
    add_stopping_args(p)
    p.add_argument(
        "--no-amp", action="store_true", help="fp32 even where bf16 pays (CUDA, AMX CPUs)"
    )
    p.add_argument(
        "--test-clips",
        type=int,
        default=20,
        help="clips per video for the final tests of --split all",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mrstnet.engine import distributed
    from mrstnet.engine.runner import (
        average_splits,
        public_json,
        resolve_config,
        test_run,
        train_run,
        write_json,
    )

    splits = parse_splits(args)
    results = {}
    for split in splits:
        out = Path(args.out) / f"split{split}" if len(splits) > 1 else Path(args.out)
        cfg = resolve_config(
            args.preset,
            args.set,
            out,
            args.resume,
            model=args.model,
            amp=False if args.no_amp else None,
            val_fraction=args.val_fraction,
            group_regex=args.group_regex,
            balance=args.balance,
            **stopping_overrides(args),
        )
        summary = train_run(
            cfg,
            dataset=args.dataset,
            root=args.root,
            out=out,
            split=split,
            annotations=args.annotations,
            val_annotations=args.val_annotations,
            resume=args.resume,
            overwrite=args.overwrite,
            init=args.init,
            device=args.device,
            progress=not args.no_progress,
        )
        if len(splits) > 1:
            results[split] = test_run(
                out / "best.pt",
                dataset=args.dataset,
                root=args.root,
                split=split,
                clips=args.test_clips,
                device=args.device,
                amp=cfg.amp,
                progress=not args.no_progress,
            )
        elif distributed.rank() == 0:
            best = summary.get("best_top1")
            print(
                f"done: {out / 'best.pt'}"
                + (f" (val top1 {best:.4f})" if best else "")
                + f"; stopped: {summary['stopped']}"
            )
    if results and distributed.rank() == 0:
        avg = average_splits(results)
        write_json(Path(args.out) / "splits.json", public_json(avg))
        for s, m in avg["splits"].items():
            print(f"split {s}: top1 {m['top1']:.4f}  top5 {m['top5']:.4f}")
        print(
            f"3-split average: top1 {avg['top1']:.4f}  top5 {avg['top5']:.4f}  "
            f"mean_class_acc {avg['mean_class_acc']:.4f}"
        )
    return 0
