"""Export a checkpoint to ONNX or TorchScript for inference outside mrstnet.

The exported graph is the eval-mode model with every tube on ``impl="reference"``:
the fast path's custom autograd Function does not trace, and the reference path is
plain ops with the same parameters and the same outputs (up to float rounding; the
tests check the exported scores against PyTorch within 1e-4).

ONNX uses opset 17 and the TorchScript-based exporter (``dynamo=False``: the dynamo
exporter needs ``onnxscript``, an extra dependency). For the registered networks (C3D
and MRST-Net) every axis of the input but the channels is dynamic: batch, frames,
height and width. No layer fixes a size: convolutions and max-pools (``ceil_mode``)
take any, and the pools that end at a fixed shape (C3D's adaptive 1×4×4 average before
fc6, the LSTM head's 2×2 max-pool) are written with slices whose bounds are computed from
the traced sizes, so one graph gives PyTorch's scores at any clip length and crop size
(tested at other sizes than the example input's, within 1e-4). Other modules keep only
the batch axis dynamic. The output "logits" has a dynamic batch axis.
"""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from mrstnet.extras import require

OPSET = 17
FORMATS = ("onnx", "torchscript")
INPUT, OUTPUT = "video", "logits"


def export_ready(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with plain-op (reference) tubes in the default memory
    layout (ONNX has no layouts; the runtime that loads the graph picks its own), safe to
    trace."""
    from mrstnet.models import set_impl
    from mrstnet.models.layout import use_fast_layout

    model = use_fast_layout(copy.deepcopy(model).eval(), channels_last=False)
    return set_impl(model, "reference")


def dynamic_axes(model: nn.Module) -> dict[int, str]:
    """The input axes one exported graph accepts at any size (see the module docstring)."""
    if getattr(getattr(model, "config", None), "arch", None) in ("c3d", "mrst_net"):
        return {0: "batch", 2: "frames", 3: "height", 4: "width"}
    return {0: "batch"}


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
    onnx = require("onnx", "onnx", "ONNX export")
    model = export_ready(model)
    x = example_input(model, frames, size)
    axes = dynamic_axes(model)
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
        "dynamic_axes": list(axes.values()),  # in axis order
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
    still work, and the warnings would drown the command's one line of output.

    The exporter also warns, for every LSTM under a dynamic batch axis, that the graph may
    fail at other batch sizes unless h0/c0 are inputs. It does not here: the LSTM head
    starts from zeros, which the graph builds (ConstantOfShape) from the input's batch size,
    and the tests run a graph traced at batch 1 at batch 3 against PyTorch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings(
            "ignore", message="Exporting a model to ONNX with a batch_size other than 1"
        )
        yield


def export(model: nn.Module, out: str | os.PathLike, fmt: str, **kwargs) -> dict:
    if fmt == "onnx":
        return export_onnx(model, out, **kwargs)
    if fmt == "torchscript":
        return export_torchscript(model, out, **kwargs)
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def onnx_scores(path: str | os.PathLike, x: torch.Tensor) -> torch.Tensor:
    """Run an exported ONNX file with onnxruntime (CPU) on a (N, 3, L, H, W) float clip batch."""
    ort = require("onnx", "onnxruntime", "running an ONNX file")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([OUTPUT], {INPUT: x.detach().cpu().numpy()})
    return torch.from_numpy(logits)
