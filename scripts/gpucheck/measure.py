"""Torch helpers of the checks: the device, models, timing, peak memory and comparisons.

Only the public surface of mrstnet is used (`mrstnet.create_model`, `mrstnet.optimize`),
so these checks keep working while the library's insides move. The trainer's layout is
written out here (`channels_last_3d` weights and inputs, fused AdamW on CUDA): it is what
`mrstnet train` does with `fast: true` (mrstnet/engine/train.py).
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import mrstnet

CL3D = torch.channels_last_3d


def strict_fp32() -> None:
    """True float32 on CUDA: no TF32 in convolutions (cuDNN's default) or matrix products, so
    that fp32 comparisons measure the code and not TF32's 10-bit mantissa."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def net(sizes, name: str = "mrst_t_net", **overrides) -> nn.Module:
    """A model of the registry at the check's sizes (`sizes.net` for MRST-T-Net)."""
    kwargs = dict(sizes.net) if name.startswith("mrst_") else {}
    kwargs.update(sizes.extra_models.get(name, {}))
    kwargs.update(overrides)
    return mrstnet.create_model(name, **kwargs)


def clips(batch: int, frames: int, size: int, device, num_classes: int, seed: int = 1):
    """A normalised-looking random clip batch (N, 3, L, H, W) and labels, the same per seed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, frames, size, size, generator=g)
    y = torch.randint(0, num_classes, (batch,), generator=g)
    return x.to(device), y.to(device)


def trainer_layout(model: nn.Module) -> nn.Module:
    """In place: channels_last_3d weights, as the trainer's `fast: true`."""
    return model.to(memory_format=CL3D)


def to_cl(x: Tensor) -> Tensor:
    return x.contiguous(memory_format=CL3D)


def amp_dtype(device: torch.device):
    """What the trainer autocasts to: bf16 on CUDA, nothing on the CPU (`amp` is CUDA-only)."""
    return torch.bfloat16 if device.type == "cuda" else None


def autocast(device: torch.device, dtype):
    if dtype is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=dtype)


def adamw(model: nn.Module, device: torch.device):
    # fused on CUDA as the trainer; plain elsewhere (CPU fused kernels need torch >= 2.4)
    return torch.optim.AdamW(
        model.parameters(), lr=1e-4, fused=True if device.type == "cuda" else None
    )


def loss_and_grads(model: nn.Module, x: Tensor, y: Tensor, dtype=None, input_grad=False):
    """One forward and backward in train mode: (logits, loss, input grad or None, {name: grad})."""
    model.train()
    model.zero_grad(set_to_none=True)
    if input_grad:
        x = x.detach().clone().requires_grad_(True)
    with autocast(x.device, dtype):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    gx = x.grad.detach().clone() if input_grad else None
    return logits.detach().float(), loss.detach().float(), gx, grads


def calibrate_bn(model: nn.Module, x: Tensor) -> None:
    """BatchNorm running statistics of `x` (one train-mode pass, cumulative average): with the
    stored (0, 1) statistics of a fresh model, eval-mode activations grow ~1e4x over the full
    depth and every comparison would measure that growth instead of the code."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    with torch.no_grad():
        model(x)
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    model.train(was)


# --------------------------------------------------------------------------- comparisons
def max_err(a: Tensor, b: Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def scale(t: Tensor) -> float:
    return t.double().abs().max().item()


def worst_grad(got: dict, want: dict) -> tuple[float, str]:
    """The largest gradient difference relative to that parameter's largest gradient (floored
    at 1e-6 of the largest gradient of all, for parameters whose gradient is ~0)."""
    if set(got) != set(want):
        return float("inf"), f"different parameters: {sorted(set(got) ^ set(want))[:3]}"
    top = max(scale(g) for g in want.values())
    worst, where = 0.0, ""
    for name, g in want.items():
        rel = max_err(got[name], g) / max(scale(g), 1e-6 * top, 1e-300)
        if rel > worst:
            worst, where = rel, name
    return worst, where


def cosine(got: dict, want: dict) -> float:
    """Cosine similarity of all gradients at once (1 = the same direction)."""
    a = torch.cat([got[n].double().flatten().cpu() for n in want])
    b = torch.cat([want[n].double().flatten().cpu() for n in want])
    return (a @ b / (a.norm() * b.norm()).clamp_min(1e-300)).item()


def all_finite(*tensors, grads: dict | None = None) -> bool:
    ok = all(bool(torch.isfinite(t).all()) for t in tensors)
    return ok and all(bool(torch.isfinite(g).all()) for g in (grads or {}).values())


# --------------------------------------------------------------------------- timing
def timed(fn, device: torch.device, warmup: int, iters: int) -> dict:
    """Median and min of `iters` calls after `warmup` (the first call's time kept apart: it
    holds compilation and cuDNN's choices)."""
    first = None
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        sync(device)
        if i == 0:
            first = time.perf_counter() - t0
    times = []
    for _ in range(iters):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {"first_s": first, "median_s": statistics.median(times), "min_s": min(times)}


def reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> dict:
    """Peak allocated and reserved GPU memory since `reset_memory` (None on the CPU)."""
    if device.type != "cuda":
        return {"peak_mem_gib": None, "peak_reserved_gib": None}
    return {
        "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved(device) / 2**30, 3),
    }


def timing_figures(batch: int, t: dict, device: torch.device, first: str) -> dict:
    """A throughput entry's figures from `timed`'s result: clips/s, the median and best
    step, the first call's time (under the key `first`), and the peak memory."""
    return {
        "clips_per_s": batch / t["median_s"],
        "step_ms": 1e3 * t["median_s"],
        "step_ms_min": 1e3 * t["min_s"],
        first: t["first_s"],
        **peak_memory_gib(device),
    }


def is_oom(e: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(e, oom) or "out of memory" in str(e).lower()


def free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def fresh_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)
