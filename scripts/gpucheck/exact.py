"""The `fast_vs_reference` check: the exact fast reinforced unit against the literal equations.

For MRST-T-, MRST-S- and MRST-P-Net (paper Table 1; each unit's fast path is its own
code), built twice from the same parameters, `impl="fast"` and `impl="reference"`:

- float64, train mode: loss, input gradient and every parameter gradient must agree to
  1e-7 (relative to each tensor's largest value); the two paths are the same function.
- float32 (TF32 off), train and eval mode (BatchNorm statistics taken from the batch), in
  the default layout and in the trainer's channels_last_3d: the fast logits' distance from
  the float64 reference may be at most 10x the float32 reference's own distance from it
  (plus 1e-6 of the logits' scale). float32 cannot be compared to a fixed tolerance here:
  train-mode BatchNorm over small late maps makes some sums nearly cancel, so the size of
  float32 rounding depends on the input.
"""

from __future__ import annotations

import torch

from .measure import (
    calibrate_bn,
    clips,
    fresh_copy,
    loss_and_grads,
    max_err,
    net,
    scale,
    strict_fp32,
    to_cl,
    trainer_layout,
    worst_grad,
)

NETS = ("mrst_t_net", "mrst_s_net", "mrst_p_net")
FP64_TOL = 1e-7
ROUNDING_FACTOR = 10.0


def _pair(ctx, name: str):
    torch.manual_seed(0)
    ref = net(ctx.sizes, name, impl="reference", dropout=0.0)
    fast = net(ctx.sizes, name, impl="fast", dropout=0.0)
    fast.load_state_dict(ref.state_dict())
    return ref.to(ctx.device), fast.to(ctx.device)


def _fp64(ref, fast, x, y) -> dict:
    _, loss_r, gx_r, g_r = loss_and_grads(fresh_copy(ref).double(), x.double(), y, input_grad=True)
    _, loss_f, gx_f, g_f = loss_and_grads(fresh_copy(fast).double(), x.double(), y, input_grad=True)
    worst, where = worst_grad(g_f, g_r)
    return {
        "loss_rel": abs(loss_f.item() - loss_r.item()) / abs(loss_r.item()),
        "input_grad_rel": max_err(gx_f, gx_r) / scale(gx_r),
        "param_grad_rel": worst,
        "param_grad_worst": where,
    }


def _logits(model, x, train: bool):
    if train:
        model.train()
        with torch.no_grad():
            return model(x).double()
    model.eval()
    with torch.inference_mode():
        return model(x).double()


def _fp32(ref, fast, x, train: bool) -> dict:
    """Distances from the float64 reference: the float32 reference's (the yardstick) and the
    fast path's, in the default layout and channels_last_3d."""
    want = _logits(fresh_copy(ref).double(), x.double(), train)
    out = {
        "scale": scale(want),
        "reference_fp32": max_err(_logits(fresh_copy(ref), x, train), want),
    }
    out["fast"] = max_err(_logits(fresh_copy(fast), x, train), want)
    out["fast_channels_last"] = max_err(
        _logits(trainer_layout(fresh_copy(fast)), to_cl(x), train), want
    )
    bound = ROUNDING_FACTOR * out["reference_fp32"] + 1e-6 * out["scale"]
    out["bound"] = bound
    out["ratio"] = max(out["fast"], out["fast_channels_last"]) / max(out["reference_fp32"], 1e-30)
    out["ok"] = out["fast"] <= bound and out["fast_channels_last"] <= bound
    return out


def fast_vs_reference(ctx) -> tuple[str, str]:
    strict_fp32()
    b, frames, size = ctx.sizes.exact
    failures, worst64, worst_ratio = [], 0.0, 0.0
    for name in NETS:
        ref, fast = _pair(ctx, name)
        x, y = clips(b, frames, size, ctx.device, ref.num_classes)
        calibrate_bn(ref, x)  # eval mode at sane statistics; copied into `fast` below
        fast.load_state_dict(ref.state_dict())
        r64 = _fp64(ref, fast, x, y)
        train32 = _fp32(ref, fast, x, train=True)
        eval32 = _fp32(ref, fast, x, train=False)
        ctx.part.detail(name, {"fp64_train": r64, "fp32_train": train32, "fp32_eval": eval32})
        worst = max(r64["loss_rel"], r64["input_grad_rel"], r64["param_grad_rel"])
        worst64 = max(worst64, worst)
        worst_ratio = max(worst_ratio, train32["ratio"], eval32["ratio"])
        if worst > FP64_TOL:
            failures.append(f"{name} fp64 rel diff {worst:.1e} ({r64['param_grad_worst']})")
        for mode, r in (("train", train32), ("eval", eval32)):
            if not r["ok"]:
                failures.append(
                    f"{name} fp32 {mode}: {max(r['fast'], r['fast_channels_last']):.2e} "
                    f"> bound {r['bound']:.2e}"
                )
        del ref, fast
    summary = (
        f"{len(NETS)} nets at {b}x{frames}x{size}x{size}: fp64 grads rel {worst64:.1e}; "
        f"fp32 fast within {worst_ratio:.1f}x the fp32 rounding of the reference"
    )
    if failures:
        return "FAIL", summary + "; " + "; ".join(failures)
    return "PASS", summary
