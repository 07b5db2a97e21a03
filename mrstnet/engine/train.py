"""The training loop: AMP, DDP, atomic checkpoints that resume exactly, JSON-line logs.

`fit` works with any model (N, 3, L, H, W) -> logits and any dataset of dict samples
(`video` uint8 (3, L, H, W), `label`), on one process or under torchrun. It reads as the
loop; the set-up, one epoch, one step and validation are the functions below it, the run's
parts and state are in `state.py`, seeds and sampling in `seeding.py`, logs in `runlog.py`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from mrstnet.data.augment import mix_batch

from . import distributed
from .balance import balanced, loss_weights
from .config import TrainConfig
from .evaluate import autocast, evaluate
from .runlog import Meter, RunLog, epoch_line
from .runtime import prepare_for_training, to_channels_last, tune_cpu_allocator
from .schedule import make_optimizer, make_scheduler, total_steps
from .seeding import EpochSampler, SeededItems, batch_rng, loader_seed, seed_everything
from .state import Run, RunState, restore_rng, save_state, start

__all__ = ["fit", "seed_everything"]


def fit(
    cfg: TrainConfig,
    model: nn.Module,
    train_set,
    val_set=None,
    *,
    out_dir: str | Path | None,
    classes: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    init: str | None = None,
    collate_fn=None,
    normalize=None,
    progress: bool = True,
    device: str | None = None,
    log=print,
) -> dict:
    """Train `model` (built by the caller after `seed_everything(cfg.seed)`) until
    `should_stop`: cfg.epochs / cfg.max_steps, cfg.time_budget or cfg.patience.

    Writes RUN_DIR/last.pt every epoch (and every cfg.ckpt_every steps), RUN_DIR/best.pt
    (the best validation by cfg.monitor, or the last epoch when there is no validation) and
    RUN_DIR/log.jsonl (with a `val` record per validation and a `stop` record). A RUN_DIR
    that already holds a run (last.pt) is refused unless `resume` (continue it) or
    `overwrite` (start afresh). Returns the final summary, `stopped` saying why it ended
    (steps, budget or patience).
    """
    if resume and overwrite:
        raise ValueError("--resume continues RUN_DIR's run and --overwrite replaces it: give one")
    d = distributed.setup(device)
    say = log if d.is_main else _silent
    validating = val_set is not None and cfg.validates
    if (cfg.patience or cfg.schedule == "plateau") and not validating:
        # a preset with early stopping, its validation turned off (val_every=0): said, not
        # refused, so that such a preset still trains without validation
        say(
            "note: patience and the plateau schedule count validation rounds and this run "
            "does not validate: it ends on the step or time budget, the plateau lr stays "
            "at its peak"
        )
    run = prepare(
        cfg,
        model,
        train_set,
        d,
        out_dir=out_dir,
        classes=classes,
        resume=resume,
        overwrite=overwrite,
        collate_fn=collate_fn,
        normalize=normalize,
        progress=progress,
    )
    state = start(run, resume=resume, init=init, say=say)
    run.train_model = wrap(run)
    restore_rng(run, state)  # last, so that nothing above consumes the restored streams
    items = SeededItems(run.train_set, cfg.seed)
    runlog = RunLog(run.run_dir, d.is_main, append=state.resumed)
    summary: dict = {"best_top1": state.best if state.best >= 0 else None}
    rounds = Validation(run, state, val_set if validating else None, runlog, say)
    t_start = time.perf_counter()
    state.start_clock()
    saved_undecided = False  # last.pt written before should_stop said why the run ends
    while not should_stop(run, state):
        record = train_epoch(run, state, items, runlog, rounds)
        improved = rounds.at_epoch_end(record)
        runlog.write(record)
        say(epoch_line(record, run.epochs))
        state.new_epoch()  # a checkpoint now starts the next epoch
        if run.run_dir:
            best = [run.run_dir / "best.pt"] if improved else []
            save_state(run, state, [run.last_path, *best])
            saved_undecided = state.stopped is None
        summary.update(record)
    if saved_undecided and state.stopped == "budget":
        # the budget ran out between that checkpoint and the check: last.pt must hold the
        # time that ended the run, or resuming it with the same budget would train on
        save_state(run, state, [run.last_path])
    stop = stop_record(run, state)
    runlog.write(stop)
    runlog.close()
    say(stop_line(stop))
    summary.update(
        best_top1=state.best if state.best >= 0 else None,
        best_step=state.best_step if state.best_score is not None else None,
        best_score=state.best_score,
        monitor=run.cfg.monitor,
        stopped=state.stopped,
        steps=state.step,
        epochs_done=state.epoch,
        seconds=state.seconds(),  # the run's training time, earlier processes' included
        seconds_here=time.perf_counter() - t_start,
        run_dir=str(run.run_dir) if run.run_dir else None,
    )
    return summary


STOP_REASONS = ("steps", "budget", "patience")


def should_stop(run: Run, state: RunState) -> bool:
    """Whether training ends now; asked before each epoch and after each step.

    The one place that decides, and records why in state.stopped (STOP_REASONS):
    `steps` (cfg.epochs or cfg.max_steps done), `budget` (cfg.time_budget seconds of
    training spent, earlier processes' included) or `patience` (cfg.patience validation
    rounds in a row without improvement). Once true it stays true: the first reason is
    kept (the loop asks again after the epoch it ends, to validate and checkpoint that
    epoch as the last; the clock and the step count only grow, and a run that stopped on
    patience validates no more). A resumed run decides afresh from its stored counters, so
    raising max_steps, the budget or the patience continues it."""
    if state.stopped is None:
        state.stopped = stop_reason(run, state)
    return state.stopped is not None


def stop_reason(run: Run, state: RunState) -> str | None:
    cfg = run.cfg
    if state.epoch >= cfg.epochs or state.step >= run.last_step:
        return "steps"
    if cfg.time_budget:
        # every process must agree, or one would wait for the others' gradients forever
        (seconds,) = distributed.all_reduce_mean([state.seconds()], run.d.device)
        if seconds >= cfg.time_budget:
            return "budget"
    if cfg.patience and state.bad_rounds >= cfg.patience:
        return "patience"
    return None


def stop_record(run: Run, state: RunState) -> dict:
    """The log's last record: why training ended, and where best.pt is."""
    return {
        "kind": "stop",
        "stopped": state.stopped,
        "epoch": state.epoch,
        "step": state.step,
        "seconds": round(state.seconds(), 3),
        "monitor": run.cfg.monitor,
        "best_step": state.best_step if state.best_score is not None else None,
        "best_score": state.best_score,
        "bad_rounds": state.bad_rounds,
        "time_budget": run.cfg.time_budget,
        "patience": run.cfg.patience,
    }


def stop_line(r: dict) -> str:
    why = {
        "steps": "the step budget is done",
        "budget": f"the time budget of {r['time_budget']:g} s is spent",
        "patience": f"{r['monitor']} did not improve in {r['patience']} validation rounds",
    }.get(r["stopped"], "")
    line = f"stopped: {r['stopped']} ({why}) at step {r['step']} after {r['seconds']:.0f} s"
    if r["best_step"] is not None:
        line += f"; best.pt is step {r['best_step']} ({r['monitor']} {r['best_score']:.4f})"
    return line


def prepare(
    cfg: TrainConfig,
    model: nn.Module,
    train_set,
    d: distributed.Dist,
    *,
    out_dir: str | Path | None,
    classes: list[str] | None,
    resume: bool,
    overwrite: bool,
    collate_fn: Callable | None,
    normalize: Callable | None,
    progress: bool,
) -> Run:
    """Check the recipe against the data and processes; the model on its device and layout,
    its optimizer and schedule. Refuses a RUN_DIR holding a run unless resume/overwrite."""
    if collate_fn is None:
        from mrstnet.data import collate as collate_fn
    if normalize is None:
        from mrstnet.data import normalize
    if cfg.sync_bn and d.device.type != "cuda":
        raise ValueError(
            "sync_bn needs CUDA (torch's SyncBatchNorm has no CPU kernel): set sync_bn=false"
        )
    if cfg.threads and d.device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    if cfg.batch_size % d.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} must divide over {d.world_size} processes")
    batch = cfg.batch_size // d.world_size
    run_dir = Path(out_dir) if out_dir else None
    if run_dir and (run_dir / "last.pt").exists() and not (resume or overwrite):
        raise FileExistsError(
            f"{run_dir} already holds a run (last.pt): --resume continues it, "
            "--overwrite starts afresh in it"
        )
    if run_dir and d.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    sampler = EpochSampler(len(train_set), rank=d.rank, world=d.world_size, seed=cfg.seed)
    train_set, sampler = balanced(cfg, train_set, sampler)  # cfg.balance "sampler"
    steps_per_epoch = sampler.per_rank // batch
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(train_set)} training clips are fewer than one batch of "
            f"{cfg.batch_size}: lower batch_size"
        )
    model = place(cfg, model, d)
    optimizer = make_optimizer(cfg, model)
    classes = list(classes if classes is not None else getattr(train_set, "classes", []))
    return Run(
        cfg=cfg,
        d=d,
        model=model,
        optimizer=optimizer,
        scheduler=make_scheduler(cfg, optimizer, steps_per_epoch),
        # bf16 needs no loss scaling; the scaler stays (disabled) so checkpoints keep one shape
        scaler=torch.amp.GradScaler(d.device.type, enabled=False),
        sampler=sampler,
        classes=classes,
        train_set=train_set,
        loss_weight=loss_weights(cfg, train_set, len(classes), d.device),  # cfg.balance "loss"
        run_dir=run_dir,
        batch=batch,
        steps_per_epoch=steps_per_epoch,
        last_step=total_steps(cfg, steps_per_epoch),
        collate_fn=collate_fn,
        normalize=normalize,
        # bars on a terminal only: in a redirected log they are noise between the lines
        progress=progress and d.is_main and sys.stderr.isatty(),
    )


def place(cfg: TrainConfig, model: nn.Module, d: distributed.Dist) -> nn.Module:
    """The model on its device in its training layout, before the optimizer is built (its
    state then has the same layout; the parameters stay the same objects)."""
    if cfg.sync_bn and d.enabled:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(d.device)
    if cfg.fast:  # exact
        if d.device.type == "cpu":
            tune_cpu_allocator()
        prepare_for_training(model, fast_impl=False)  # keeps a chosen impl="reference"
    else:  # the networks are built channels_last_3d: fast=false trains in the plain layout
        model.to(memory_format=torch.contiguous_format)
    if d.enabled:
        default_strides_where_ambiguous(model)
    return model


def wrap(run: Run) -> nn.Module:
    """The model that trains: under DDP on several processes, then torch.compile (torch's
    DDP + compile recipe); checkpoint.unwrap sees through both."""
    model = run.model
    if run.d.enabled:
        cuda = run.d.device.type == "cuda"
        model = DistributedDataParallel(model, device_ids=[run.d.device.index] if cuda else None)
    return torch.compile(model) if run.cfg.compile else model


def train_epoch(
    run: Run, state: RunState, items: SeededItems, runlog: RunLog, rounds: Validation
) -> dict:
    """Train from state.step to the epoch's end (or until should_stop), validating every
    cfg.val_every_steps steps when set; the epoch's `epoch` record."""
    cfg, d = run.cfg, run.d
    number = state.epoch + 1  # the `epoch` of this epoch's log lines: 1 is the first
    skip = state.step - state.epoch * run.steps_per_epoch  # > 0 when resuming mid-epoch
    state.new_epoch()
    if skip and state.progress:
        state.restore_progress(d.rank)
    state.progress = None
    loader = epoch_loader(run, items, state.epoch, skip)
    run.train_model.train()
    desc = f"epoch {number}/{run.epochs}"
    bar = tqdm(
        total=run.steps_per_epoch,
        initial=skip,
        desc=desc,
        disable=not run.progress,
        leave=False,
        dynamic_ncols=True,
    )
    t_wait = time.perf_counter()
    for b in loader:
        waited = time.perf_counter() - t_wait
        loss, correct = train_step(run, state, b)
        skipped = int(b.get("skipped", 0))  # unreadable videos the loader drew past
        for meter in (state.window, state.meter):
            meter.add(loss, correct, len(b["label"]), waited, skipped)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", lr=f"{state.lr:.2e}")
        if state.step % cfg.log_every == 0:
            record = {"kind": "train", "epoch": number, "step": state.step, "lr": state.lr}
            runlog.write({**record, **state.window.rates(d)})
            state.window = Meter()
        # validation first: a checkpoint of this step then holds its counters and RNG
        if cfg.val_every_steps and state.step % cfg.val_every_steps == 0:
            rounds.between_steps(number)
        if cfg.ckpt_every and state.step % cfg.ckpt_every == 0 and run.run_dir:
            save_state(run, state, [run.last_path])
        if should_stop(run, state):
            break
        t_wait = time.perf_counter()
    bar.close()
    if state.step - state.epoch * run.steps_per_epoch >= run.steps_per_epoch:
        state.epoch += 1
    # else should_stop ended training mid-epoch: wrap up all the same (no training figures
    # when no step of this epoch was seen: a checkpoint taken at the epoch's last step,
    # resumed)
    record = {"kind": "epoch", "epoch": number, "step": state.step, "lr": state.lr}
    return {**record, **state.meter.rates(d)}


def epoch_loader(run: Run, items: SeededItems, epoch: int, skip: int) -> DataLoader:
    """The batches of `epoch` on this process, from its `skip`-th on."""
    run.sampler.set_epoch(epoch, start=skip * run.batch)
    items.epoch = epoch
    return DataLoader(
        items,
        batch_size=run.batch,
        sampler=run.sampler,
        num_workers=run.cfg.num_workers,
        collate_fn=run.collate_fn,
        drop_last=True,
        pin_memory=run.d.device.type == "cuda",
        generator=torch.Generator().manual_seed(loader_seed(run.cfg.seed, epoch, run.d.rank)),
        persistent_workers=False,
    )


def train_step(run: Run, state: RunState, batch: dict) -> tuple[float, int]:
    """One optimizer step on a batch; its mean loss and top-1 hits (against each clip's
    own label when the batch is mixed)."""
    cfg, d = run.cfg, run.d
    video = batch["video"].to(d.device, non_blocking=True)
    label = batch["label"].to(d.device, non_blocking=True)
    x = run.normalize(video)
    # mixup / cutmix (cfg.augment), drawn from (seed, step, rank): soft targets
    x, mix = mix_batch(x, cfg.augment, batch_rng(cfg.seed, state.step, d.rank))
    with autocast(d.device, cfg.amp):
        logits = run.train_model(to_channels_last(x) if cfg.fast else x)
    target = label if mix is None else mix.targets(label, logits.shape[1])
    loss = F.cross_entropy(
        logits.float(), target, weight=run.loss_weight, label_smoothing=cfg.label_smoothing
    )
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if cfg.clip_grad > 0:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.model.parameters(), cfg.clip_grad)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    state.lr = run.optimizer.param_groups[0]["lr"]  # this step's: the schedule moves on
    run.scheduler.step()
    state.step += 1
    return loss.item(), int((logits.argmax(1) == label).sum())


class Validation:
    """The validation rounds of a run: when they are due, what they measure, and what
    follows from them (best.pt, the patience counter, the plateau schedule's cuts)."""

    def __init__(self, run: Run, state: RunState, val_set, runlog: RunLog, say) -> None:
        self.run, self.state, self.val_set, self.runlog, self.say = run, state, val_set, runlog, say

    def at_epoch_end(self, record: dict) -> bool:
        """Validate when the epoch is due (every cfg.val_every epochs, and at the stop, unless
        this step was just validated), adding the figures to `record`; whether best.pt should
        now hold this epoch (always, when the run does not validate)."""
        run, state, cfg = self.run, self.state, self.run.cfg
        if self.val_set is None:
            return True  # no validation: best.pt is the latest epoch
        due = not cfg.val_every_steps and cfg.val_every and state.epoch % cfg.val_every == 0
        if state.val_step == state.step or not (due or should_stop(run, state)):
            return False
        m, improved = self.measure()
        record.update(val_top1=m["top1"], val_top5=m["top5"], val_clip_top1=m["clip_top1"])
        record.update(val_loss=m["loss"])
        self.runlog.write(self.val_record(record["epoch"], m, improved))
        return improved

    def between_steps(self, epoch: int) -> None:
        """A round between steps (cfg.val_every_steps): its record, and best.pt."""
        run, state = self.run, self.state
        m, improved = self.measure()
        record = self.val_record(epoch, m, improved)
        self.runlog.write(record)
        self.say(val_line(record))
        if improved and run.run_dir:
            save_state(run, state, [run.run_dir / "best.pt"])

    def measure(self) -> tuple[dict, bool]:
        """Evaluate the model; update best, the patience counter and the lr cuts."""
        run, state, cfg = self.run, self.state, self.run.cfg
        # BatchNorm running statistics differ between processes (each saw its own share of
        # the batches): validate rank 0's, the model that is saved
        distributed.broadcast_buffers(run.model)
        m = evaluate(
            run.train_model,
            self.val_set,
            batch_size=run.batch,
            num_workers=cfg.num_workers,
            device=run.d.device,
            amp=cfg.amp,
            collate_fn=run.collate_fn,
            normalize=run.normalize,
            progress=run.progress,
            desc="validate",
            fast=cfg.fast,
        )
        run.train_model.train()
        state.val_step = state.step
        score = m["loss"] if cfg.monitor == "val_loss" else m["top1"]
        improved = better(score, state.best_score, cfg.monitor, cfg.min_delta)
        if improved:
            state.best, state.best_score, state.best_step = m["top1"], score, state.step
            state.bad_rounds = 0
        elif state.step >= cfg.patience_from:  # earlier rounds are the warm-up's
            state.bad_rounds += 1
            if cfg.schedule == "plateau" and state.bad_rounds % cfg.plateau_patience == 0:
                run.scheduler.cut()
                self.say(
                    f"step {state.step}: no improvement in {state.bad_rounds} rounds, lr x "
                    f"{cfg.gamma:g} -> {run.optimizer.param_groups[0]['lr']:.2e}"
                )
        return m, improved

    def val_record(self, epoch: int, m: dict, improved: bool) -> dict:
        state = self.state
        return {
            "kind": "val",
            "epoch": epoch,
            "step": state.step,
            "seconds": round(state.seconds(), 3),
            "val_loss": m["loss"],
            "val_top1": m["top1"],
            "val_top5": m["top5"],
            "val_clip_top1": m["clip_top1"],
            "improved": improved,
            "bad_rounds": state.bad_rounds,
            "lr": self.run.optimizer.param_groups[0]["lr"],
        }


def better(score: float, best: float | None, monitor: str, min_delta: float) -> bool:
    """Whether `score` improves on `best` by more than min_delta (val_loss: lower)."""
    if best is None:
        return True
    if monitor == "val_loss":
        return score < best - min_delta
    return score > best + min_delta


def val_line(r: dict) -> str:
    return f"step {r['step']}  val loss {r['val_loss']:.4f}  top1 {r['val_top1']:.3f}" + (
        "  (best)" if r["improved"] else f"  ({r['bad_rounds']} without improvement)"
    )


def default_strides_where_ambiguous(model: nn.Module) -> None:
    """In place: a parameter whose layout is ambiguous (contiguous in both layouts, such as
    a 1×1×1 conv weight in channels_last_3d) gets the default strides, which its gradient
    comes with. DDP lays its buckets out like the parameters and warns "Grad strides do
    not match bucket view strides" (and copies) otherwise. The same memory order: exact."""
    with torch.no_grad():
        for p in model.parameters():
            if p.is_contiguous() and p.stride() != torch.empty(p.shape, device="meta").stride():
                p.data = p.data.clone(memory_format=torch.contiguous_format)


def _silent(*args, **kwargs) -> None:
    """`log` on the processes other than rank 0."""
