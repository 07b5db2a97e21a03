"""Whole-network speed: our fast path beside the literal baseline and the hardware.

Three cases, each timed as "ours" (``mrstnet.optimize`` for inference; the trainer's
``prepare_for_training`` + ``channels_last_3d`` inputs for training) and "reference"
(``impl="reference"``, default memory layout, what the model did before), plus a
3×3×3 ``channels_last_3d`` Conv3d that stands for the machine's practical peak. All are
timed in one process, round by round in a shuffled order (a shared, noisy machine slows
them alike); we report medians over the rounds after warm-up.

GFLOP/s use the paper-equivalent FLOPs: the reference formulation's count from
``torch.utils.flop_counter`` (convs and matmuls, a multiply-add = 2 FLOPs) times the
batch; a training step counts 3× the forward FLOPs (forward + the two backward products).
Our fast path does fewer FLOPs than that, so its GFLOP/s are "effective" rates.
"""

from __future__ import annotations

import contextlib
import copy
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from mrstnet.models import create_model
from mrstnet.models.profile import count_flops

from .optimize import optimize
from .runtime import (
    fused_optimizer_ok,
    prepare_for_training,
    to_channels_last,
    tune_cpu_allocator,
)

TINY = dict(width_mult=0.125, depths=(1, 1, 1, 1, 1), lstm_hidden=32, num_classes=10)


@dataclass
class Case:
    name: str  # row label
    model: str  # registered model
    frames: int
    size: int
    batch: int
    train: bool  # a training step (forward, backward, AdamW step) or inference
    kwargs: dict = field(default_factory=dict)  # create_model overrides


def cases(quick: bool = False) -> list[Case]:
    if quick:  # tiny sizes for tests: same code paths, milliseconds
        return [
            Case("mrst_t_net inference", "mrst_t_net", 4, 32, 1, False, dict(TINY)),
            Case("mrst_t_net train step", "mrst_t_net", 4, 32, 2, True, dict(TINY)),
            Case("demo train step", "mrst_t_net_small", 4, 32, 2, True, dict(width_mult=0.125)),
        ]
    return [
        Case("mrst_t_net inference", "mrst_t_net", 16, 224, 1, False),
        Case("mrst_t_net train step", "mrst_t_net", 16, 112, 4, True),
        # the demo preset (presets/demo.yaml): 16×64×64 crops, batch 16, dropout 0.2
        Case("demo train step", "mrst_t_net_small", 16, 64, 16, True, dict(dropout=0.2)),
    ]


def reference_flops(case: Case) -> float:
    """Forward FLOPs of the literal formulation for one batch (paper-equivalent)."""
    with torch.device("meta"):
        model = create_model(case.model, impl="reference", **case.kwargs).eval()
    with torch.no_grad():
        return float(count_flops(model, case.frames, case.size)) * case.batch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_step(model: nn.Module, opt, x, y, amp_dtype, device_type) -> Callable[[], None]:
    def step() -> None:
        if amp_dtype is not None:
            with torch.autocast(device_type, dtype=amp_dtype):
                logits = model(x)
        else:
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def build_variants(
    case: Case,
    device: torch.device,
    *,
    dtype: str | None = None,
    compile: bool = False,
    ablate: bool = False,
) -> dict[str, Callable[[], None]]:  # noqa: A002
    """name -> a callable doing one timed unit of work (one batch)."""
    torch.manual_seed(0)
    base = create_model(case.model, impl="reference", **case.kwargs).to(device)
    x = torch.randn(case.batch, 3, case.frames, case.size, case.size, device=device)
    y = torch.randint(0, base.num_classes, (case.batch,), device=device)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype or "")
    out: dict[str, Callable[[], None]] = {}
    if not case.train:
        base.eval()

        def reference() -> None:
            with torch.no_grad():
                base(x)

        out["reference"] = reference
        fast = optimize(base, x, dtype=dtype, compile=compile or None)

        def ours() -> None:
            with torch.inference_mode():
                fast(x)

        out["ours"] = ours
        if ablate:  # one step at a time, to say what each gives
            steps = {
                "fast impl": dict(channels_last=False, fold_bn=False),
                "fast impl + channels_last": dict(fold_bn=False),
                "fast impl + BN fold": dict(channels_last=False),
            }
            for name, kw in steps.items():
                m = optimize(base, x, dtype=dtype, compile=compile or None, **kw)
                out[name] = lambda m=m: _infer(m, x)
            if not compile:  # what inductor adds on top (warm-up compiles it)
                m = optimize(base, x, dtype=dtype, compile=True)
                out["ours + torch.compile"] = lambda m=m: _infer(m, x)
        return out
    base.train()
    opt_ref = torch.optim.AdamW(base.parameters(), lr=1e-4)
    out["reference"] = _train_step(base, opt_ref, x, y, None, device.type)
    model = prepare_for_training(copy.deepcopy(base))
    run_model = torch.compile(model) if compile else model
    fused = True if fused_optimizer_ok(list(model.parameters())) else None  # as the trainer
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
    out["ours"] = _train_step(run_model, opt, to_channels_last(x), y, amp, device.type)
    if ablate:
        m1 = prepare_for_training(copy.deepcopy(base), channels_last=False)
        out["fast impl"] = _train_step(
            m1, torch.optim.AdamW(m1.parameters()), x, y, None, device.type
        )
        m2 = copy.deepcopy(base).to(memory_format=torch.channels_last_3d)
        out["reference + channels_last"] = _train_step(
            m2, torch.optim.AdamW(m2.parameters()), to_channels_last(x), y, None, device.type
        )
        if not compile:  # the trainer's `--set compile=true`
            m3 = prepare_for_training(copy.deepcopy(base))
            out["ours + torch.compile"] = _train_step(
                torch.compile(m3), torch.optim.AdamW(m3.parameters(), fused=fused),
                to_channels_last(x), y,
                amp, device.type,
            )  # fmt: skip
    return out


def _infer(model: nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        model(x)


def peak_conv(device: torch.device, quick: bool = False, dtype: str | None = None):
    """A 3×3×3 conv in channels_last_3d: (callable, FLOPs) — the practical peak."""
    c, frames, size, batch = (16, 4, 8, 2) if quick else (128, 16, 28, 4)
    conv = nn.Conv3d(c, c, 3, padding=1, bias=False)
    conv = conv.to(device, memory_format=torch.channels_last_3d)
    x = to_channels_last(torch.randn(batch, c, frames, size, size, device=device))
    flops = 2.0 * 27 * c * c * frames * size * size * batch
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype or "")

    def run() -> None:
        ctx = torch.autocast(device.type, dtype=amp) if amp else contextlib.nullcontext()
        with torch.inference_mode(), ctx:
            conv(x)

    return run, flops


def _time(fn: Callable[[], None], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def run_bench(
    *,
    rounds: int = 5,
    warmup: int = 1,
    quick: bool = False,
    device: str = "cpu",
    dtype: str | None = None,
    compile: bool = False,
    ablate: bool = False,  # noqa: A002
    tune_allocator: bool = True,
    only: list[str] | None = None,
    log=print,
) -> dict:
    dev = torch.device(device)
    tuned = tune_cpu_allocator() if tune_allocator and dev.type == "cpu" else False
    peak_fn, peak_flops = peak_conv(dev, quick, dtype)
    peak_times: list[float] = []
    rows = []
    for case in cases(quick):
        if only and not any(o in case.name for o in only):
            continue
        flops = reference_flops(case) * (3 if case.train else 1)
        variants = build_variants(case, dev, dtype=dtype, compile=compile, ablate=ablate)
        variants["peak conv"] = peak_fn
        for fn in variants.values():  # warm-up: oneDNN primitives, compilation, allocator
            for _ in range(warmup):
                fn()
        times: dict[str, list[float]] = {k: [] for k in variants}
        rng = random.Random(0)
        for _ in range(rounds):
            order = list(variants)
            rng.shuffle(order)
            for k in order:
                times[k].append(_time(variants[k], dev))
        peak_times += times.pop("peak conv")
        ref = statistics.median(times["reference"])
        for k, ts in times.items():
            med = statistics.median(ts)
            rows.append({
                "case": case.name, "variant": k, "model": case.model,
                "input": [case.batch, 3, case.frames, case.size, case.size],
                "train": case.train, "gflop": flops / 1e9,
                "time_s": med, "min_s": min(ts), "times": ts,
                "clips_per_s": case.batch / med, "gflops": flops / med / 1e9,
                "speedup": ref / med,
            })  # fmt: skip
            log(f"  {case.name:24s} {k:28s} {med * 1e3:9.1f} ms")
        del variants
    peak = peak_flops / statistics.median(peak_times) / 1e9
    for r in rows:
        r["peak_gflops"] = peak
        r["of_peak"] = r["gflops"] / peak
    return {
        "rows": rows,
        "peak_conv": {"gflops": peak, "times": peak_times,
                      "shape": "3x3x3 Conv3d, channels_last_3d, 128->128, 4x16x28x28"
                      if not quick else "tiny"},
        "env": {
            "torch": torch.__version__, "device": str(dev), "threads": torch.get_num_threads(),
            "machine": platform.machine(), "processor": _cpu_name(),
            "dtype": dtype or "fp32", "compile": compile, "allocator_tuned": tuned,
            "rounds": rounds, "warmup": warmup, "quick": quick,
        },
    }  # fmt: skip


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def format_table(result: dict, markdown: bool = False) -> str:
    head = ["case", "variant", "time ms", "clips/s", "GFLOP/s", "% of peak", "speed-up"]
    lines = [head]
    for r in result["rows"]:
        lines.append([
            r["case"], r["variant"], f"{r['time_s'] * 1e3:.0f}", f"{r['clips_per_s']:.2f}",
            f"{r['gflops']:.0f}", f"{100 * r['of_peak']:.0f}%", f"{r['speedup']:.2f}×",
        ])  # fmt: skip
    env = result["env"]
    foot = (
        f"peak: {result['peak_conv']['shape']} = {result['peak_conv']['gflops']:.0f} GFLOP/s; "
        f"median of {env['rounds']} interleaved rounds; {env['device']} ({env['processor']}), "
        f"{env['threads']} threads, {env['dtype']}, torch {env['torch']}; GFLOP/s from the "
        "reference formulation's FLOPs (training step = 3× forward)."
    )
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
        return "\n".join(out) + "\n\n" + foot
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n" + foot
