"""Inference checks of `mrstnet.optimize`, the copy that `test`, `predict` and validation run.

- `optimize`: the eager copy (BN folded, fused blocks, channels_last_3d) against the model
  itself, in float32 (TF32 off; within 10x the model's own float32 rounding, measured
  against float64) and at the device's default dtype (bf16 autocast on CUDA: within 5% of
  the logits' scale); the model's state_dict is left unchanged; then eager inference
  throughput at each batch size.
- `compile_infer`: `optimize`'s default on CUDA (bf16 + torch.compile): the compiled copy
  against the eager one (within 5% of scale), compile seconds, throughput per batch size.
- `cuda_graphs`: `optimize(cuda_graphs=True)` (torch.compile mode "reduce-overhead"):
  the replayed graph against the eager copy, and its throughput at the smallest batch.

BatchNorm statistics are first taken from a batch (`calibrate_bn`), as a trained model's.
"""

from __future__ import annotations

import time

import torch

import mrstnet

from .measure import (
    calibrate_bn,
    clips,
    free,
    fresh_copy,
    is_oom,
    max_err,
    net,
    reset_memory,
    scale,
    strict_fp32,
    sync,
    timed,
    timing_figures,
)

BF16_REL = 0.05
ROUNDING_FACTOR = 10.0


def _base(ctx):
    torch.manual_seed(0)
    model = net(ctx.sizes).to(ctx.device).eval()
    b, frames, size = ctx.sizes.infer_equal
    x, _ = clips(b, frames, size, ctx.device, model.num_classes)
    calibrate_bn(model, x)
    return model, x


def _run(model, x):
    with torch.inference_mode():
        return model(x).float().clone()  # clone: a CUDA graph reuses its output buffer


def _dtype_name(fast) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(fast.dtype, "?")


def measure_infer(ctx, model, label: str, batch: int, compare: bool = False, **kw) -> dict:
    """Clips/s of `mrstnet.optimize(model, x, **kw)` at `batch` (built on x, so compiled for
    its shape). `compare`: first its output against the eager copy's on the same x, as
    `rel_err_vs_eager` (max difference / the eager logits' largest magnitude)."""
    compiled = bool(kw.get("compile") or kw.get("cuda_graphs"))
    frames, size = ctx.sizes.clip
    entry = {
        "check": ctx.name,
        "what": "infer",
        "model": "mrst_t_net",
        "variant": label,
        "compiled": compiled,
        "batch": batch,
        "input": [batch, 3, frames, size, size],
    }
    reset_memory(ctx.device)
    try:
        x, _ = clips(batch, frames, size, ctx.device, 2)
        eager = _run(mrstnet.optimize(model, compile=False), x) if compare else None
        t0 = time.perf_counter()
        fast = mrstnet.optimize(model, x, **kw)
        sync(ctx.device)
        entry["build_s"] = time.perf_counter() - t0  # the first call, compilation included
        entry["dtype"] = _dtype_name(fast)
        if compare:
            for _ in range(3):  # CUDA graphs are recorded on a later call than the first
                out = _run(fast, x)
            entry["rel_err_vs_eager"] = max_err(out, eager) / scale(eager)
            del out, eager
        t = timed(lambda: _run(fast, x), ctx.device, ctx.sizes.warmup, ctx.sizes.iters)
        entry.update(timing_figures(batch, t, ctx.device, "first_call_s"))
    except Exception as e:
        if not is_oom(e):
            raise
        entry.update(oom=True, error=str(e).splitlines()[0][:200])
    ctx.part.add_throughput(entry)
    fast = None
    free(ctx.device)
    return entry


def _rate(e: dict) -> str:
    if e.get("oom"):
        return f"b{e['batch']} OOM"
    mem = f", {e['peak_mem_gib']:.1f} GiB" if e.get("peak_mem_gib") is not None else ""
    return f"b{e['batch']} {e['clips_per_s']:.1f} clips/s{mem}"


def optimize(ctx) -> tuple[str, str]:
    strict_fp32()
    model, x = _base(ctx)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    want64 = _run(fresh_copy(model).double(), x.double()).double()
    yard = max_err(_run(model, x), want64)
    fp32 = max_err(_run(mrstnet.optimize(model, dtype="fp32", compile=False), x), want64)
    auto = mrstnet.optimize(model, compile=False)  # bf16 autocast on CUDA, fp32 on the CPU
    auto_err, auto_dtype = max_err(_run(auto, x), want64), _dtype_name(auto)
    unchanged = all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    sc = scale(want64)
    fp32_ok = fp32 <= ROUNDING_FACTOR * yard + 1e-6 * sc
    auto_ok = auto_err <= (
        BF16_REL * sc if auto.dtype is not None else ROUNDING_FACTOR * yard + 1e-6 * sc
    )
    ctx.part.detail(
        "equality",
        {
            "input": list(x.shape),
            "scale": sc,
            "model_fp32_vs_fp64": yard,
            "optimize_fp32_vs_fp64": fp32,
            "optimize_default_dtype": auto_dtype,
            "optimize_default_vs_fp64": auto_err,
            "state_dict_unchanged": unchanged,
        },
    )
    del auto, before
    free(ctx.device)
    # throughput as `test` runs it: the default dtype, eager (the engine passes compile=False)
    torch.backends.cudnn.allow_tf32 = True  # back to torch's defaults for timing
    rates = [measure_infer(ctx, model, "eager", b, compile=False) for b in ctx.sizes.batches]
    summary = (
        f"fp32 err {fp32:.1e} (model's own fp32 rounding {yard:.1e}); "
        f"{auto_dtype} err/scale {auto_err / sc:.1e}; " + "; ".join(_rate(e) for e in rates)
    )
    problems = [
        p
        for ok, p in (
            (fp32_ok, "fp32 copy off"),
            (auto_ok, "default dtype copy off"),
            (unchanged, "model changed"),
        )
        if not ok
    ]
    return ("FAIL", summary + "; " + ", ".join(problems)) if problems else ("PASS", summary)


def _compared(ctx, label: str, batches, **kw) -> tuple[str, str]:
    """Each batch size: the copy against eager, then its speed (one compilation each)."""
    model, _ = _base(ctx)
    rows = [measure_infer(ctx, model, label, b, compare=True, **kw) for b in batches]
    errs = [e["rel_err_vs_eager"] for e in rows if "rel_err_vs_eager" in e]
    worst = max(errs) if errs else float("nan")
    builds = ", ".join(f"b{e['batch']} {e['build_s']:.0f} s" for e in rows if "build_s" in e)
    summary = f"vs eager err/scale {worst:.1e}; first call (compilation) {builds}; " + "; ".join(
        _rate(e) for e in rows
    )
    if not errs:
        return "FAIL", summary + "; no batch size fitted in memory"
    return ("PASS" if worst <= BF16_REL else "FAIL"), summary


def compile_infer(ctx) -> tuple[str, str]:
    return _compared(ctx, "compiled", ctx.sizes.batches, compile=True)


def cuda_graphs(ctx) -> tuple[str, str]:
    return _compared(ctx, "cuda_graphs", ctx.sizes.batches[:1], cuda_graphs=True)
