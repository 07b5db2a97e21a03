"""The training loop: AMP, DDP, atomic checkpoints that resume exactly, JSON-line logs.

`fit` works with any model (N, 3, L, H, W) -> logits and any dataset of dict samples
(`video` uint8, `label`), on one process or under torchrun.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from ..fastpath import (
    fused_optimizer_ok,
    prepare_for_training,
    to_channels_last,
    tune_cpu_allocator,
)
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
from .evaluate import autocast, evaluate


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class EpochSampler(Sampler[int]):
    """Shuffle with a generator seeded by (seed, epoch), shard over processes like
    DistributedSampler, and start mid-epoch: a resumed run replays the same order."""

    def __init__(
        self, n: int, *, rank: int = 0, world: int = 1, seed: int = 0, shuffle: bool = True
    ) -> None:
        self.n, self.rank, self.world, self.seed, self.shuffle = n, rank, world, seed, shuffle
        self.per_rank = math.ceil(n / world)
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        order += order[: self.per_rank * self.world - self.n]  # pad so every rank gets as many
        return iter(order[self.rank :: self.world][self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    # the fused kernels: part of the fast path (cfg.fast), same update to float rounding
    fused = True if cfg.fast and fused_optimizer_ok(params) else None
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=fused
        )
    opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return opt(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """cfg.epochs of steps, capped by cfg.max_steps: a step budget keeps a recipe's cost
    independent of the dataset's size (the demo preset uses one)."""
    total = cfg.epochs * steps_per_epoch
    return min(total, cfg.max_steps) if cfg.max_steps else total


def lr_factor(cfg: TrainConfig, steps_per_epoch: int):
    """Per-step multiplier of the peak lr: linear warm-up, then cosine / step / constant."""
    warm = round(cfg.warmup_epochs * steps_per_epoch)
    total = max(total_steps(cfg, steps_per_epoch), 1)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.schedule == "cosine":
            t = min((step - warm) / max(total - warm, 1), 1.0)
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        if cfg.schedule == "step":
            return cfg.gamma ** (step // steps_per_epoch // cfg.step_epochs)
        return 1.0

    return factor


class RunLog:
    """One JSON object per line in RUN_DIR/log.jsonl, and TensorBoard when it is installed."""

    def __init__(self, run_dir: Path | None, enabled: bool) -> None:
        self.file = self.tb = None
        if not (enabled and run_dir):
            return
        self.file = open(run_dir / "log.jsonl", "a")  # noqa: SIM115 (appended: resume continues it)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"))
        except ImportError:  # tensorboard is an optional extra
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


def fit(
    cfg: TrainConfig,
    model: nn.Module,
    train_set,
    val_set=None,
    *,
    out_dir: str | Path | None,
    classes: list[str] | None = None,
    resume: bool = False,
    init: str | None = None,
    collate_fn=None,
    normalize=None,
    progress: bool = True,
    device: str | None = None,
    log=print,
) -> dict:
    """Train `model` (built by the caller after `seed_everything(cfg.seed)`) for cfg.epochs.

    Writes RUN_DIR/last.pt every epoch (and every cfg.ckpt_every steps), RUN_DIR/best.pt
    (best validation top-1, or the last epoch when there is no validation) and
    RUN_DIR/log.jsonl. Returns the final summary.
    """
    d = distributed.setup(device)
    main = d.is_main
    say = log if main else (lambda *a, **k: None)
    if collate_fn is None:
        from mrstnet.data import collate as collate_fn
    if normalize is None:
        from mrstnet.data import normalize
    if cfg.threads and d.device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    if cfg.batch_size % d.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} must divide over {d.world_size} processes")
    batch = cfg.batch_size // d.world_size
    classes = list(classes if classes is not None else getattr(train_set, "classes", []))
    run_dir = Path(out_dir) if out_dir else None
    if run_dir and main:
        run_dir.mkdir(parents=True, exist_ok=True)

    sampler = EpochSampler(len(train_set), rank=d.rank, world=d.world_size, seed=cfg.seed)
    steps_per_epoch = sampler.per_rank // batch
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(train_set)} training clips are fewer than one batch of "
            f"{cfg.batch_size}: lower batch_size"
        )
    model.to(d.device)
    if cfg.fast:  # exact; before the optimizer, whose state then has the same layout
        if d.device.type == "cpu":
            tune_cpu_allocator()
        prepare_for_training(model, fast_impl=False)  # keeps a chosen impl="reference"
    optimizer = make_optimizer(cfg, model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, steps_per_epoch))
    # bf16 needs no loss scaling; the scaler stays (disabled) so checkpoints keep one shape
    scaler = torch.amp.GradScaler(d.device.type, enabled=False)
    epoch, step, best = 0, 0, -1.0
    last_path = run_dir / "last.pt" if run_dir else None
    rng = None
    if resume and last_path and last_path.exists():
        ckpt = load_checkpoint(last_path)
        unwrap(model).load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        epoch, step, best = ckpt["epoch"], ckpt["step"], ckpt.get("best", -1.0)
        rng = ckpt["rng"]
        say(f"resumed from {last_path}: epoch {epoch}, step {step}")
    else:
        if resume:
            say(f"--resume: no {last_path}, starting afresh")
        if init:
            load_init(model, init, log=say)
        # every process sees other data; their augmentation streams should differ too
        seed_everything(cfg.seed + d.rank)
    train_model = model
    if d.enabled:
        train_model = DistributedDataParallel(
            model, device_ids=[d.device.index] if d.device.type == "cuda" else None
        )
    if cfg.compile:  # after DDP, as torch's DDP + compile recipe; unwrap() sees through both
        train_model = torch.compile(train_model)
    if rng is not None:  # last, so nothing above consumes the restored streams
        set_rng_state(rng[d.rank % len(rng)] if isinstance(rng, list) else rng)

    def checkpoint(paths: list[Path], done_epochs: int) -> None:
        states = distributed.all_gather_objects(rng_state())  # every rank calls this
        if main:
            state = {
                "model": model_config_of(model),
                # default layout on disk, whatever the training layout (same keys, values)
                "state_dict": {k: v.contiguous() for k, v in unwrap(model).state_dict().items()},
                "classes": classes,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": done_epochs,
                "step": step,
                "best": best,
                "rng": states,
                "preset": dataclasses.asdict(cfg),
                "data": cfg.data(),
            }
            for path in paths:
                save_checkpoint(path, state)
        distributed.barrier()

    runlog = RunLog(run_dir, main)
    last_step = total_steps(cfg, steps_per_epoch)
    epochs = -(-last_step // steps_per_epoch)  # what the logs count to: max_steps may end it early
    summary: dict = {"best_top1": best if best >= 0 else None}
    t_start = time.perf_counter()
    lr = optimizer.param_groups[0]["lr"]
    while epoch < cfg.epochs and step < last_step:
        skip = step - epoch * steps_per_epoch  # > 0 when resuming mid-epoch
        sampler.set_epoch(epoch, start=skip * batch)
        loader = DataLoader(
            train_set,
            batch_size=batch,
            sampler=sampler,
            num_workers=cfg.num_workers,
            collate_fn=collate_fn,
            drop_last=True,
            pin_memory=d.device.type == "cuda",
            # worker seeds come from this generator, not the global stream: replayable
            generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + d.rank),
            persistent_workers=False,
        )
        train_model.train()
        window = {"loss": 0.0, "correct": 0, "n": 0, "wait": 0.0, "t0": time.perf_counter()}
        ep = {"loss": 0.0, "correct": 0, "n": 0, "wait": 0.0, "t0": time.perf_counter()}
        bar = tqdm(
            total=steps_per_epoch,
            initial=skip,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=not (progress and main),
            leave=False,
            dynamic_ncols=True,
        )
        t_wait = time.perf_counter()
        for b in loader:
            waited = time.perf_counter() - t_wait
            video = b["video"].to(d.device, non_blocking=True)
            label = b["label"].to(d.device, non_blocking=True)
            x = normalize(video)
            with autocast(d.device, cfg.amp):
                logits = train_model(to_channels_last(x) if cfg.fast else x)
            loss = F.cross_entropy(logits.float(), label, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.clip_grad > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            step += 1
            correct = int((logits.argmax(1) == label).sum())
            for acc in (window, ep):
                acc["loss"] += loss.item() * len(label)
                acc["correct"] += correct
                acc["n"] += len(label)
                acc["wait"] += waited
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
            if step % cfg.log_every == 0:
                runlog.write(
                    {"kind": "train", "epoch": epoch, "step": step, "lr": lr, **_rates(window, d)}
                )
                window = {"loss": 0.0, "correct": 0, "n": 0, "wait": 0.0, "t0": time.perf_counter()}
            if cfg.ckpt_every and step % cfg.ckpt_every == 0 and run_dir:
                checkpoint([last_path], epoch)
            if step >= last_step:
                break
            t_wait = time.perf_counter()
        bar.close()
        if step - epoch * steps_per_epoch >= steps_per_epoch:
            epoch += 1
        # else the step budget (cfg.max_steps) ended training mid-epoch: wrap up all the same
        record = {"kind": "epoch", "epoch": epoch, "step": step, "lr": lr, **_rates(ep, d)}
        improved = False
        final = step >= last_step or epoch >= cfg.epochs
        if val_set is not None and cfg.val_every and (epoch % cfg.val_every == 0 or final):
            m = evaluate(
                train_model,
                val_set,
                batch_size=batch,
                num_workers=cfg.num_workers,
                device=d.device,
                amp=cfg.amp,
                collate_fn=collate_fn,
                normalize=normalize,
                progress=progress,
                desc="validate",
                fast=cfg.fast,
            )
            record.update(val_top1=m["top1"], val_top5=m["top5"], val_clip_top1=m["clip_top1"])
            improved = m["top1"] > best
            best = max(best, m["top1"])
        elif val_set is None or not cfg.val_every:
            improved = True  # no validation: best.pt is the latest epoch
        runlog.write(record)
        say(_epoch_line(record, epochs))
        if run_dir:
            checkpoint([last_path] + ([run_dir / "best.pt"] if improved else []), epoch)
        summary.update(record)
    runlog.close()
    summary.update(
        best_top1=best if best >= 0 else None,
        steps=step,
        epochs_done=epoch,
        seconds=time.perf_counter() - t_start,
        run_dir=str(run_dir) if run_dir else None,
    )
    return summary


def _rates(acc: dict, d: distributed.Dist) -> dict:
    """Loss, accuracy, throughput and the time spent waiting for data, over all processes."""
    elapsed = max(time.perf_counter() - acc["t0"], 1e-9)
    loss, correct, n, wait = distributed.all_reduce_mean(
        [acc["loss"], acc["correct"], acc["n"], acc["wait"]], d.device
    )
    return {
        "loss": loss / max(n, 1),
        "acc": correct / max(n, 1),
        "clips_per_s": n * d.world_size / elapsed,
        "data_wait": min(wait / elapsed, 1.0),
    }


def _epoch_line(r: dict, epochs: int) -> str:
    line = (
        f"epoch {r['epoch']}/{epochs}  step {r['step']}  loss {r['loss']:.4f}  "
        f"acc {r['acc']:.3f}  lr {r['lr']:.2e}  {r['clips_per_s']:.1f} clips/s  "
        f"data wait {100 * r['data_wait']:.0f}%"
    )
    if "val_top1" in r:
        line += f"  val top1 {r['val_top1']:.3f}"
    return line
