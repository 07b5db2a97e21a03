"""The training loop: AMP, DDP, atomic checkpoints that resume exactly, JSON-line logs.

`fit` works with any model (N, 3, L, H, W) -> logits and any dataset of dict samples
(`video` uint8, `label`), on one process or under torchrun.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from ..fastpath import (
    fused_optimizer_ok,
    prepare_for_training,
    to_channels_last,
    tune_cpu_allocator,
)
from . import distributed
from .balance import balanced, loss_weights
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


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 64-bit seed for one training item, well mixed (numpy's SeedSequence)."""
    entropy = (seed & (2**64 - 1), epoch, index)
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


class SeededItems(Dataset):
    """The training set with each item's randomness a function of (seed, epoch, index).

    Random clip starts, crops, flips and the redraw after an unreadable video use the
    global RNGs of the process that loads the item. A DataLoader worker's stream depends on
    which batches it was given, and that changes when a resumed run's sampler skips ahead
    or the number of workers or processes changes; so torch, numpy and `random` are seeded
    per item here. Every process uses the same seed: the same item is augmented the same
    way whatever the world size. The loading process's own streams are restored afterwards
    (with num_workers=0 that process is the training loop: dropout draws from them).
    """

    def __init__(self, dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        s = item_seed(self.seed, self.epoch, i)
        saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
        torch.manual_seed(s)
        np.random.seed(s % 2**32)
        random.seed(s)
        try:
            return self.dataset[i]
        finally:
            torch.set_rng_state(saved[0])
            np.random.set_state(saved[1])
            random.setstate(saved[2])


def default_strides_where_ambiguous(model: nn.Module) -> None:
    """In place: a parameter whose layout is ambiguous (contiguous in both layouts, such as
    a 1×1×1 conv weight in channels_last_3d) gets the default strides, which its gradient
    comes with. DDP lays its buckets out like the parameters and warns "Grad strides do
    not match bucket view strides" (and copies) otherwise. The same memory order: exact."""
    with torch.no_grad():
        for p in model.parameters():
            if p.is_contiguous() and p.stride() != torch.empty(p.shape, device="meta").stride():
                p.data = p.data.clone(memory_format=torch.contiguous_format)


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

    def __init__(self, run_dir: Path | None, enabled: bool, append: bool) -> None:
        self.file = self.tb = None
        if not (enabled and run_dir):
            return
        # a resumed run continues its log; a new run starts one
        self.file = open(run_dir / "log.jsonl", "a" if append else "w")  # noqa: SIM115
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
    overwrite: bool = False,
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
    RUN_DIR/log.jsonl. A RUN_DIR that already holds a run (last.pt) is refused unless
    `resume` (continue it) or `overwrite` (start afresh). Returns the final summary.
    """
    d = distributed.setup(device)
    main = d.is_main
    say = log if main else (lambda *a, **k: None)
    if collate_fn is None:
        from mrstnet.data import collate as collate_fn
    if normalize is None:
        from mrstnet.data import normalize
    if resume and overwrite:
        raise ValueError("--resume continues RUN_DIR's run and --overwrite replaces it: give one")
    if cfg.sync_bn and d.device.type != "cuda":
        raise ValueError(
            "sync_bn needs CUDA (torch's SyncBatchNorm has no CPU kernel): set sync_bn=false"
        )
    if cfg.threads and d.device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    if cfg.batch_size % d.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} must divide over {d.world_size} processes")
    batch = cfg.batch_size // d.world_size
    classes = list(classes if classes is not None else getattr(train_set, "classes", []))
    run_dir = Path(out_dir) if out_dir else None
    last_path = run_dir / "last.pt" if run_dir else None
    resuming = bool(resume and last_path and last_path.exists())
    if last_path and last_path.exists() and not (resume or overwrite):
        raise FileExistsError(
            f"{run_dir} already holds a run ({last_path.name}): --resume continues it, "
            "--overwrite starts afresh in it"
        )
    if run_dir and main:
        run_dir.mkdir(parents=True, exist_ok=True)

    sampler = EpochSampler(len(train_set), rank=d.rank, world=d.world_size, seed=cfg.seed)
    train_set, sampler = balanced(cfg, train_set, sampler)  # cfg.balance "sampler"
    steps_per_epoch = sampler.per_rank // batch
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(train_set)} training clips are fewer than one batch of "
            f"{cfg.batch_size}: lower batch_size"
        )
    if cfg.sync_bn and d.enabled:  # before the optimizer (the parameters stay the same objects)
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(d.device)
    if cfg.fast:  # exact; before the optimizer, whose state then has the same layout
        if d.device.type == "cpu":
            tune_cpu_allocator()
        prepare_for_training(model, fast_impl=False)  # keeps a chosen impl="reference"
    if d.enabled:
        default_strides_where_ambiguous(model)
    optimizer = make_optimizer(cfg, model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, steps_per_epoch))
    # bf16 needs no loss scaling; the scaler stays (disabled) so checkpoints keep one shape
    scaler = torch.amp.GradScaler(d.device.type, enabled=False)
    epoch, step, best = 0, 0, -1.0
    rng = progress_state = None
    if resuming:
        ckpt = load_checkpoint(last_path)
        try:
            unwrap(model).load_state_dict(ckpt["state_dict"])
        except RuntimeError as e:  # missing / unexpected keys or other shapes
            raise ValueError(
                f"{last_path} holds another architecture than this run's model "
                f"({str(e).splitlines()[0]})"
            ) from e
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        epoch, step, best = ckpt["epoch"], ckpt["step"], ckpt.get("best", -1.0)
        rng = ckpt["rng"]
        progress_state = ckpt.get("progress")
        say(f"resumed from {last_path}: epoch {epoch}, step {step}")
    else:
        if resume:
            say(f"--resume: no {last_path}, starting afresh")
        if init:
            load_init(model, init, log=say, classes=classes)
        # dropout and the like: every process draws its own masks (the data's augmentation
        # is seeded per item, SeededItems)
        seed_everything(cfg.seed + d.rank)
        if run_dir and main:  # what an earlier run left here (after --init read its file)
            for stale in (last_path, run_dir / "best.pt"):
                stale.unlink(missing_ok=True)
            shutil.rmtree(run_dir / "tb", ignore_errors=True)
    train_model = model
    if d.enabled:
        train_model = DistributedDataParallel(
            model, device_ids=[d.device.index] if d.device.type == "cuda" else None
        )
    if cfg.compile:  # after DDP, as torch's DDP + compile recipe; unwrap() sees through both
        train_model = torch.compile(train_model)
    if rng is not None:  # last, so nothing above consumes the restored streams
        set_rng_state(rng[d.rank % len(rng)] if isinstance(rng, list) else rng)

    items = SeededItems(train_set, cfg.seed)
    weight = loss_weights(cfg, train_set, len(classes), d.device)  # cfg.balance "loss"
    window, ep = _accumulator(), _accumulator()
    lr = optimizer.param_groups[0]["lr"]

    def checkpoint(paths: list[Path], done_epochs: int) -> None:
        # every rank calls this: RNG streams and running sums of all processes
        mine = {"window": _saved(window), "epoch": _saved(ep), "lr": lr}
        states = distributed.all_gather_objects((rng_state(), mine))
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
                "rng": [r for r, _ in states],
                # the epoch's running sums, so that a run resumed mid-epoch logs the whole epoch
                "progress": [p for _, p in states],
                "preset": cfg.to_dict(),
                "data": cfg.clip.to_dict(),
            }
            for path in paths:
                save_checkpoint(path, state)
        distributed.barrier()

    runlog = RunLog(run_dir, main, append=resuming)
    last_step = total_steps(cfg, steps_per_epoch)
    epochs = -(-last_step // steps_per_epoch)  # what the logs count to: max_steps may end it early
    summary: dict = {"best_top1": best if best >= 0 else None}
    t_start = time.perf_counter()
    while epoch < cfg.epochs and step < last_step:
        number = epoch + 1  # the `epoch` of this epoch's log lines: 1 is the first
        skip = step - epoch * steps_per_epoch  # > 0 when resuming mid-epoch
        window, ep = _accumulator(), _accumulator()
        if skip and progress_state:  # the sums of the part of this epoch done before the stop
            saved = progress_state[d.rank % len(progress_state)]
            window, ep, lr = _restored(saved["window"]), _restored(saved["epoch"]), saved["lr"]
        progress_state = None
        sampler.set_epoch(epoch, start=skip * batch)
        items.epoch = epoch
        loader = DataLoader(
            items,
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
        bar = tqdm(
            total=steps_per_epoch,
            initial=skip,
            desc=f"epoch {number}/{epochs}",
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
            loss = F.cross_entropy(
                logits.float(), label, weight=weight, label_smoothing=cfg.label_smoothing
            )
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
            skipped = int(b.get("skipped", 0))  # unreadable videos the loader drew past
            for acc in (window, ep):
                acc["loss"] += loss.item() * len(label)
                acc["correct"] += correct
                acc["n"] += len(label)
                acc["wait"] += waited
                acc["skipped"] += skipped
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
            if step % cfg.log_every == 0:
                runlog.write(
                    {"kind": "train", "epoch": number, "step": step, "lr": lr, **_rates(window, d)}
                )
                window = _accumulator()
            if cfg.ckpt_every and step % cfg.ckpt_every == 0 and run_dir:
                checkpoint([last_path], epoch)
            if step >= last_step:
                break
            t_wait = time.perf_counter()
        bar.close()
        if step - epoch * steps_per_epoch >= steps_per_epoch:
            epoch += 1
        # else the step budget (cfg.max_steps) ended training mid-epoch: wrap up all the same
        # (no training metrics when no step of this epoch was seen: an old checkpoint taken
        # at the epoch's last step, resumed)
        record = {"kind": "epoch", "epoch": number, "step": step, "lr": lr, **_rates(ep, d)}
        improved = False
        final = step >= last_step or epoch >= cfg.epochs
        if val_set is not None and cfg.val_every and (epoch % cfg.val_every == 0 or final):
            # BatchNorm running statistics differ between processes (each saw its own share
            # of the batches): validate rank 0's, the model that is saved
            distributed.broadcast_buffers(model)
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
        window, ep = _accumulator(), _accumulator()  # a checkpoint now starts the next epoch
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


def _accumulator() -> dict:
    return {
        "loss": 0.0,
        "correct": 0,
        "n": 0,
        "wait": 0.0,
        "skipped": 0,
        "t0": time.perf_counter(),
    }


def _saved(acc: dict) -> dict:
    """An accumulator for a checkpoint: its start time as seconds elapsed so far."""
    out = {k: v for k, v in acc.items() if k != "t0"}
    out["seconds"] = time.perf_counter() - acc["t0"]
    return out


def _restored(saved: dict) -> dict:
    acc = _accumulator()  # a checkpoint from before `skipped` was counted lacks it
    acc.update({k: v for k, v in saved.items() if k != "seconds"})
    acc["t0"] = time.perf_counter() - saved["seconds"]
    return acc


def _rates(acc: dict, d: distributed.Dist) -> dict:
    """Loss, accuracy, throughput, the time spent waiting for data and the unreadable
    videos skipped, over all processes; empty when no process took a step."""
    elapsed = max(time.perf_counter() - acc["t0"], 1e-9)
    loss, correct, n, wait, skipped = distributed.all_reduce_mean(
        [acc["loss"], acc["correct"], acc["n"], acc["wait"], acc["skipped"]], d.device
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


def _epoch_line(r: dict, epochs: int) -> str:
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
    if "val_top1" in r:
        line += f"  val top1 {r['val_top1']:.3f}"
    return line
