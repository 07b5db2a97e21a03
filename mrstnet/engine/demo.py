"""`mrstnet demo`: from nothing to a trained, tested model that provably uses motion.

Writes the human-actions set (mrstnet.data.humans: articulated figures, easy setting; its
first four classes are two motion-only pairs, hand_clapping / hand_waving and jog_right /
run_right, whose frames look alike and whose motion differs), holds one training group out
for validation, trains the `demo` preset until the validation loss stops improving or the
time budget is spent, tests best.pt on the held-out test split, then tests it again on
frame-shuffled clips: a model that ignores frame order would score the same; one that uses
motion falls towards chance within each pair (50 % here). `kind="shapes"` writes the moving
shapes set instead (the shipped weights' data).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .config import build_config
from .evaluate import write_report
from .runner import test_run, train_synthetic_run

# The demo's set. 225 videos a class in 9 groups of 25: 3 groups test (300 videos), 1 group
# validation (100), 5 groups training (500); 24-frame videos, so that a 16-frame clip sees
# most of each motion. (The calibration behind it: benchmarks/results/humans_calibration.json.)
SYNTH = {"classes": 4, "videos_per_class": 225, "frames": 24, "size": 80}
# the humans set's difficulty for the demo: easier than "easy" (0.2), whose pairs the demo
# model separates to ~93 % before its validation loss stops improving; at 0.1 it reaches
# ~97 %, and the frames shuffled still fall to chance within a pair
# (benchmarks/results/demo_humans.json)
DIFFICULTY = 0.1
KINDS = ("humans", "shapes")


def write_set(out: Path, kind: str, difficulty: str, seed: int, **synth) -> Path:
    """The demo's generated set in the UCF-101 layout."""
    if kind == "humans":
        from mrstnet.data.humans import write_humans

        return write_humans(out, difficulty=difficulty, seed=seed, **synth)
    if kind == "shapes":
        from mrstnet.data import write_synthetic

        return write_synthetic(out, seed=seed, **synth)
    raise ValueError(f"demo kind must be {' or '.join(KINDS)}, got {kind!r}")


def synth_name(kind: str, difficulty, seed: int) -> str:
    """How report.json names the synthetic set it wrote."""
    return (
        f"humans, difficulty {difficulty}, seed {seed}"
        if kind == "humans"
        else f"{kind}, seed {seed}"
    )


def run_demo(
    out: str | Path = "mrstnet-demo",
    *,
    root: str | Path | None = None,
    kind: str = "humans",
    difficulty: str | float = DIFFICULTY,
    preset: str = "demo",
    sets: list[str] | None = None,
    stopping: dict | None = None,
    seed: int = 0,
    classes: int = SYNTH["classes"],
    videos_per_class: int = SYNTH["videos_per_class"],
    frames: int = SYNTH["frames"],
    size: int = SYNTH["size"],
    test_clips: int = 3,
    device: str | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    """Write the set (unless `root`), train, test, test frame-shuffled; the report (also in
    OUT/report.json). `stopping`: config keys over the preset's (time_budget, patience, ...)."""
    out = Path(out)
    t0 = time.perf_counter()
    given_root = root is not None
    if root is None:
        log(f"writing the {kind} set to {out / 'data'} ...")
        synth = dict(classes=classes, videos_per_class=videos_per_class, frames=frames, size=size)
        root = write_set(out / "data", kind, difficulty, seed, **synth)
    root = Path(root)
    t_data = time.perf_counter()
    cfg = build_config(preset, sets, seed=seed, **(stopping or {}))
    run_dir = out / "run"
    summary = train_synthetic_run(
        cfg,
        root,
        run_dir,
        out / "splits",
        overwrite=True,  # each `mrstnet demo` is a new run from nothing (its data is rewritten too)
        device=device,
        progress=progress,
        log=log,
    )
    t_train = time.perf_counter()
    common = dict(
        dataset="ucf101",
        root=root,
        split=1,
        clips=test_clips,
        num_workers=cfg.num_workers,
        batch_size=cfg.batch_size,
        device=device,
        amp=cfg.amp,
        progress=progress,
        log=lambda *a: None,
    )
    m = test_run(run_dir / "best.pt", **common)
    shuffled = test_run(run_dir / "best.pt", shuffle_frames=True, **common)
    write_report(m, run_dir, "test")
    write_report(shuffled, run_dir, "test_shuffled")
    seconds = time.perf_counter() - t0
    report = {
        "top1": m["top1"],
        "shuffled_top1": shuffled["top1"],
        "seconds": round(seconds, 1),
        "top5": m["top5"],
        "clip_top1": m["clip_top1"],
        "mean_class_acc": m["mean_class_acc"],
        "shuffled_clip_top1": shuffled["clip_top1"],
        "num_videos": m["num_videos"],
        "num_classes": len(m["classes"]),
        "train_steps": summary["steps"],
        "stopped": summary["stopped"],
        "best_step": summary.get("best_step"),
        "val_top1": summary.get("best_top1"),
        "train_loss": summary.get("loss"),
        "train_acc": summary.get("acc"),
        "seconds_data": round(t_data - t0, 1),
        "seconds_train": round(t_train - t_data, 1),
        "seconds_test": round(time.perf_counter() - t_train, 1),
        "model": cfg.model,
        "data": "given" if given_root else synth_name(kind, difficulty, seed),
        "clip": f"{cfg.clip.frames}x{cfg.clip.crop_size}x{cfg.clip.crop_size}",
        "root": str(root),
        "checkpoint": str(run_dir / "best.pt"),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    chance = 1 / max(len(m["classes"]), 1)
    log("")
    log("mrstnet demo report")
    log(
        f"  data        {root} ({len(m['classes'])} classes, {m['num_videos']} test videos, "
        f"chance {chance:.2f})"
    )
    log(
        f"  model       {cfg.model}, {report['clip']} clips, {summary['steps']} steps "
        f"in {report['seconds_train']:.0f} s (stopped: {summary['stopped']}"
        + (f", best.pt = step {summary['best_step']}" if summary.get("best_step") else "")
        + ")"
    )
    log(
        f"  test        top1 {m['top1']:.3f}  top5 {m['top5']:.3f}  "
        f"clip top1 {m['clip_top1']:.3f}  mean class {m['mean_class_acc']:.3f}"
    )
    log(
        f"  shuffled    top1 {shuffled['top1']:.3f}  (frames permuted: "
        f"{'motion matters' if shuffled['top1'] < m['top1'] - 0.2 else 'order barely matters'})"
    )
    log(f"  total       {seconds:.0f} s  -> {out / 'report.json'}")
    return report
