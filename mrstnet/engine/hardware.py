"""What the machine offers the networks: CPU flags, bf16 matrix units, oneDNN's ISA.

bf16 pays on a CPU only where it multiplies bf16 matrices in hardware: Intel AMX
(``amx_bf16`` with ``amx_tile`` in /proc/cpuinfo's flags). Without it oneDNN runs bf16
convolutions no faster than float32 (AVX-512 BF16, Zen 4) or PyTorch falls back to its
reference kernels (AVX2: ~250× slower than float32 here), so ``mrstnet.optimize(
dtype="auto")`` and the trainer's ``amp`` pick bf16 where :func:`bf16_pays` and float32
elsewhere. :func:`bf16_matrix_units` reads a flags string, so the decision is testable
on any machine.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from collections.abc import Iterable

import torch

# the flags that decide which kernels run; the benchmark table lists those present
RELEVANT_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "amx_fp16",
)


def cpu_flags(text: str | None = None) -> frozenset[str]:
    """The CPU's feature flags: the ``flags`` line of ``text`` (a /proc/cpuinfo dump or the
    flags themselves, for tests), of /proc/cpuinfo, or else PyTorch's cpuinfo (any OS)."""
    if text is None:
        try:
            with open("/proc/cpuinfo") as f:
                text = f.read()
        except OSError:
            caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
            return frozenset(k for k, v in caps.items() if v is True)
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset(text.split()) if ":" not in text else frozenset()


def bf16_matrix_units(flags: Iterable[str] | str | None = None) -> bool:
    """Whether the CPU multiplies bf16 matrices in hardware (Intel AMX: ``amx_bf16`` and
    ``amx_tile``). ``flags``: a flags string or set; None reads this machine's."""
    if flags is None or isinstance(flags, str):
        flags = cpu_flags(flags)
    return {"amx_bf16", "amx_tile"} <= set(flags)


@functools.cache
def onednn_bf16() -> bool:
    """Whether PyTorch sends bf16 convolutions to oneDNN on this CPU (else its reference
    kernels), and the OS lets a process use AMX where the CPU has it."""
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False
    init_amx = getattr(torch.cpu, "_init_amx", None)
    return not bf16_matrix_units() or init_amx is None or bool(init_amx())


@functools.cache
def _cpu_bf16_pays() -> bool:
    return bf16_matrix_units() and onednn_bf16()


def bf16_pays(device: torch.device | str) -> bool:
    """bf16 is faster than float32 here: a CUDA device with bf16 support, or a CPU with bf16
    matrix units that oneDNN uses (see the module docstring)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_bf16_pays()
    return False


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_words() -> str:
    """This machine's CPU in one line, as result files name it: model, vCPUs and the
    flags of RELEVANT_FLAGS it has (they decide which kernels run)."""
    flags = [f for f in RELEVANT_FLAGS if f in cpu_flags()]
    return f"{cpu_name()}, {os.cpu_count()} vCPUs ({', '.join(flags) or 'none of AVX2+'})"


_ISA_PROBE = """
import torch
x = torch.randn(2, 8, 4, 8, 8).contiguous(memory_format=torch.channels_last_3d)
w = torch.randn(8, 8, 3, 3, 3).contiguous(memory_format=torch.channels_last_3d)
torch.ops.mkldnn._convolution_pointwise(x, w, None, [1] * 3, [1] * 3, [1] * 3, 1, "none", [], "")
"""


@functools.cache
def onednn_isa(timeout: float = 120.0) -> str | None:
    """The instruction set oneDNN dispatches to here (its verbose ``isa:`` line, e.g.
    ``Intel AVX2``, ``Intel AVX-512 ... Intel AMX ...``), from a fresh process; None if
    oneDNN is missing or says nothing."""
    if not torch.backends.mkldnn.is_available():
        return None
    env = dict(os.environ, ONEDNN_VERBOSE="1", OMP_NUM_THREADS="1")
    try:
        out = subprocess.run(
            [sys.executable, "-c", _ISA_PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if ",isa:" in line:
            return line.split(",isa:", 1)[1].strip()
    return None


def machine_summary() -> dict:
    """The CPU in a benchmark's words: model, the relevant flags present, oneDNN's ISA,
    whether bf16 pays, and the thread settings."""
    flags = cpu_flags()
    return {
        "cpu": cpu_name(),
        "flags": [f for f in RELEVANT_FLAGS if f in flags],
        "bf16_matrix_units": bf16_matrix_units(flags),
        "onednn_isa": onednn_isa(),
        "onednn_bf16": onednn_bf16(),
        "bf16_pays": bf16_pays("cpu"),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
