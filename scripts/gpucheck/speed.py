"""Training speed: the `throughput` check (eager) and the `compile` check (torch.compile).

A training step is the trainer's (mrstnet/engine/train.py with `fast: true`): MRST-T-Net in
channels_last_3d, bf16 autocast on CUDA (float32 on the CPU, where `amp` does nothing),
cross-entropy on float32 logits, backward, fused AdamW. Clips are random tensors already on
the device: this is the GPU's rate; the data pipeline's is the learning run's
(`train` check, `clips_per_s` and `data_wait`). Per batch size: median step time over
`iters` steps after `warmup`, clips/s = batch / median, peak GPU memory (allocated and
reserved) from the model's creation on, so weights, AdamW state and activations count.

- `throughput`: eager at each batch size; at the largest, also with
  `torch.backends.cudnn.benchmark = True` (the trainer leaves it off) and, on the GPU, the
  Table 2 backbones (`c3d_mrst_t`, `c3d`) for the reproduction estimate.
- `compile`: `torch.compile(model)` as the trainer's `compile: true`: one step compiled
  against the same step eager (dropout 0, same weights and batch; loss within 5%, gradient
  cosine >= 0.9: bf16 kernels fuse and round differently), the first step's seconds
  (compilation), then compiled throughput at each batch size.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from .measure import (
    adamw,
    all_finite,
    amp_dtype,
    autocast,
    clips,
    cosine,
    free,
    fresh_copy,
    is_oom,
    loss_and_grads,
    net,
    reset_memory,
    sync,
    timed,
    timing_figures,
    to_cl,
    trainer_layout,
)

LOSS_REL = 0.05
MIN_COSINE = 0.9


def _step(model, opt, x, y, dtype):
    def step() -> None:
        with autocast(x.device, dtype):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def measure_train(
    ctx, name: str, batch: int, *, variant: str = "eager", build=None, model=None
) -> dict:
    """One throughput entry: `build(model)` wraps the model (e.g. torch.compile); `model`, a
    network already built (and compiled by `build`'s first call), is timed as it is.
    Dropout is 0 everywhere (its cost is negligible; the compile check's graph is reused)."""
    frames, size = ctx.sizes.clip
    dtype = amp_dtype(ctx.device)
    entry = {
        "check": ctx.name,
        "what": "train",
        "model": name,
        "variant": variant,
        "compiled": build is not None,
        "batch": batch,
        "input": [batch, 3, frames, size, size],
        "dtype": "bf16" if dtype is not None else "fp32",
    }
    reset_memory(ctx.device)
    try:
        torch.manual_seed(0)
        if model is None:
            model = trainer_layout(net(ctx.sizes, name, dropout=0.0).to(ctx.device))
        x, y = clips(batch, frames, size, ctx.device, model.num_classes)
        run = build(model) if build is not None else model
        t = timed(
            _step(run, adamw(model, ctx.device), to_cl(x), y, dtype),
            ctx.device,
            ctx.sizes.warmup,
            ctx.sizes.iters,
        )
        entry.update(timing_figures(batch, t, ctx.device, "first_step_s"))
    except Exception as e:
        if not is_oom(e):
            raise
        entry.update(oom=True, error=str(e).splitlines()[0][:200])
    ctx.part.add_throughput(entry)
    model = run = None
    free(ctx.device)
    return entry


def rate(e: dict) -> str:
    if e.get("oom"):
        return f"b{e['batch']} OOM"
    mem = f", {e['peak_mem_gib']:.1f} GiB" if e.get("peak_mem_gib") is not None else ""
    return f"b{e['batch']} {e['clips_per_s']:.1f} clips/s{mem}"


def throughput(ctx) -> tuple[str, str]:
    rows = [measure_train(ctx, "mrst_t_net", b) for b in ctx.sizes.batches]
    largest = ctx.sizes.batches[-1]
    summary = "; ".join(rate(e) for e in rows)
    if ctx.device.type == "cuda":  # cuDNN picks kernels per shape by timing them; off in training
        torch.backends.cudnn.benchmark = True
        bench = measure_train(ctx, "mrst_t_net", largest, variant="cudnn_benchmark")
        torch.backends.cudnn.benchmark = False
        summary += f"; cudnn.benchmark {rate(bench)}"
    for name in ctx.sizes.extra_models:
        measure_train(ctx, name, largest)
    if all(e.get("oom") for e in rows):
        return "FAIL", summary + "; every batch size ran out of memory"
    return "PASS", summary


def _compiler(ctx):
    return lambda model: torch.compile(model, backend=ctx.sizes.compile_backend)


def compile(ctx) -> tuple[str, str]:  # noqa: A001 - the check's name
    b, (frames, size) = ctx.sizes.compiled_batches[0], ctx.sizes.clip
    dtype = amp_dtype(ctx.device)
    torch.manual_seed(0)
    base = trainer_layout(net(ctx.sizes, dropout=0.0).to(ctx.device))
    x, y = clips(b, frames, size, ctx.device, base.num_classes)
    x = to_cl(x)
    _, loss_e, _, g_e = loss_and_grads(fresh_copy(base), x, y, dtype=dtype)
    model = fresh_copy(base)
    compiled = _compiler(ctx)(model)
    t0 = time.perf_counter()
    model.train()
    model.zero_grad(set_to_none=True)
    with autocast(x.device, dtype):
        loss_c = F.cross_entropy(compiled(x).float(), y)
    loss_c.backward()
    sync(ctx.device)
    first = time.perf_counter() - t0
    g_c = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    finite = all_finite(loss_c, grads=g_c)
    rel = abs(loss_c.item() - loss_e.item()) / abs(loss_e.item())
    cos = cosine(g_c, g_e) if finite else float("nan")
    ctx.part.detail(
        "step",
        {
            "backend": ctx.sizes.compile_backend,
            "input": list(x.shape),
            "dtype": "bf16" if dtype is not None else "fp32",
            "first_step_s": first,
            "loss_eager": loss_e.item(),
            "loss_compiled": loss_c.item(),
            "loss_rel_diff": rel,
            "grad_cosine": cos,
        },
    )
    del base, g_c, g_e
    free(ctx.device)
    # the first batch size times the module compiled above (same shapes: no recompilation);
    # each other one is a new model, compiled for its shapes on its first (warm-up) step
    reuse = measure_train(
        ctx, "mrst_t_net", b, variant="compiled", build=lambda _, c=compiled: c, model=model
    )
    rows = [reuse]
    del model, compiled
    rows += [
        measure_train(ctx, "mrst_t_net", bb, variant="compiled", build=_compiler(ctx))
        for bb in ctx.sizes.compiled_batches
        if bb != b
    ]
    summary = (
        f"{ctx.sizes.compile_backend}: first step {first:.0f} s, loss rel {rel:.1e}, "
        f"grad cosine {cos:.4f}; " + "; ".join(rate(e) for e in rows)
    )
    ok = finite and rel <= LOSS_REL and cos >= MIN_COSINE
    return ("PASS" if ok else "FAIL"), summary
