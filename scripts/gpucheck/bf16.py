"""The `bf16_train_step` check: one training step of MRST-T-Net under bf16 autocast.

At 16x224x224 (the paper's input) on the trainer's path (channels_last_3d, autocast, fused
AdamW), against the same step in true float32 (TF32 off, default layout) from the same
weights and batch. Passes when the loss and every gradient are finite, the loss is within
5% of float32's, all gradients together point the same way (cosine >= 0.9: "matches
loosely"), and after the AdamW step the weights and a second loss are finite. On the CPU
(--tiny) autocast runs in bf16 too, so the same code is exercised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .measure import (
    adamw,
    all_finite,
    autocast,
    clips,
    cosine,
    fresh_copy,
    loss_and_grads,
    net,
    strict_fp32,
    to_cl,
    trainer_layout,
)

LOSS_REL = 0.05
MIN_COSINE = 0.9


def bf16_train_step(ctx) -> tuple[str, str]:
    strict_fp32()
    b, frames, size = ctx.sizes.bf16
    torch.manual_seed(0)
    base = net(ctx.sizes, dropout=0.0, **ctx.sizes.bf16_net).to(ctx.device)
    x, y = clips(b, frames, size, ctx.device, base.num_classes)
    _, loss32, _, g32 = loss_and_grads(fresh_copy(base), x, y)
    model = trainer_layout(fresh_copy(base))
    del base
    _, loss16, _, g16 = loss_and_grads(model, to_cl(x), y, dtype=torch.bfloat16)
    finite = all_finite(loss16, grads=g16)
    rel = abs(loss16.item() - loss32.item()) / abs(loss32.item())
    cos = cosine(g16, g32) if finite else float("nan")
    opt = adamw(model, ctx.device)
    opt.step()
    with autocast(ctx.device, torch.bfloat16):
        again = F.cross_entropy(model(to_cl(x)).float(), y)
    after_ok = all_finite(again, *model.parameters())
    ctx.part.detail(
        "step",
        {
            "input": [b, 3, frames, size, size],
            "net_overrides": ctx.sizes.bf16_net,
            "loss_fp32": loss32.item(),
            "loss_bf16": loss16.item(),
            "loss_rel_diff": rel,
            "grad_cosine": cos,
            "finite": finite,
            "finite_after_adamw_step": after_ok,
            "loss_after_step": again.item(),
        },
    )
    summary = (
        f"{b}x{frames}x{size}x{size}: loss bf16 {loss16.item():.4f} vs fp32 {loss32.item():.4f} "
        f"(rel {rel:.1e}), grad cosine {cos:.4f}"
    )
    problems = []
    if not finite:
        problems.append("NaN/inf in the bf16 loss or gradients")
    if not after_ok:
        problems.append("NaN/inf after the AdamW step")
    if not rel <= LOSS_REL:
        problems.append(f"loss differs by more than {LOSS_REL:.0%}")
    if not cos >= MIN_COSINE:
        problems.append(f"gradient cosine below {MIN_COSINE}")
    return ("FAIL", summary + "; " + "; ".join(problems)) if problems else ("PASS", summary)
