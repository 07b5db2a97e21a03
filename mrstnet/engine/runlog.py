"""What a training run reports: running sums, log records and the per-epoch line.

RUN_DIR/log.jsonl holds one JSON object per line: a `train` record every cfg.log_every
steps and an `epoch` record at each epoch's end (with the validation figures when there
are some). Every figure is over all processes; rank 0 alone writes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import distributed


@dataclass
class Meter:
    """Running sums over a stretch of steps (a log window or an epoch) of one process."""

    loss: float = 0.0  # summed over clips
    correct: int = 0  # top-1 hits
    n: int = 0  # clips
    wait: float = 0.0  # seconds spent waiting for a batch
    skipped: int = 0  # unreadable videos the data loader drew past
    t0: float = field(default_factory=time.perf_counter)

    def add(self, loss: float, correct: int, n: int, wait: float, skipped: int) -> None:
        self.loss += loss * n
        self.correct += correct
        self.n += n
        self.wait += wait
        self.skipped += skipped

    def saved(self) -> dict:
        """For a checkpoint: the sums, and the start time as seconds elapsed so far."""
        return {
            "loss": self.loss,
            "correct": self.correct,
            "n": self.n,
            "wait": self.wait,
            "skipped": self.skipped,
            "seconds": time.perf_counter() - self.t0,
        }

    @classmethod
    def restored(cls, saved: dict) -> Meter:
        # a checkpoint from before `skipped` was counted lacks it: 0
        meter = cls(**{k: v for k, v in saved.items() if k != "seconds"})
        meter.t0 = time.perf_counter() - saved["seconds"]
        return meter

    def rates(self, d: distributed.Dist) -> dict:
        """Loss, accuracy, throughput, the share of time spent waiting for data and the
        unreadable videos skipped, over all processes (every rank must call this); empty
        when no process took a step."""
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        loss, correct, n, wait, skipped = distributed.all_reduce_mean(
            [self.loss, self.correct, self.n, self.wait, self.skipped], d.device
        )
        if n == 0:
            return {}
        return {
            "loss": loss / n,
            "acc": correct / n,
            "clips_per_s": n * d.world_size / elapsed,
            "data_wait": min(wait / elapsed, 1.0),
            "skipped_videos": round(skipped * d.world_size),
        }


class RunLog:
    """One JSON object per line in RUN_DIR/log.jsonl, and TensorBoard when it is installed."""

    def __init__(self, run_dir: Path | None, enabled: bool, append: bool) -> None:
        self.file = self.tb = None
        if not (enabled and run_dir):
            return
        # a resumed run continues its log; a new run starts one
        self.file = open(run_dir / "log.jsonl", "a" if append else "w")  # noqa: SIM115
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"))
        except ImportError:  # tensorboard is an optional extra: the JSON log is enough
            pass

    def write(self, record: dict) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self.tb.add_scalar(f"{record['kind']}/{k}", v, record["step"])

    def close(self) -> None:
        for f in (self.file, self.tb):
            if f is not None:
                f.close()


def epoch_line(r: dict, epochs: int) -> str:
    """The one line an epoch prints, from its `epoch` record."""
    line = f"epoch {r['epoch']}/{epochs}  step {r['step']}  "
    if "loss" in r:
        line += (
            f"loss {r['loss']:.4f}  acc {r['acc']:.3f}  lr {r['lr']:.2e}  "
            f"{r['clips_per_s']:.1f} clips/s  data wait {100 * r['data_wait']:.0f}%"
        )
        if r.get("skipped_videos"):
            line += f"  skipped {r['skipped_videos']} unreadable videos"
    else:
        line += f"lr {r['lr']:.2e}  (no training step in this part of the epoch)"
    if "val_loss" in r:
        line += f"  val loss {r['val_loss']:.4f}"
    if "val_top1" in r:
        line += f"  val top1 {r['val_top1']:.3f}"
    return line
