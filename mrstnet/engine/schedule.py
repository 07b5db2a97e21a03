"""The optimizer and the per-step learning-rate schedule of a training recipe."""

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


def make_scheduler(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, steps_per_epoch))
