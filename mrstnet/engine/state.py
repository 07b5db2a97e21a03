"""A training run's parts and where it stands, and how both go to and come from last.pt.

`Run` holds what is built once (model, optimizer, schedule, sampler, sizes); `RunState`
what moves (epoch, step, the best validation so far and the rounds since, the training time
spent, the running sums of the logs). A checkpoint holds both, and the RNG streams of every
process, so that a run resumed from any step goes on exactly as if it had never stopped
(and keeps its patience counter and elapsed time: a time budget spans the resumes).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import distributed
from .checkpoint import (
    load_checkpoint,
    load_init,
    model_config_of,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unwrap,
)
from .config import TrainConfig
from .runlog import Meter
from .seeding import EpochSampler, seed_everything


@dataclass
class Run:
    """The parts of a training run, built once."""

    cfg: TrainConfig
    d: distributed.Dist
    model: nn.Module  # the bare model: the one saved and validated
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    sampler: EpochSampler
    classes: list[str]
    run_dir: Path | None
    batch: int  # clips per step on this process (cfg.batch_size is over all of them)
    steps_per_epoch: int
    last_step: int  # the step budget: cfg.epochs of steps, capped by cfg.max_steps
    collate_fn: Callable
    normalize: Callable
    progress: bool  # progress bars (rank 0, on a terminal)
    train_model: nn.Module | None = None  # the model under DDP and/or torch.compile
    train_set: Any = None  # the training set as sampled (wrapped by the balanced sampler)
    loss_weight: torch.Tensor | None = None  # class weights of the loss (balance "loss")

    @property
    def last_path(self) -> Path | None:
        return self.run_dir / "last.pt" if self.run_dir else None

    @property
    def epochs(self) -> int:
        """What the logs count to: cfg.max_steps may end training before cfg.epochs."""
        return -(-self.last_step // self.steps_per_epoch)


@dataclass
class RunState:
    """Where a run stands; every field up to `lr` is in its checkpoints."""

    epoch: int = 0  # whole epochs done
    step: int = 0  # optimizer steps done
    best: float = -1.0  # validation top-1 of best.pt (-1: none yet)
    best_score: float | None = None  # cfg.monitor's value at best.pt (None: none yet)
    best_step: int = 0  # the step best.pt holds
    bad_rounds: int = 0  # validation rounds in a row without improvement (patience)
    val_step: int = -1  # the step of the last validation (-1: none)
    elapsed: float = 0.0  # training seconds before this process (a resumed run's)
    lr: float = 0.0  # the learning rate of the last step
    window: Meter = field(default_factory=Meter)  # since the last `train` log record
    meter: Meter = field(default_factory=Meter)  # since the epoch began
    resumed: bool = False
    # read from a checkpoint, used once: every process's RNG streams and running sums
    rng: list | dict | None = None
    progress: list | None = None
    stopped: str | None = None  # why training ended (should_stop), once it has
    clock: float | None = None  # perf_counter() when this process's training loop began

    def start_clock(self) -> None:
        self.clock = time.perf_counter()

    def seconds(self) -> float:
        """Training seconds so far, earlier processes' included: never decreases."""
        now = time.perf_counter() - self.clock if self.clock is not None else 0.0
        return self.elapsed + now

    def new_epoch(self) -> None:
        self.window, self.meter = Meter(), Meter()

    def restore_progress(self, rank: int) -> None:
        """The sums of the part of this epoch done before the stop (a mid-epoch resume)."""
        saved = self.progress[rank % len(self.progress)]
        self.window, self.meter = Meter.restored(saved["window"]), Meter.restored(saved["epoch"])
        self.lr = saved["lr"]


def start(run: Run, *, resume: bool, init: str | None, say: Callable) -> RunState:
    """Resume from RUN_DIR/last.pt, or start afresh: `init` weights, seeds, no stale files."""
    if resume and run.last_path and run.last_path.exists():
        state = load_state(run, run.last_path)
        say(f"resumed from {run.last_path}: epoch {state.epoch}, step {state.step}")
        return state
    if resume:
        say(f"--resume: no {run.last_path}, starting afresh")
    if init:
        load_init(run.model, init, log=say, classes=run.classes)
    # dropout and the like: every process draws its own masks (the data's augmentation is
    # seeded per item, SeededItems)
    seed_everything(run.cfg.seed + run.d.rank)
    if run.run_dir and run.d.is_main:  # what an earlier run left here (after --init read it)
        for stale in (run.last_path, run.run_dir / "best.pt"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(run.run_dir / "tb", ignore_errors=True)
    return RunState(lr=run.optimizer.param_groups[0]["lr"])


def load_state(run: Run, path: Path) -> RunState:
    """Load a checkpoint's weights, optimizer, schedule and scaler into `run`, and return
    where it stood. Its RNG streams wait in the state until the model is wrapped."""
    ckpt = load_checkpoint(path)
    try:
        unwrap(run.model).load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:  # missing / unexpected keys or other shapes
        raise ValueError(
            f"{path} holds another architecture than this run's model ({str(e).splitlines()[0]})"
        ) from e
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.scheduler.load_state_dict(ckpt["scheduler"])
    run.scaler.load_state_dict(ckpt["scaler"])
    return RunState(
        epoch=ckpt["epoch"],
        step=ckpt["step"],
        best=ckpt.get("best", -1.0),
        # older checkpoints lack these: no validation recorded, no time spent
        best_score=ckpt.get("best_score"),
        best_step=ckpt.get("best_step", 0),
        bad_rounds=ckpt.get("bad_rounds", 0),
        val_step=ckpt.get("val_step", -1),
        elapsed=ckpt.get("elapsed", 0.0),
        lr=run.optimizer.param_groups[0]["lr"],
        resumed=True,
        rng=ckpt["rng"],
        progress=ckpt.get("progress"),
    )


def restore_rng(run: Run, state: RunState) -> None:
    """This process's RNG streams from the checkpoint (called last before training, so that
    nothing in the set-up consumes them)."""
    if state.rng is not None:
        rng = state.rng
        set_rng_state(rng[run.d.rank % len(rng)] if isinstance(rng, list) else rng)
        state.rng = None


def save_state(run: Run, state: RunState, paths: list[Path]) -> None:
    """Write the run to each of `paths` (rank 0). Every rank must call this: the RNG
    streams and running sums of all processes are gathered."""
    mine = {"window": state.window.saved(), "epoch": state.meter.saved(), "lr": state.lr}
    states = distributed.all_gather_objects((rng_state(), mine))
    if run.d.is_main:
        ckpt = {
            "model": model_config_of(run.model),
            # default layout on disk, whatever the training layout (same keys, values)
            "state_dict": {k: v.contiguous() for k, v in unwrap(run.model).state_dict().items()},
            "classes": run.classes,
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict(),
            "epoch": state.epoch,
            "step": state.step,
            "best": state.best,
            "best_score": state.best_score,
            "best_step": state.best_step,
            "bad_rounds": state.bad_rounds,
            "val_step": state.val_step,
            "elapsed": state.seconds(),
            "rng": [r for r, _ in states],
            # the epoch's running sums, so that a run resumed mid-epoch logs the whole epoch
            "progress": [p for _, p in states],
            "preset": run.cfg.to_dict(),
            "data": run.cfg.clip.to_dict(),
        }
        for path in paths:
            save_checkpoint(path, ckpt)
    distributed.barrier()
