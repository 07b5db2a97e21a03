"""Whole-network speed in one table: each case beside its baseline, and beside the hardware.

Cases (each timed against its own baseline, measured in the same process)::

    mrst_t_net inference   1×16×224²  literal formulation   vs mrstnet.optimize (fp32; bf16)
    mrst_t_net train step  4×16×112²  literal formulation   vs the trainer's path (fp32; bf16)
    demo train step       16×16×64²   literal formulation   vs the trainer's path
    Table 2 fwd+bwd        2×16×112²  c3d_std, default use  vs c3d_mrst_p, c3d_mrst_t

"literal": ``impl="reference"`` (S~, T~ at full resolution, then GAP) in the default memory
layout with the plain for-loop AdamW, i.e. the equations as written. "ours": what a user
gets: ``create_model`` (channels_last_3d, fast impl; inputs in the default layout), the
fused AdamW in training, ``mrstnet.optimize`` for inference. "Default use" (Table 2): the
model from ``create_model`` in a plain loop, forward + backward, no optimizer.

Beside them, a 3×3×3 ``channels_last_3d`` Conv3d stands for the machine's practical peak,
in fp32 and in bf16. All variants of a case are timed round by round in a shuffled order
(a shared, noisy machine slows them alike); the table gives medians over the rounds after
warm-up, each as a ratio to its case's baseline. bf16 rows run where bf16 pays
(``hardware.bf16_pays``) or when asked (``dtype="bf16"``): without bf16 kernels they are
hundreds of times slower.

GFLOP/s use the literal formulation's FLOPs of the row's model (``torch.utils.flop_counter``:
convs and matmuls, a multiply-add = 2 FLOPs) times the batch; a training step and a
forward+backward count 3× the forward. The fast path does fewer FLOPs than that, so its
GFLOP/s are "effective" rates; "% of peak" compares them with the peak conv of the row's
dtype.
"""

from __future__ import annotations

import contextlib
import copy
import os
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

from .hardware import bf16_pays, machine_summary, onednn_bf16
from .optimize import optimize
from .runtime import fused_optimizer_ok, tune_cpu_allocator

TINY = dict(width_mult=0.125, depths=(1, 1, 1, 1, 1), lstm_hidden=32, num_classes=10)
TINY_C3D = dict(width_mult=0.125, fc_dim=32, num_classes=10)


@dataclass
class Case:
    name: str  # row label
    model: str  # registered model (the baseline's, for "table2" the baseline unit's)
    frames: int
    size: int
    batch: int
    kind: str  # "inference" | "train" (forward, backward, AdamW step) | "table2" (fwd+bwd)
    kwargs: dict = field(default_factory=dict)  # create_model overrides


def cases(quick: bool = False) -> list[Case]:
    if quick:  # tiny sizes for tests: same code paths, milliseconds
        return [
            Case("mrst_t_net inference", "mrst_t_net", 4, 32, 1, "inference", dict(TINY)),
            Case("mrst_t_net train step", "mrst_t_net", 4, 32, 2, "train", dict(TINY)),
            Case("demo train step", "mrst_t_net_small", 4, 32, 2, "train", dict(width_mult=0.125)),
            Case("Table 2 fwd+bwd", "c3d_std", 8, 32, 2, "table2", dict(TINY_C3D)),
        ]
    return [
        Case("mrst_t_net inference", "mrst_t_net", 16, 224, 1, "inference"),
        Case("mrst_t_net train step", "mrst_t_net", 16, 112, 4, "train"),
        # the demo preset (presets/demo.yaml): 16×64×64 crops, batch 16, dropout 0.2
        Case("demo train step", "mrst_t_net_small", 16, 64, 16, "train", dict(dropout=0.2)),
        # the Table 2 backbone at C3D's size, 101 classes (UCF101)
        Case("Table 2 fwd+bwd", "c3d_std", 16, 112, 2, "table2", dict(num_classes=101)),
    ]


@dataclass
class Variant:
    run: Callable[[], None]  # one timed unit of work (one batch)
    model: str  # the registered model it runs (its literal FLOPs count)
    dtype: str = "fp32"


def literal_flops(model: str, case: Case) -> float:
    """Forward FLOPs of ``model``'s literal formulation for one batch (paper-equivalent)."""
    with torch.device("meta"):
        m = create_model(model, impl="reference", **case.kwargs).eval()
    with torch.no_grad():
        return float(count_flops(m, case.frames, case.size)) * case.batch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain(model: nn.Module) -> nn.Module:
    """``model`` in the default memory layout (inputs then stay in it too)."""
    return model.to(memory_format=torch.contiguous_format)


def _train_step(model: nn.Module, opt, x, y, amp_dtype, device_type) -> Callable[[], None]:
    def step() -> None:
        amp = torch.autocast(device_type, dtype=amp_dtype) if amp_dtype else None
        with amp or contextlib.nullcontext():
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _fwd_bwd(model: nn.Module, x) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).float().logsumexp(1).sum().backward()

    return step


def _infer(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.inference_mode():
            model(x)

    return run


def build_variants(
    case: Case,
    device: torch.device,
    *,
    bf16: bool = False,
    compile: bool = False,  # noqa: A002
    ablate: bool = False,
) -> dict[str, Variant]:
    """Variant name -> what to time; the first is the case's baseline."""
    torch.manual_seed(0)
    x = torch.randn(case.batch, 3, case.frames, case.size, case.size, device=device)
    if case.kind == "table2":
        return _table2_variants(case, device, x, ablate)
    name = case.model
    literal = plain(create_model(name, impl="reference", **case.kwargs)).to(device)
    out: dict[str, Variant] = {}
    if case.kind == "inference":
        literal.eval()
        out["literal"] = Variant(_infer(literal, x), name)
        fast = optimize(literal, x, dtype="fp32", compile=compile or None)
        out["ours"] = Variant(_infer(fast, x), name)
        if bf16:
            fast16 = optimize(literal, x, dtype="bf16", compile=compile or None)
            out["ours bf16"] = Variant(_infer(fast16, x), name, "bf16")
        if ablate:  # one step at a time
            steps = {
                "fast impl, plain layout": dict(channels_last=False, fold_bn=False),
                "fast impl + layout": dict(fold_bn=False),
                "fast impl + BN fold": dict(channels_last=False),
            }
            for label, kw in steps.items():
                m = optimize(literal, x, dtype="fp32", compile=compile or None, **kw)
                out[label] = Variant(_infer(m, x), name)
            if not compile:  # what inductor adds on top (warm-up compiles it)
                m = optimize(literal, x, dtype="fp32", compile=True)
                out["ours + torch.compile"] = Variant(_infer(m, x), name)
        return out
    y = torch.randint(0, literal.num_classes, (case.batch,), device=device)
    literal.train()
    out["literal"] = Variant(
        _train_step(literal, torch.optim.AdamW(literal.parameters(), lr=1e-4), x, y, None, ""),
        name,
    )
    # what create_model gives (channels_last_3d, fast impl), the trainer's fused AdamW
    ours = create_model(name, **case.kwargs).to(device).train()
    ours.load_state_dict(literal.state_dict())
    run_model = torch.compile(ours) if compile else ours
    params = list(ours.parameters())
    fused = True if fused_optimizer_ok(params) else None
    out["ours"] = Variant(
        _train_step(run_model, torch.optim.AdamW(params, lr=1e-4, fused=fused), x, y, None, ""),
        name,
    )
    if bf16:
        m16 = copy.deepcopy(ours)
        opt16 = torch.optim.AdamW(m16.parameters(), lr=1e-4, fused=fused)
        out["ours bf16 autocast"] = Variant(
            _train_step(m16, opt16, x, y, torch.bfloat16, device.type), name, "bf16"
        )
    if ablate:
        m1 = plain(copy.deepcopy(ours))
        out["fast impl, plain layout"] = Variant(
            _train_step(m1, torch.optim.AdamW(m1.parameters(), fused=fused), x, y, None, ""), name
        )
        m2 = copy.deepcopy(ours)
        from mrstnet.models import set_impl

        set_impl(m2, "reference")
        out["literal, fast layout"] = Variant(
            _train_step(m2, torch.optim.AdamW(m2.parameters(), fused=fused), x, y, None, ""), name
        )
    return out


def _table2_variants(case: Case, device, x, ablate: bool) -> dict[str, Variant]:
    """Table 2's backbone, forward + backward, as a user's own loop runs it."""
    out: dict[str, Variant] = {}
    for unit in ("std", "mrst_p", "mrst_t"):
        torch.manual_seed(0)
        name = f"c3d_{unit}"
        model = create_model(name, **case.kwargs).to(device).train()
        out[name] = Variant(_fwd_bwd(model, x), name)
        if ablate or unit == "mrst_t":  # the layout a user got before (default)
            out[f"{name}, plain layout"] = Variant(_fwd_bwd(plain(copy.deepcopy(model)), x), name)
    return out


def peak_conv(device: torch.device, quick: bool = False, dtype: str = "fp32"):
    """A 3×3×3 conv in channels_last_3d: (callable, FLOPs, shape) — the practical peak."""
    c, frames, size, batch = (16, 4, 8, 2) if quick else (128, 16, 28, 4)
    return _conv(device, c, frames, size, batch, dtype)


def _conv(device, c, frames, size, batch, dtype):
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    conv = nn.Conv3d(c, c, 3, padding=1, bias=False)
    conv = conv.to(device, dt, memory_format=torch.channels_last_3d)
    x = torch.randn(batch, c, frames, size, size, device=device, dtype=dt)
    x = x.contiguous(memory_format=torch.channels_last_3d)
    flops = 2.0 * 27 * c * c * frames * size * size * batch

    def run() -> None:
        with torch.inference_mode():
            conv(x)

    shape = f"3x3x3 Conv3d {dtype}, channels_last_3d, {c}->{c}, {batch}x{frames}x{size}x{size}"
    return run, flops, shape


def bf16_peak(device: torch.device, quick: bool, rounds: int) -> dict:
    """The bf16 peak conv: the fp32 one's shape where oneDNN (or CUDA) has bf16 kernels;
    elsewhere PyTorch's reference kernels run it (~1 GFLOP/s, slower the larger the conv:
    the full shape takes minutes), so a small conv (1 clip, 2 frames, 64 channels)."""
    if device.type == "cuda" or onednn_bf16():
        run, flops, shape = peak_conv(device, quick, "bf16")
    else:
        small = (16, 2, 8, 1) if quick else (64, 2, 28, 1)
        run, flops, shape = _conv(device, *small, "bf16")
        shape += " (small: no bf16 kernels here)"
        rounds = min(rounds, 3)
    run()
    times = [_time(run, device) for _ in range(rounds)]
    return {"gflops": flops / statistics.median(times) / 1e9, "times": times, "shape": shape}


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
    dtype: str | None = "auto",
    compile: bool = False,  # noqa: A002
    ablate: bool = False,
    tune_allocator: bool = True,
    only: list[str] | None = None,
    log=print,
) -> dict:
    """Every case (``only``: those whose name contains one of the words), see the module
    docstring. ``dtype``: "auto" adds bf16 rows where bf16 pays, "bf16" always, None/"fp32"
    never."""
    dev = torch.device(device)
    tuned = tune_cpu_allocator() if tune_allocator and dev.type == "cpu" else False
    bf16 = dtype == "bf16" or (dtype == "auto" and bf16_pays(dev))
    machine = machine_summary() if dev.type == "cpu" else {"device": str(dev)}
    peak_fn, peak_flops, peak_shape = peak_conv(dev, quick)
    peak_times: list[float] = []
    rows = []
    for case in cases(quick):
        if only and not any(o in case.name for o in only):
            continue
        factor = 1 if case.kind == "inference" else 3
        variants = build_variants(case, dev, bf16=bf16, compile=compile, ablate=ablate)
        timed: dict[str, Callable[[], None]] = {k: v.run for k, v in variants.items()}
        timed["peak conv"] = peak_fn
        for fn in timed.values():  # warm-up: oneDNN primitives, compilation, allocator
            for _ in range(warmup):
                fn()
        times: dict[str, list[float]] = {k: [] for k in timed}
        rng = random.Random(0)
        for _ in range(rounds):
            order = list(timed)
            rng.shuffle(order)
            for k in order:
                times[k].append(_time(timed[k], dev))
        peak_times += times.pop("peak conv")
        baseline = next(iter(variants))
        base = statistics.median(times[baseline])
        flops = {m: literal_flops(m, case) * factor for m in {v.model for v in variants.values()}}
        for k, ts in times.items():
            v, med = variants[k], statistics.median(ts)
            rows.append({
                "case": case.name, "variant": k, "baseline": baseline, "model": v.model,
                "dtype": v.dtype, "input": [case.batch, 3, case.frames, case.size, case.size],
                "kind": case.kind, "gflop": flops[v.model] / 1e9,
                "time_s": med, "min_s": min(ts), "times": ts,
                "clips_per_s": case.batch / med, "gflops": flops[v.model] / med / 1e9,
                "ratio": med / base, "speedup": base / med,
            })  # fmt: skip
            log(f"  {case.name:24s} {k:30s} {med * 1e3:9.1f} ms  {med / base:.2f}×")
        del variants, timed
    peaks = {"fp32": {"gflops": peak_flops / statistics.median(peak_times) / 1e9,
                      "times": peak_times, "shape": peak_shape}}  # fmt: skip
    if bf16 or dtype == "auto":  # measured (reduced where slow), so the table shows both
        peaks["bf16"] = bf16_peak(dev, quick, rounds)
    for r in rows:
        r["peak_gflops"] = peaks[r["dtype"]]["gflops"]
        r["of_peak"] = r["gflops"] / r["peak_gflops"]
    if "load_average" in machine:
        machine["load_average_end"] = list(os.getloadavg())
    return {
        "rows": rows,
        "peak_conv": peaks["fp32"],
        "peaks": peaks,
        "machine": machine,
        "env": {
            "torch": torch.__version__, "device": str(dev), "threads": torch.get_num_threads(),
            "processor": machine.get("cpu", str(dev)), "dtype": "bf16 rows" if bf16 else "fp32",
            "compile": compile, "allocator_tuned": tuned, "rounds": rounds, "warmup": warmup,
            "quick": quick,
        },
    }  # fmt: skip


def format_table(result: dict, markdown: bool = False) -> str:
    head = ["case", "variant", "dtype", "time ms", "× baseline", "clips/s", "GFLOP/s", "% of peak"]
    lines = [head]
    for r in result["rows"]:
        lines.append([
            r["case"], r["variant"], r["dtype"], f"{r['time_s'] * 1e3:.0f}",
            f"{r['ratio']:.2f}×", f"{r['clips_per_s']:.2f}", f"{r['gflops']:.0f}",
            f"{100 * r['of_peak']:.0f}%",
        ])  # fmt: skip
    env, m = result["env"], result.get("machine", {})
    peaks = result.get("peaks", {"fp32": result["peak_conv"]})
    peak_text = "; ".join(f"{p['shape']} = {p['gflops']:.1f} GFLOP/s" for p in peaks.values())
    machine_text = (
        f"{m.get('cpu', env['device'])}; flags: {' '.join(m.get('flags', [])) or '-'}; "
        f"oneDNN ISA: {m.get('onednn_isa') or '-'}; bf16 matrix units: "
        f"{'yes' if m.get('bf16_matrix_units') else 'no'}; bf16 pays: "
        f"{'yes' if m.get('bf16_pays') else 'no'}; {env['threads']} threads, "
        f"OMP_WAIT_POLICY {m.get('omp_wait_policy', '-')}; load average "
        f"{_load(m.get('load_average'))} -> {_load(m.get('load_average_end'))}"
    )
    foot = (
        f"Machine: {machine_text}. Peak: {peak_text}. Median of {env['rounds']} interleaved "
        f"rounds, each row's time as a ratio to its case's baseline (first row) measured in "
        f"the same rounds; torch {env['torch']}. GFLOP/s from the literal formulation's FLOPs "
        "of the row's model (training step and fwd+bwd = 3× forward)."
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


def _load(values) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "-"
