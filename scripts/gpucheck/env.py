"""The `env` check: what machine and software the figures come from.

GPU names, count, memory, compute capability; driver (nvidia-smi), CUDA, cuDNN and NCCL as
torch sees them; torch, Triton, PyAV and Python versions; the CPU model (lscpu) and the
flags that decide CPU bf16 speed (avx512_bf16, amx_bf16, ...); the precision settings in
force. It fails only when CUDA was asked for and torch cannot use it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def _run(argv: list[str], timeout: float = 15) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_info() -> dict:
    model = None
    text = _run(["lscpu"]) or ""
    for line in text.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {
        "model": model or platform.processor() or None,
        "cores": os.cpu_count(),
        "flags": [f for f in CPU_FLAGS if f in flags],
    }


def nvidia_smi() -> list[dict] | None:
    text = _run(
        [
            "nvidia-smi",
            "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
            "--format=csv,noheader,nounits",
        ]
    )
    if not text:
        return None
    rows = []
    for line in text.splitlines():
        name, driver, mem, clock = (v.strip() for v in line.split(","))
        rows.append({"name": name, "driver": driver, "memory_mib": mem, "max_sm_mhz": clock})
    return rows


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # not installed, or broken: either way not usable
        return None


def env(ctx) -> tuple[str, str]:
    import torch
    import torch.distributed as dist

    import mrstnet

    cuda = torch.cuda.is_available()
    gpus = []
    for i in range(torch.cuda.device_count() if cuda else 0):
        p = torch.cuda.get_device_properties(i)
        gpus.append(
            {
                "name": p.name,
                "capability": f"{p.major}.{p.minor}",
                "memory_gib": round(p.total_memory / 2**30, 1),
                "multiprocessors": p.multi_processor_count,
            }
        )
    nccl = None
    if cuda:
        try:
            v = torch.cuda.nccl.version()
            nccl = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
        except Exception:  # a build without NCCL
            nccl = None
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "nccl": nccl,
        "triton": _version("triton"),
        "av": _version("av"),
        "mrstnet": mrstnet.__version__,
        "git_commit": _run(["git", "rev-parse", "HEAD"]),
        "cuda_available": cuda,
        "gpu_count": len(gpus),
        "gpus": gpus,
        "nvidia_smi": nvidia_smi(),
        "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()),
        "distributed": {
            "nccl": bool(dist.is_available() and dist.is_nccl_available()),
            "gloo": bool(dist.is_available() and dist.is_gloo_available()),
        },
        # the defaults the trainer runs with (the throughput figures are measured so)
        "defaults": {
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
        },
        "cpu": cpu_info(),
    }
    ctx.part.update(env=info)
    if ctx.device.type == "cuda" and not cuda:
        raise RuntimeError(no_cuda_message(torch.__version__, torch.version.cuda))
    if gpus:
        driver = (info["nvidia_smi"] or [{}])[0].get("driver", "?")
        names = ", ".join(sorted({g["name"] for g in gpus}))
        return "PASS", (
            f"{names} x{len(gpus)}, driver {driver}, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}, cuDNN {info['cudnn']}, NCCL {nccl}"
        )
    return (
        "PASS",
        f"CPU {info['cpu']['model']} ({info['cpu']['cores']} cores; "
        f"{' '.join(info['cpu']['flags']) or 'no AVX flags'}), torch {torch.__version__}",
    )


def no_cuda_message(torch_version: str, torch_cuda: str | None) -> str:
    build = f"a CUDA {torch_cuda} build" if torch_cuda else "a CPU-only build"
    return (
        f"CUDA is not available: torch {torch_version} is {build}"
        + (" but sees no GPU (driver? CUDA_VISIBLE_DEVICES?)" if torch_cuda else "")
        + ". Install a CUDA build of torch (docs/gpu.md, 'Install'), or run the CPU check: "
        "scripts/gpu_check.sh --device cpu --tiny"
    )
