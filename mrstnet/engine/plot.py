"""Training curves from RUN_DIR/log.jsonl to a PNG (matplotlib is an optional extra)."""

from __future__ import annotations

import json
from pathlib import Path

from mrstnet.extras import pyplot


def read_log(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no log at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Loss, accuracy (train and validation), learning rate and throughput against step."""
    plt = pyplot("drawing training curves")
    records = read_log(run_dir)
    # a resumed run appends: keep the last record for each (kind, step)
    latest = {(r["kind"], r["step"]): r for r in records}
    train = sorted((r for (k, _), r in latest.items() if k == "train"), key=lambda r: r["step"])
    epochs = sorted((r for (k, _), r in latest.items() if k == "epoch"), key=lambda r: r["step"])
    # every validation round (`val` lines); logs of older versions have them in `epoch` lines
    vals = sorted((r for (k, _), r in latest.items() if k == "val"), key=lambda r: r["step"])
    vals = vals or [r for r in epochs if "val_top1" in r]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    panels = [
        ("loss", "loss"),
        ("acc", "accuracy"),
        ("lr", "learning rate"),
        ("clips_per_s", "clips/s"),
    ]
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        # an epoch record has no training figures when no step of it ran (see train.fit)
        steps = [r for r in train if key in r]
        ends = [r for r in epochs if key in r]
        if steps:
            ax.plot([r["step"] for r in steps], [r[key] for r in steps], lw=1, label="train steps")
        if ends:
            ax.plot([r["step"] for r in ends], [r[key] for r in ends], "o-", label="train epochs")
        vkey = {"acc": "val_top1", "loss": "val_loss"}.get(key)
        v = [r for r in vals if vkey in r]
        if v:
            name = "validation top-1" if key == "acc" else "validation loss"
            ax.plot([r["step"] for r in v], [r[vkey] for r in v], "s-", ms=3, label=name)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if key in ("loss", "acc"):
            ax.legend(fontsize=8)
    fig.suptitle(str(run_dir))
    fig.tight_layout()
    out = Path(out) if out else Path(run_dir) / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
