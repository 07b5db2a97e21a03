"""`mrstnet demo` on the human-actions set, as a user runs it, at the default difficulty and
two harder settings: top-1, frame-shuffled top-1, steps, how training stopped, wall clock
and peak memory of each run, one after another on this machine.

    python benchmarks/demo_humans.py [--out DIR] [--only default]

Writes benchmarks/results/demo_humans.json (the CPU model and flags beside the figures).
Run it on an otherwise idle machine: the demo's training has a time budget, so a busy
machine trains fewer steps."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cli_run import run_mrstnet  # noqa: E402
from mrstnet.engine.hardware import machine_summary  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "demo_humans.json"
RUNS = {
    "default": [],
    "easy": ["--difficulty", "easy"],
    "easy_300": ["--difficulty", "easy", "--videos-per-class", "300"],
}
KEEP = ("top1", "shuffled_top1", "top5", "clip_top1", "train_steps", "stopped", "best_step",
        "val_top1", "seconds", "seconds_data", "seconds_train", "seconds_test", "model",
        "data", "clip")  # fmt: skip


def run_demo(out: Path, extra: list[str]) -> dict:
    load_start = os.getloadavg()[0]
    timing = run_mrstnet("demo", "--out", str(out), "--no-progress", *extra)
    report = json.loads((out / "report.json").read_text())
    row = {"command": " ".join(["mrstnet demo --out OUT --no-progress", *extra])}
    row.update({k: report[k] for k in KEEP if k in report})
    row["wall_clock_s"], row["cpu_s"] = timing["wall_seconds"], timing["cpu_seconds"]
    row["peak_rss_mb"] = timing["peak_rss_mb"]
    row["load_avg_start"], row["load_avg_end"] = round(load_start, 2), round(os.getloadavg()[0], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="where the demos write")
    parser.add_argument("--only", choices=sorted(RUNS), action="append", help="some runs only")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    root = (args.out or Path(tempfile.mkdtemp(prefix="demo_humans_"))).resolve()
    rows = []
    for name in args.only or list(RUNS):
        row = run_demo(root / name, RUNS[name])
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {
        "what": "mrstnet demo on the human-actions set, one run after another; the demo "
        "preset's 420 s training budget, early stopping on the validation loss",
        "machine": machine_summary(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "runs": rows,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
