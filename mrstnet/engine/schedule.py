"""The optimizer and the per-step learning-rate schedule of a training recipe.

cosine / step / constant are functions of the step alone. plateau is constant after the
warm-up, times gamma for every cut that validation asked for (`Scheduler.cut`, called by the
trainer after cfg.plateau_patience rounds without improvement); the cuts are in the
scheduler's state_dict, so a resumed run keeps them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig
from .runtime import fused_optimizer_ok


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
    """Per-step multiplier of the peak lr: linear warm-up, then cosine / step / constant
    (plateau: constant here; `Scheduler` applies its cuts)."""
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


class Scheduler(torch.optim.lr_scheduler.LambdaLR):
    """The per-step factor times gamma ** cuts. `cuts` is an attribute, so LambdaLR's
    state_dict (the instance's __dict__ but the functions) saves and restores it."""

    def __init__(self, optimizer: torch.optim.Optimizer, factor, gamma: float) -> None:
        self.cuts = 0
        self.gamma = gamma
        super().__init__(optimizer, lambda step: factor(step) * self.gamma**self.cuts)

    def cut(self) -> None:
        """Multiply the lr by gamma from the next step on (set now: the step to come reads
        the optimizer's lr before the scheduler moves)."""
        self.cuts += 1
        for group, base, fn in zip(
            self.optimizer.param_groups, self.base_lrs, self.lr_lambdas, strict=True
        ):
            group["lr"] = base * fn(self.last_epoch)


def make_scheduler(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> Scheduler:
    return Scheduler(optimizer, lr_factor(cfg, steps_per_epoch), cfg.gamma)
