"""The training and inference runtime around the models: memory layout, allocator, optimizer.

The registered networks already build themselves in ``channels_last_3d`` and convert their
input at the stem (``mrstnet.models.layout``); what the engine adds to train fast::

    tune_cpu_allocator()                 # keep freed activations (glibc), once per process
    model = prepare_for_training(model)  # fast impl + channels_last_3d weights (any model)
    loss = criterion(model(to_channels_last(x)), y)

None of it changes the numbers beyond float rounding (``tests/test_optimize.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch
from torch import nn

from mrstnet.models.layout import CL3D, is_channels_last, to_channels_last
from mrstnet.models.tube import set_impl

__all__ = [
    "CL3D",
    "fused_optimizer_ok",
    "is_channels_last",
    "prepare_for_training",
    "to_channels_last",
    "tune_cpu_allocator",
]


def prepare_for_training(
    model: nn.Module, *, channels_last: bool = True, fast_impl: bool = True
) -> nn.Module:
    """In place: the exact fast implementation and ``channels_last_3d`` weights.

    Parameters keep their identity, values and ``state_dict`` keys (only strides
    change), so optimizers created afterwards and checkpoints work as before. Feed
    inputs through :func:`to_channels_last`.
    """
    if fast_impl and any(hasattr(m, "impl") for m in model.modules()):
        set_impl(model, "fast")
    if channels_last:
        model.to(memory_format=CL3D)
    return model


def fused_optimizer_ok(params) -> bool:
    """Whether ``fused=True`` works for Adam/AdamW/SGD on these parameters: one kernel per
    step instead of a Python loop of element-wise ops per tensor (~5% of the demo model's
    CPU training step, benchmarks/results/net.md). Same update to float rounding."""
    version = tuple(int(v) for v in torch.__version__.split(".")[:2])
    devices = {p.device.type for p in params}
    # CPU fused kernels arrived in torch 2.4; CUDA has had them since 2.0
    ok = {"cuda"} if version < (2, 4) else {"cpu", "cuda"}
    return bool(devices) and devices <= ok and all(p.is_floating_point() for p in params)


_ALLOCATOR_TUNED = False


def tune_cpu_allocator(mmap_threshold: int = 1 << 30, trim_threshold: int = 64 << 30) -> bool:
    """Stop glibc from returning big freed blocks to the OS after each step.

    With glibc's defaults every CPU training step unmaps its large activations and
    page-faults them back in the next step (on the 2-core dev machine: 35 s of system
    time in a 58 s block benchmark, steps ~2× slower). ``mallopt(M_MMAP_THRESHOLD)``
    and ``mallopt(M_TRIM_THRESHOLD)`` at run time do what the ``MALLOC_MMAP_THRESHOLD_``
    / ``MALLOC_TRIM_THRESHOLD_`` variables do at process start (the trim threshold is a C
    int: at most 2 GiB). glibc 2.36 (this machine) accepts a 1 GiB mmap threshold; older
    versions refuse values above 32 MiB (HEAP_MAX_SIZE/2), which would leave 100 MB
    activations mmapped, so then we turn mmap off instead (``M_MMAP_MAX = 0``: every
    block comes from the heap, and the trim threshold keeps it). Returns True when applied;
    a no-op (False) off Linux/glibc. Idempotent.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
    ok_mmap = mallopt(M_MMAP_THRESHOLD, min(mmap_threshold, 2**31 - 1)) == 1
    ok_mmap = ok_mmap or mallopt(M_MMAP_MAX, 0) == 1
    ok_trim = mallopt(M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1)) == 1
    _ALLOCATOR_TUNED = ok_mmap and ok_trim
    return _ALLOCATOR_TUNED
