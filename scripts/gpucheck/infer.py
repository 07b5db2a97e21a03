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
    peak_memory_gib,
    reset_memory,
    scale,
    strict_fp32,
    sync,
    timed,
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


def measure_infer(ctx, make, label: str, batch: int, compiled: bool) -> dict:
    """Clips/s of one `optimize` copy (built by `make()` on the batch) at `batch`."""
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
        t0 = time.perf_counter()
        fast = make(x)
        entry["build_s"] = time.perf_counter() - t0
        entry["dtype"] = _dtype_name(fast)
        t = timed(lambda: _run(fast, x), ctx.device, ctx.sizes.warmup, ctx.sizes.iters)
        entry.update(
            clips_per_s=batch / t["median_s"],
            step_ms=1e3 * t["median_s"],
            step_ms_min=1e3 * t["min_s"],
            first_call_s=t["first_s"],
            **peak_memory_gib(ctx.device),
        )
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
    auto_ok = auto_err <= (BF16_REL * sc if auto.dtype is not None else ROUNDING_FACTOR * yard + 1e-6 * sc)
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
    rates = [
        measure_infer(ctx, lambda xb: mrstnet.optimize(model, xb, compile=False), "eager", b, False)
        for b in ctx.sizes.batches
    ]
    summary = (
        f"fp32 err {fp32:.1e} (model's own fp32 rounding {yard:.1e}); "
        f"{auto_dtype} err/scale {auto_err / sc:.1e}; "
        + "; ".join(_rate(e) for e in rates)
    )
    problems = [p for ok, p in ((fp32_ok, "fp32 copy off"), (auto_ok, "default dtype copy off"),
                                (unchanged, "model changed")) if not ok]  # fmt: skip
    return ("FAIL", summary + "; " + ", ".join(problems)) if problems else ("PASS", summary)


def _against_eager(ctx, model, x, **kw) -> tuple[float, float, float]:
    """(max |compiled - eager| / scale, first call seconds, scale) of an optimize copy."""
    eager = _run(mrstnet.optimize(model, compile=False), x)
    t0 = time.perf_counter()
    fast = mrstnet.optimize(model, **kw)
    out = _run(fast, x)
    sync(ctx.device)
    first = time.perf_counter() - t0
    for _ in range(2):  # CUDA graphs are recorded on a later call than the first
        out = _run(fast, x)
    sc = scale(eager)
    return max_err(out, eager) / sc, first, sc


def compile_infer(ctx) -> tuple[str, str]:
    model, x = _base(ctx)
    rel, first, _ = _against_eager(ctx, model, x, compile=True)
    ctx.part.detail("equality", {"input": list(x.shape), "rel_err": rel, "first_call_s": first})
    free(ctx.device)
    rates = [
        measure_infer(ctx, lambda xb: mrstnet.optimize(model, xb, compile=True), "compiled", b, True)
        for b in ctx.sizes.batches
    ]
    summary = f"compiled vs eager err/scale {rel:.1e}, first call {first:.0f} s; " + "; ".join(
        _rate(e) for e in rates
    )
    return ("PASS" if rel <= BF16_REL else "FAIL"), summary


def cuda_graphs(ctx) -> tuple[str, str]:
    model, x = _base(ctx)
    rel, first, _ = _against_eager(ctx, model, x, cuda_graphs=True)
    ctx.part.detail("equality", {"input": list(x.shape), "rel_err": rel, "first_call_s": first})
    free(ctx.device)
    b = ctx.sizes.batches[0]
    e = measure_infer(
        ctx, lambda xb: mrstnet.optimize(model, xb, cuda_graphs=True), "cuda_graphs", b, True
    )
    summary = f"graphs vs eager err/scale {rel:.1e}, first call {first:.0f} s; {_rate(e)}"
    return ("PASS" if rel <= BF16_REL else "FAIL"), summary
