"""The networks' memory layout: ``channels_last_3d`` by default (ours, not in the paper).

A clip batch (N, C, L, H, W) in ``channels_last_3d`` keeps the C values of one position
next to each other in memory, (N, L, H, W, C). oneDNN's convolutions run that layout
without reordering their input and output, and a 1×1×1 conv becomes one matrix product
on the (N·L·H·W, C) view (``ops.pointwise_conv``). The networks are built in it
(:func:`use_fast_layout`) and convert their input once, at the stem
(:func:`match_layout`), so a caller feeding the default layout gets the fast path too.

Only the layout changes, never a value: ``state_dict`` keys and values are the same
(tensors compare equal whatever their strides), ``load_state_dict`` copies into the
parameters and keeps their layout, ``model.to(device)`` keeps it too.
``model.to(memory_format=torch.contiguous_format)`` turns a network back to the plain
layout, inputs included (the stem follows its weight). Checkpoints are written in the
plain layout (:func:`plain_state_dict`) so any reader loads them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CL3D = torch.channels_last_3d


def is_channels_last(x: Tensor) -> bool:
    """A 5-D tensor laid out (N, L, H, W, C) in memory."""
    return x.dim() == 5 and x.is_contiguous(memory_format=CL3D)


def to_channels_last(x: Tensor) -> Tensor:
    """A 5-D clip batch in ``channels_last_3d`` (no copy when it already is)."""
    if x.dim() == 5 and not x.is_contiguous(memory_format=CL3D):
        return x.contiguous(memory_format=CL3D)
    return x


def _has_kernel(p: Tensor) -> bool:
    """A conv weight whose layout is not ambiguous: a 1×1×1 weight is contiguous in both
    layouts and keeps its default strides (those its gradient comes with: DDP buckets
    follow the parameters and would copy otherwise)."""
    return p.dim() == 5 and p.shape[2:].numel() > 1


@torch.no_grad()
def use_fast_layout(model: nn.Module, *, channels_last: bool = True) -> nn.Module:
    """In place: every conv weight with a kernel in ``channels_last_3d`` (or, with
    ``channels_last=False``, back in the default layout). Parameters keep their identity
    (``param.data`` is replaced), so an optimizer built before still holds them."""
    fmt = CL3D if channels_last else torch.contiguous_format
    for p in model.parameters():
        if _has_kernel(p) and not p.is_contiguous(memory_format=fmt):
            p.data = p.data.contiguous(memory_format=fmt)
    return model


def layout_weight(module: nn.Module) -> Tensor | None:
    """The first conv weight with a kernel in ``module`` (the stem's spatial conv)."""
    return next((p for p in module.parameters() if _has_kernel(p)), None)


def match_layout(x: Tensor, module: nn.Module) -> Tensor:
    """``x`` in the layout of ``module``'s first kernel weight: the network converts its
    input once, before the stem, and every layer after keeps that layout."""
    w = layout_weight(module)
    if w is not None and x.dim() == 5 and is_channels_last(w) and not w.is_contiguous():
        return to_channels_last(x)
    return x


def plain_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A ``state_dict`` with every tensor in the default (contiguous) layout, for files that
    any reader (another framework, an older mrstnet) loads as they are."""
    return {k: v.detach().contiguous() if isinstance(v, Tensor) else v for k, v in state.items()}
