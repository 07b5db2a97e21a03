"""``mrstnet.optimize``: an inference copy of a model (layout, BN folding, fusion, bf16).

::

    fast = mrstnet.optimize(model)                   # eval copy: channels_last_3d, BN folded;
                                                     # bf16 where it pays (AMX CPUs, GPUs)
    fast = mrstnet.optimize(model, dtype="bf16")     # bf16 anywhere
    with torch.inference_mode():
        logits = fast(clips)                         # any layout in; converted once

In bf16 the network's feature part (``forward_features``) is cast once, after BN folding,
and runs on bf16 kernels from the input to the last feature map (no float32 round trips);
the small head stays in float32.

``optimize`` never changes ``model``: it returns a new module whose outputs equal the
original's to float32 rounding (``tests/test_optimize.py``). Its ``state_dict`` differs
(BN folded into conv biases); save checkpoints from the original model. How each block
fuses itself is the models' business (``mrstnet.models.fuse``).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from mrstnet.models.fuse import fold_batchnorm, fuse_for_inference
from mrstnet.models.tube import set_impl

from .hardware import bf16_pays
from .runtime import CL3D, to_channels_last

_DTYPES = {
    None: None,
    "fp32": None,
    "float32": None,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


class Optimized(nn.Module):
    """An inference wrapper: converts inputs to the model's layout (and, with ``cast``, to
    ``dtype`` in the same pass), float32 logits out. ``.module`` is the folded model.

    ``cast``: the module's feature part holds ``dtype`` weights (:func:`cast_features`);
    otherwise a ``dtype`` other than None runs the whole module under autocast."""

    def __init__(
        self, module: nn.Module, *, channels_last: bool, dtype, device_type: str, cast=False
    ):
        super().__init__()
        self.module = module
        self.channels_last = channels_last
        self.dtype = dtype
        self.device_type = device_type
        self.cast = cast
        for attr in ("num_classes", "default_input", "config"):
            if hasattr(module, attr):
                setattr(self, attr, getattr(module, attr))

    def forward(self, x: Tensor) -> Tensor:
        fmt = CL3D if self.channels_last and x.dim() == 5 else torch.preserve_format
        if self.cast:  # one pass: layout and dtype
            x = x.to(dtype=self.dtype, memory_format=fmt)
            features = self.module.forward_features(x)
            return self.module.forward_head(features.float())
        if self.channels_last:
            x = to_channels_last(x)
        if self.dtype is None:
            return self.module(x)
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.module(x)
        return out.float()


def feature_modules(model: nn.Module) -> list[nn.Module] | None:
    """The submodules that ``forward_features`` runs (the networks name them in
    ``feature_modules``), or None for a model that does not say."""
    names = getattr(model, "feature_modules", None)
    if not names or not hasattr(model, "forward_head"):
        return None
    return [getattr(model, n) for n in names]


def cast_features(model: nn.Module, dtype: torch.dtype) -> bool:
    """In place: the feature part's parameters and buffers in ``dtype`` (layouts kept);
    False (nothing done) for a model without ``feature_modules``."""
    parts = feature_modules(model)
    if parts is None:
        return False
    for part in parts:
        part.to(dtype)
    return True


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
    oneDNN calls on CPU; ``dtype``: ``"auto"`` (default) is bf16 where it pays
    (``hardware.bf16_pays``: a CUDA device with bf16, a CPU with bf16 matrix units, AMX)
    and fp32 elsewhere; ``"bf16"`` forces it; ``None``/``"fp32"`` never. In bf16 the
    feature part of a registered network is cast once (weights folded first) and runs in
    bf16 end to end, the head in float32; other models and fp16 run under autocast.
    bf16 changes scores slightly (top-1 agreement: docs/performance_round2.md).
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
        dtype = "bf16" if bf16_pays(device) else None
    if isinstance(dtype, str) and dtype.lower() not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose fp32, bf16 or fp16")
    amp_dtype = _DTYPES[dtype.lower()] if isinstance(dtype, str) else dtype
    if amp_dtype is torch.float32:
        amp_dtype = None

    fast = copy.deepcopy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    if any(hasattr(m, "impl") for m in fast.modules()):
        set_impl(fast, "fast")
    if fold_bn:
        fold_batchnorm(fast)
        if fuse:
            fuse_for_inference(fast)
    if channels_last:
        fast.to(memory_format=CL3D)
    cast = amp_dtype is torch.bfloat16 and cast_features(fast, amp_dtype)
    if compile is None:
        compile = device.type == "cuda"
    if compile or cuda_graphs:
        mode = "reduce-overhead" if cuda_graphs and device.type == "cuda" else None
        if cast:  # the wrapper calls forward_features and forward_head itself
            fast.forward_features = torch.compile(fast.forward_features, mode=mode, dynamic=False)
        else:
            fast = torch.compile(fast, mode=mode, dynamic=False)
    wrapped = Optimized(
        fast, channels_last=channels_last, dtype=amp_dtype, device_type=device.type, cast=cast
    ).eval()
    if example is not None:
        with torch.inference_mode():
            wrapped(example.to(device))
    return wrapped
