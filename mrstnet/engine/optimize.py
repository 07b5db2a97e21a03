"""``mrstnet.optimize``: an inference copy of a model (layout, BN folding, fusion, bf16).

::

    fast = mrstnet.optimize(model)                   # eval copy: channels_last_3d, BN folded
    fast = mrstnet.optimize(model, dtype="bf16")     # + bf16 autocast (GPUs, AVX-512 BF16 CPUs)
    with torch.inference_mode():
        logits = fast(clips)                         # any layout in; converted once

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
