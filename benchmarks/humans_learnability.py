"""Calibrate `mrstnet synth --kind humans` difficulties: write a set, train a small preset on
it briefly, test it, and test it again on frame-shuffled clips (run by hand, minutes each):

    python benchmarks/humans_learnability.py                      # the runs in RUNS
    python benchmarks/humans_learnability.py --runs easy_demo     # one of them
    python benchmarks/humans_learnability.py --sheet docs/humans_classes.png  # only the sheet

Each run is `mrstnet demo --root SET --preset P --set max_steps=N` (mrstnet.engine.demo):
top-1 over the test videos of split 1 (3 clips a video), and the same checkpoint on clips
whose frames are randomly permuted. In a motion-only class pair the shuffled clips carry no
order, so a model that uses motion falls to chance within the pair. Results are appended to
benchmarks/results/humans_calibration.json (one entry per run, with the CPU, the threads
and the machine's load average at the start, since timings on a shared machine vary).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

from mrstnet.engine.hardware import cpu_name

RESULTS = Path(__file__).parent / "results" / "humans_calibration.json"

# name: (set, preset, preset overrides)
RUNS = {
    "easy_demo": (
        dict(classes=6, videos_per_class=150, frames=24, size=80, difficulty="easy"),
        "demo",
        [],
    ),
    "easy_demo_1200": (
        dict(classes=6, videos_per_class=150, frames=24, size=80, difficulty="easy"),
        "demo",
        ["max_steps=1200"],
    ),
    "easy4_demo": (
        dict(classes=4, videos_per_class=150, frames=24, size=80, difficulty="easy"),
        "demo",
        [],
    ),
    "easy4_demo_1200": (
        dict(classes=4, videos_per_class=200, frames=24, size=80, difficulty="easy"),
        "demo",
        ["max_steps=1200"],
    ),
    "medium_ablation": (
        dict(classes=6, videos_per_class=150, frames=24, size=80, difficulty="medium"),
        "ablation",
        [],
    ),
    "hard_demo": (
        dict(classes=6, videos_per_class=150, frames=24, size=80, difficulty="hard"),
        "demo",
        [],
    ),
    "hard_ablation": (
        dict(classes=6, videos_per_class=150, frames=24, size=80, difficulty="hard"),
        "ablation",
        [],
    ),
}


def contact_sheet(path: Path, *, difficulty="easy", frames=24, size=80, columns=6, seed=0):
    """One row per class: `columns` frames spread over one video, labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from mrstnet.data.humans import CLASSES, MOTION_ONLY, class_video, parse_difficulty, video_rng

    d = parse_difficulty(difficulty)
    motion_only = {c for pair in MOTION_ONLY for c in pair}
    fig, axes = plt.subplots(
        len(CLASSES), columns, figsize=(columns * 1.25, len(CLASSES) * 1.3), squeeze=False
    )
    for row, name in enumerate(CLASSES):
        video = class_video(name, video_rng(seed, name, 0), frames, size, d)
        for col, t in enumerate(np.linspace(0, frames - 1, columns).round().astype(int)):
            ax = axes[row, col]
            ax.imshow(video[t], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        tag = "*" if name in motion_only else ""
        axes[row, 0].set_ylabel(name + tag, fontsize=7)
    shown = ", ".join(str(t) for t in np.linspace(0, frames - 1, columns).round().astype(int))
    fig.suptitle(
        f"--kind humans --difficulty {difficulty}: frames {shown} of one video a class "
        "(* motion-only pair)",
        fontsize=7,
        y=0.996,
    )
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 0.98))
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=80)
    plt.close(fig)
    # a 256-colour palette keeps the PNG small enough for the repository
    from PIL import Image

    Image.open(buffer).convert("RGB").quantize(256).save(path, optimize=True)


def run(name: str, workdir: Path, steps: int | None, threads: int) -> dict:
    from mrstnet.data.humans import write_humans
    from mrstnet.engine.demo import run_demo

    synth, preset, sets = RUNS[name]
    sets = [*sets, f"threads={threads}", f"num_workers={threads}"]
    sets = [*sets, f"max_steps={steps}"] if steps else sets
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    root = write_humans(workdir / name / "data", seed=0, **synth)
    t_data = time.perf_counter() - t0
    report = run_demo(
        workdir / name, root=root, preset=preset, sets=sets, progress=False, log=lambda *a: None
    )
    return {
        "run": name,
        "set": synth,
        "preset": preset,
        "overrides": sets,
        "model": report["model"],
        "clip": report["clip"],
        "train_steps": report["train_steps"],
        "top1": round(report["top1"], 4),
        "shuffled_top1": round(report["shuffled_top1"], 4),
        "mean_class_acc": round(report["mean_class_acc"], 4),
        "train_acc": report["train_acc"],
        "test_videos": report["num_videos"],
        "seconds_data": round(t_data, 1),
        "seconds_train": report["seconds_train"],
        "seconds_test": report["seconds_test"],
        "seconds_total": round(t_data + report["seconds"], 1),
        "cpu": cpu_name(),
        "load_avg_at_start": round(load, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {list(RUNS)}")
    p.add_argument("--steps", type=int, help="override the preset's max_steps")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads and loader workers (default 1: on a shared, loaded machine two "
        "threads each were 8x slower than one, measured)",
    )
    p.add_argument("--workdir", default="/tmp/mrstnet-humans-calibration")
    p.add_argument("--sheet", help="only write a contact sheet PNG of every class here")
    args = p.parse_args()
    if args.sheet:
        contact_sheet(Path(args.sheet))
        print(f"wrote {args.sheet}")
        return
    for name in args.runs.split(","):
        entry = run(name, Path(args.workdir), args.steps, args.threads)
        print(json.dumps(entry))
        # read just before writing: runs may go on side by side
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
        RESULTS.write_text(json.dumps([*results, entry], indent=1) + "\n")


if __name__ == "__main__":
    main()
