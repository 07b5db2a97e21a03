"""The user's path end to end: a dataset folder in, a trained run, a test report, predictions.

The `train`, `test`, `predict`, `demo` and `ablate` commands are thin wrappers over these.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import distributed
from .balance import class_table, labels_of
from .checkpoint import build_model_from_checkpoint, clip_spec_of, load_checkpoint
from .config import (
    TrainConfig,
    build_config,
    config_from_dict,
    merge_overrides,
    parse_overrides,
)
from .evaluate import evaluate, summary
from .run_split import test_split, training_split
from .train import fit, seed_everything


def _silent(*args, **kwargs) -> None:
    pass


def build_datasets(
    cfg: TrainConfig,
    name: str,
    root,
    *,
    split: int = 1,
    annotations=None,
    val_annotations=None,
    validate: bool = True,
):
    """The training set and (when the config validates) the validation set, both cut as
    `cfg.clip` says; training items augmented as `cfg.augment` says; validation takes
    `cfg.val_clips` clips per video."""
    from mrstnet.data import build_dataset, get_reader

    train_set = build_dataset(
        name,
        root,
        cfg.clip,
        subset="train",
        split=split,
        annotations=annotations,
        train=True,
        augment=cfg.augment,
    )
    val_set = None
    if validate and cfg.validates:
        val_set = build_dataset(
            name,
            root,
            cfg.clip.replace(num_clips=cfg.val_clips),
            subset=get_reader(name).held_out or cfg.val_subset,
            split=split,
            annotations=val_annotations or annotations,
            train=False,
        )
    return train_set, val_set


def create(cfg: TrainConfig, num_classes: int):
    import mrstnet.models as models

    if not cfg.model:
        raise ValueError("no model: give --model or use a preset that names one")
    kwargs = dict(cfg.model_args)
    if cfg.dropout is not None:
        kwargs["dropout"] = cfg.dropout
    return models.create_model(cfg.model, num_classes=num_classes, **kwargs)


def resolve_config(
    preset: str | None, sets: list[str] | None, out: str | Path | None, resume: bool, **explicit
) -> TrainConfig:
    """On --resume the run's own stored config is the base (so a resumed run is the same
    run); `--set` may still change things such as the number of epochs, not the model."""
    last = Path(out) / "last.pt" if out else None
    if resume and last and last.exists():
        stored = load_checkpoint(last)["preset"]
        values = merge_overrides(stored, parse_overrides(sets or []))
        values.update({k: v for k, v in explicit.items() if v is not None})
        cfg, before = config_from_dict(values), config_from_dict(stored)
        for key in ("model", "model_args"):
            if getattr(cfg, key) != getattr(before, key):
                raise ValueError(
                    f"--resume continues {last} with its own architecture: {key} "
                    f"{getattr(before, key)!r} cannot become {getattr(cfg, key)!r} "
                    "(start a new run, e.g. with --init from this one)"
                )
        return cfg
    return build_config(preset, sets, **explicit)


def train_synthetic_run(cfg: TrainConfig, root, out, splits, **kw) -> dict:
    """Train on a UCF-101-layout set (split 1) with validation on its first training group,
    held out into `splits`, so that neither best.pt nor the stopping step is chosen on the
    test videos (the demo's and `mrstnet pretrain`'s runs). `kw`: train_run's options."""
    train_ann, val_ann = (None, None)
    if cfg.validates:
        from mrstnet.data.holdout import hold_out_first_group

        train_ann, val_ann = hold_out_first_group(root, splits)
    return train_run(
        cfg,
        dataset="ucf101",
        root=root,
        out=out,
        split=1,
        annotations=train_ann,
        val_annotations=val_ann,
        **kw,
    )


def train_run(
    cfg: TrainConfig,
    *,
    dataset: str,
    root,
    out,
    split: int = 1,
    annotations=None,
    val_annotations=None,
    resume: bool = False,
    overwrite: bool = False,
    init: str | None = None,
    device: str | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    d = distributed.setup(device)
    say = log if d.is_main else _silent
    if dataset == "folder":  # your own videos: an honest split, kept in RUN_DIR/splits
        annotations = training_split(
            cfg, root, out, resume=resume, overwrite=overwrite, annotations=annotations, log=say
        )
    train_set, val_set = build_datasets(
        cfg, dataset, root, split=split, annotations=annotations, val_annotations=val_annotations
    )
    say(
        f"{dataset} split {split}: {len(train_set.videos)} training videos, "
        f"{len(train_set.classes)} classes"
        + (f", {len(val_set.videos)} validation videos" if val_set is not None else "")
    )
    say(
        class_table(
            train_set.classes,
            labels_of(train_set),
            None if val_set is None else [v.label for v in val_set.videos],
            cfg.balance,
        )
    )
    seed_everything(cfg.seed)
    model = create(cfg, len(train_set.classes))
    if d.is_main:
        n = sum(p.numel() for p in model.parameters())
        log(
            f"model {cfg.model}: {n / 1e6:.2f}M parameters on {d.device}"
            f"{' x' + str(d.world_size) if d.enabled else ''}"
        )
    return fit(
        cfg,
        model,
        train_set,
        val_set,
        out_dir=out,
        classes=train_set.classes,
        resume=resume,
        overwrite=overwrite,
        init=init,
        device=device,
        progress=progress,
        log=log,
    )


def test_run(
    checkpoint,
    *,
    dataset: str,
    root,
    split: int = 1,
    annotations=None,
    subset: str | None = None,
    clips: int = 20,
    crops: int = 1,
    batch_size: int = 8,
    num_workers: int = 2,
    device: str | None = None,
    amp: bool = True,
    shuffle_frames: bool = False,
    progress: bool = True,
    log=print,
) -> dict:
    """Multi-clip test of a checkpoint: its clip spec, with `clips` clips x `crops` crops
    per video; `subset` defaults to the format's held-out subset (test; Kinetics: val)."""
    from mrstnet.data import build_dataset, get_reader

    d = distributed.setup(device)
    ckpt = load_checkpoint(checkpoint)
    model = build_model_from_checkpoint(ckpt).to(d.device)
    annotations = test_split(checkpoint, dataset, annotations)  # a folder run's own split
    subset = subset or get_reader(dataset).test_subset(root)
    if d.is_main and dataset == "folder":
        log(f"testing on {subset}" + (f" of {annotations}" if annotations else f" of {root}"))
    ds = build_dataset(
        dataset,
        root,
        clip_spec_of(ckpt).replace(num_clips=clips, crops=crops),
        subset=subset,
        split=split,
        annotations=annotations,
        train=False,
    )
    if list(ds.classes) != list(ckpt["classes"]):
        raise ValueError(
            f"{root} has other classes ({len(ds.classes)}) than the checkpoint "
            f"({len(ckpt['classes'])})"
        )
    m = evaluate(
        model,
        ds,
        batch_size=batch_size,
        num_workers=num_workers,
        device=d.device,
        amp=amp,
        shuffle_frames=shuffle_frames,
        progress=progress and d.is_main,
        desc="test (shuffled frames)" if shuffle_frames else "test",
    )
    m.update(clips=clips, crops=crops, split=split, subset=subset, checkpoint=str(checkpoint))
    if d.is_main:
        log(summary(m))
    return m


def split_checkpoint(checkpoint: str | Path, split: int) -> Path:
    """`--split all`: RUN_DIR (holding split1/ split2/ split3/) or a path with `{split}`."""
    text = str(checkpoint)
    if "{split}" in text:
        return Path(text.format(split=split))
    return Path(checkpoint) / f"split{split}" / "best.pt"


METRIC_KEYS = ("top1", "top5", "clip_top1", "mean_class_acc")


def average_splits(per_split: dict[int, dict]) -> dict:
    """The paper's 3-split average, and each split's numbers."""
    out = {k: float(np.mean([m[k] for m in per_split.values()])) for k in METRIC_KEYS}
    out["num_videos"] = int(sum(m["num_videos"] for m in per_split.values()))
    out["splits"] = {
        str(s): {k: m[k] for k in (*METRIC_KEYS, "num_videos")} for s, m in per_split.items()
    }
    return out


def public_json(m: dict) -> dict:
    """The `--json` report: fractions in [0, 1]; per-class accuracy by class name."""
    keep = (
        *METRIC_KEYS,
        "num_videos",
        "unreadable",
        "num_clips",
        "clips",
        "crops",
        "split",
        "subset",
        "checkpoint",
        "splits",
    )
    out = {k: m[k] for k in keep if k in m}
    if "per_class" in m:
        out["per_class"] = dict(zip(m["classes"], m["per_class"], strict=True))
    return out


def write_json(path: str | Path, obj: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def predict(
    checkpoint,
    videos: list[str],
    *,
    top: int = 5,
    clips: int = 10,
    crops: int = 1,
    device: str | None = None,
    batch_size: int = 8,
    amp: bool = True,
) -> list[dict]:
    """Top classes with probabilities for each video file, from a checkpoint alone
    (`mrstnet.engine.batch.predict_files` as a list)."""
    from .batch import predict_files
    from .inference import load_predictor

    predictor = load_predictor(checkpoint, device=device, amp=amp)
    return list(
        predict_files(predictor, videos, top=top, clips=clips, crops=crops, batch_size=batch_size)
    )


__all__ = [
    "average_splits",
    "build_datasets",
    "create",
    "predict",
    "public_json",
    "resolve_config",
    "split_checkpoint",
    "test_run",
    "train_run",
]
