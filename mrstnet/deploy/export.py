"""Export a checkpoint to ONNX or TorchScript for inference outside mrstnet.

The exported graph is the eval-mode model with every tube on ``impl="reference"``:
the fast path's custom autograd Function does not trace, and the reference path is
plain ops with the same parameters and the same outputs (up to float rounding; the
tests check the exported scores against PyTorch within 1e-4).

ONNX uses opset 17 and the TorchScript-based exporter (``dynamo=False``: the dynamo
exporter needs ``onnxscript``, an extra dependency). The batch axis is dynamic; the
frame axis too for models whose layers never fix the clip length (MRST-Net: time is
never pooled, both heads reduce over it). C3D pools time 4× and its adaptive pool to
1×4×4 is exported with the kernel computed for the example input, so its frame axis
stays fixed to ``--frames``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 17
FORMATS = ("onnx", "torchscript")
MISSING_ONNX = "ONNX export needs onnx and onnxruntime: pip install 'mrstnet[onnx]'"
INPUT, OUTPUT = "video", "logits"


def export_ready(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with plain-op (reference) tubes, safe to trace."""
    from mrstnet.models import set_impl

    model = copy.deepcopy(model).eval()
    return set_impl(model, "reference")


def dynamic_frames(model: nn.Module) -> bool:
    """Whether the model accepts any clip length with one graph (see the module docstring)."""
    return getattr(getattr(model, "config", None), "arch", None) == "mrst_net"


def example_input(
    model: nn.Module, frames: int | None = None, size: int | None = None, batch: int = 1
) -> torch.Tensor:
    """A normalised-range random clip (batch, 3, frames, size, size); defaults from the model."""
    f, s = getattr(model, "default_input", (16, 112))
    return torch.randn(batch, 3, frames or f, size or s, size or s)


def export_onnx(
    model: nn.Module, out: str | os.PathLike, *, frames: int | None = None, size: int | None = None
) -> dict:
    """Write ``model`` as ONNX (opset 17) to ``out``; input "video" (N, 3, L, H, W) float32
    normalised, output "logits" (N, classes). Returns what was exported."""
    try:
        import onnx
    except ImportError:
        raise ImportError(MISSING_ONNX) from None
    model = export_ready(model)
    x = example_input(model, frames, size)
    axes = {0: "batch"}
    if dynamic_frames(model):
        axes[2] = "frames"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            model,
            (x,),
            str(out),
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: axes, OUTPUT: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(str(out))
    return {
        "format": "onnx",
        "path": str(out),
        "opset": OPSET,
        "input": list(x.shape),
        "dynamic_axes": sorted(axes.values()),
    }


def export_torchscript(
    model: nn.Module, out: str | os.PathLike, *, frames: int | None = None, size: int | None = None
) -> dict:
    """Write ``model`` traced to TorchScript (``torch.jit.load`` reads it back)."""
    model = export_ready(model)
    x = example_input(model, frames, size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _quiet():
        traced = torch.jit.trace(model, (x,), check_trace=False)
        traced.save(str(out))
    return {"format": "torchscript", "path": str(out), "input": list(x.shape)}


@contextlib.contextmanager
def _quiet():
    """torch 2.9+ marks TorchScript and the legacy exporter deprecated on every call; both
    still work, and the warnings would drown the command's one line of output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def export(model: nn.Module, out: str | os.PathLike, fmt: str, **kwargs) -> dict:
    if fmt == "onnx":
        return export_onnx(model, out, **kwargs)
    if fmt == "torchscript":
        return export_torchscript(model, out, **kwargs)
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def onnx_scores(path: str | os.PathLike, x: torch.Tensor) -> torch.Tensor:
    """Run an exported ONNX file with onnxruntime (CPU) on a (N, 3, L, H, W) float clip batch."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError(MISSING_ONNX) from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([OUTPUT], {INPUT: x.detach().cpu().numpy()})
    return torch.from_numpy(logits)
