"""Fast inference and training (issue 6): layout, BN folding, allocator, bf16.

`mrstnet.optimize` is :func:`optimize` here (the module is not named `optimize` so that
the package attribute stays the function).

Inference::

    fast = mrstnet.optimize(model)                   # eval copy: channels_last_3d, BN folded
    fast = mrstnet.optimize(model, dtype="bf16")     # + bf16 autocast (GPUs, AVX-512 BF16 CPUs)
    with torch.inference_mode():
        logits = fast(clips)                         # any layout in; converted once

Training (what the engine calls)::

    tune_cpu_allocator()                 # keep freed activations (glibc), once per process
    model = prepare_for_training(model)  # fast impl + channels_last_3d parameters, in place
    loss = criterion(model(to_channels_last(x)), y)

``optimize`` never changes ``model``: it returns a new module whose outputs equal the
original's to float32 rounding (``tests/test_optimize.py``). Its ``state_dict`` differs
(BN folded into conv biases); save checkpoints from the original model.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import sys

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CL3D = torch.channels_last_3d
_DTYPES = {
    None: None,
    "fp32": None,
    "float32": None,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


# --------------------------------------------------------------------------- layout
def to_channels_last(x: Tensor) -> Tensor:
    """A 5-D clip batch in ``channels_last_3d`` (no copy when it already is)."""
    if x.dim() == 5 and not x.is_contiguous(memory_format=CL3D):
        return x.contiguous(memory_format=CL3D)
    return x


def is_channels_last(x: Tensor) -> bool:
    return x.dim() == 5 and x.is_contiguous(memory_format=CL3D)


def prepare_for_training(
    model: nn.Module, *, channels_last: bool = True, fast_impl: bool = True
) -> nn.Module:
    """In place: the exact fast implementation and ``channels_last_3d`` weights.

    Parameters keep their identity, values and ``state_dict`` keys (only strides
    change), so optimizers created afterwards and checkpoints work as before. Feed
    inputs through :func:`to_channels_last`.
    """
    from mrstnet.models import set_impl

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


# --------------------------------------------------------------------------- allocator
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


# --------------------------------------------------------------------------- BN folding
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """In place: every ``Conv3d`` directly followed by ``BatchNorm3d`` in an ``nn.Sequential``
    becomes one conv with bias (exact in eval mode); the BN is replaced by ``nn.Identity``."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in list(model.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for a, b in zip(names, names[1:], strict=False):
            conv, bn = module._modules[a], module._modules[b]
            if (
                isinstance(conv, nn.Conv3d)
                and isinstance(bn, nn.BatchNorm3d)
                and bn.track_running_stats
                and bn.running_mean is not None
            ):
                fused = fuse_conv_bn_eval(conv.eval(), bn.eval())
                module._modules[a] = fused
                module._modules[b] = nn.Identity()
    return model


# --------------------------------------------------------------------------- fusion
class FusedConv(nn.Module):
    """A folded ``ConvBN`` for inference: conv (+ ReLU as a oneDNN post-op on CPU fp32).

    oneDNN also runs the small late-stage convs (4×4 maps) that PyTorch would send to its
    slow reference kernel. Elsewhere (CUDA, autocast, autograd) it is conv3d + ReLU.
    """

    def __init__(self, conv: nn.Conv3d, relu: bool) -> None:
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.stride, self.padding = list(conv.stride), list(conv.padding)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        from mrstnet.models.tube import _mkldnn_ok

        if _mkldnn_ok(x, self.weight):
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, self.padding, self.stride, [1, 1, 1], 1,
                "relu" if self.relu else "none", [], "",
            )  # fmt: skip
        y = F.conv3d(x, self.weight, self.bias, self.stride, self.padding)
        return F.relu_(y) if self.relu else y


class FusedBlock(nn.Module):
    """A residual block for inference: ReLU(restore(X*) + shortcut(x)) as one conv call."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.tube, self.shortcut = block.tube, block.shortcut
        last = self.tube.conv if self.tube.unit == "c3d" else self.tube.restore
        self.last = last if isinstance(last, FusedConv) else _fuse_sequential(last)
        if self.last is None:
            raise ValueError("FusedBlock needs the tube's last conv folded (fold_batchnorm)")

    def forward(self, x: Tensor) -> Tensor:
        from mrstnet.models.tube import conv_add_relu

        shortcut = self.shortcut(x)
        mid = x if self.tube.unit == "c3d" else self.tube.fuse(x)
        last = self.last
        return conv_add_relu(mid, last.weight, last.bias, shortcut, last.stride, last.padding)


def _fuse_sequential(seq: nn.Module) -> FusedConv | None:
    """``Sequential(conv, Identity[, ReLU])`` (a folded ConvBN) -> :class:`FusedConv`."""
    if not isinstance(seq, nn.Sequential) or not isinstance(seq[0], nn.Conv3d):
        return None
    rest = [type(m) for m in list(seq)[1:] if not isinstance(m, nn.Identity)]
    if rest not in ([], [nn.ReLU]):
        return None
    conv = seq[0]
    if conv.groups != 1 or tuple(conv.dilation) != (1, 1, 1) or conv.padding_mode != "zeros":
        return None
    return FusedConv(conv, relu=bool(rest))


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """In place, after :func:`fold_batchnorm`: folded ConvBNs become :class:`FusedConv`,
    residual blocks :class:`FusedBlock` (exact: the same operations, fewer memory passes)."""
    from mrstnet.models.tube import Block

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            fused = _fuse_sequential(child)
            if fused is not None:
                setattr(parent, name, fused)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Block):
                setattr(parent, name, FusedBlock(child))
    return model


# --------------------------------------------------------------------------- inference
class Optimized(nn.Module):
    """An inference wrapper: converts inputs to the model's layout, optional autocast,
    float32 logits out. ``.module`` is the folded model."""

    def __init__(self, module: nn.Module, *, channels_last: bool, dtype, device_type: str):
        super().__init__()
        self.module = module
        self.channels_last = channels_last
        self.dtype = dtype
        self.device_type = device_type
        for attr in ("num_classes", "default_input", "config"):
            if hasattr(module, attr):
                setattr(self, attr, getattr(module, attr))

    def forward(self, x: Tensor) -> Tensor:
        if self.channels_last:
            x = to_channels_last(x)
        if self.dtype is None:
            return self.module(x)
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.module(x)
        return out.float()


def optimize(
    model: nn.Module,
    example: Tensor | None = None,
    *,
    dtype: str | torch.dtype | None = "auto",
    channels_last: bool = True,
    fold_bn: bool = True,
    fuse: bool = True,
    compile: bool | None = None,  # noqa: A002 - mirrors torch.compile
    cuda_graphs: bool = False,
) -> nn.Module:
    """A copy of ``model`` ready for fast inference; ``model`` is left untouched.

    Steps (each measured in README "## Performance"): eval mode; the exact fast
    reinforced unit; BN folded into the preceding convs; ``channels_last_3d`` weights
    (inputs converted by the wrapper); conv+ReLU and restore+shortcut+ReLU as single
    oneDNN calls on CPU; autocast to ``dtype``: ``"auto"`` (default) is bf16 on a CUDA
    device that supports it and fp32 elsewhere: on CPU bf16 is opt-in (``"bf16"``), it
    changes scores slightly (README "Performance"); ``None``/``"fp32"`` never autocasts.
    ``torch.compile`` where it pays: by default only on CUDA (on this CPU inductor was
    slower than eager oneDNN); ``cuda_graphs=True`` compiles with
    ``mode="reduce-overhead"`` (CUDA graphs; inputs of a fixed shape). GPU paths are
    written to the same design but were not measured (no GPU in development).
    ``example`` (a clip batch) is run once to warm up (oneDNN primitives, compilation).

    Returns an :class:`Optimized` module in eval mode; call it under
    ``torch.inference_mode()``. Outputs equal the original's within float32 tolerance
    (fp32), or within bf16 tolerance with ``dtype="bf16"``.
    """
    if isinstance(model, Optimized):
        model = model.module
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    if isinstance(dtype, str) and dtype.lower() == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        dtype = "bf16" if cuda_bf16 else None
    if isinstance(dtype, str) and dtype.lower() not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose fp32, bf16 or fp16")
    amp_dtype = _DTYPES[dtype.lower()] if isinstance(dtype, str) else dtype
    if amp_dtype is torch.float32:
        amp_dtype = None

    fast = copy.deepcopy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    if any(hasattr(m, "impl") for m in fast.modules()):
        from mrstnet.models import set_impl

        set_impl(fast, "fast")
    if fold_bn:
        fold_batchnorm(fast)
        if fuse:
            fuse_for_inference(fast)
    if channels_last:
        fast.to(memory_format=CL3D)
    if compile is None:
        compile = device.type == "cuda"
    if compile or cuda_graphs:
        mode = "reduce-overhead" if cuda_graphs and device.type == "cuda" else None
        fast = torch.compile(fast, mode=mode, dynamic=False)
    wrapped = Optimized(
        fast, channels_last=channels_last, dtype=amp_dtype, device_type=device.type
    ).eval()
    if example is not None:
        with torch.inference_mode():
            wrapped(example.to(device))
    return wrapped


__all__ = [
    "Optimized",
    "FusedBlock",
    "FusedConv",
    "fold_batchnorm",
    "fuse_for_inference",
    "is_channels_last",
    "optimize",
    "prepare_for_training",
    "to_channels_last",
    "tune_cpu_allocator",
]
