"""The functional pieces of the exact fast path (ours, not in the paper).

GAP (Eq. 4) is linear and the four reinforcement layers are affine, so
GAP(W·U + b) = W·GAP(U) + b: the fast units apply the layers to pooled (N, C) vectors
(:func:`affine`), and compute a sum at full resolution only where a ReLU sits before the
pooling (:func:`gap_relu_mix`). :func:`conv_add_relu` runs conv + add + ReLU as one oneDNN
call in CPU fp32 inference (used by the fast units and by fused residual blocks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def gap(u: Tensor) -> Tensor:
    """Global average pooling over L×H×W (Eq. 4): (N, C, L, H, W) -> (N, C)."""
    if torch.is_grad_enabled() and u.requires_grad and not torch.jit.is_tracing():
        return _GAP.apply(u)
    return u.mean(dim=(-3, -2, -1))


class _GAP(torch.autograd.Function):
    """The mean over L×H×W, whose backward returns an expanded *view* of grad / (L·H·W).

    ``mean``'s own backward materialises that full-size tensor only for autograd to add
    it into the input's gradient; the view gives the same values bit for bit with one
    full write and read fewer per pooled tensor (a tube pools S, T and more): ~6% of the
    demo model's CPU training step, measured side by side."""

    @staticmethod
    def forward(ctx, u: Tensor) -> Tensor:
        ctx.shape = u.shape
        return u.mean(dim=(-3, -2, -1))

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        positions = ctx.shape[-3] * ctx.shape[-2] * ctx.shape[-1]
        return (grad / positions)[..., None, None, None].expand(ctx.shape)


def affine(layer: nn.Conv3d, v: Tensor) -> Tensor:
    """A 1×1×1 conv applied to a pooled (N, C) vector."""
    return F.linear(v, layer.weight.flatten(1), layer.bias)


def gap_relu_mix(s: Tensor, t: Tensor, ws: nn.Conv3d, wt: nn.Conv3d) -> Tensor:
    """GAP(δ(ws·S + wt·T)) where the full-resolution sum only feeds the pooling.

    In float32/float64 a custom autograd function keeps a 1-byte sign mask for
    backward instead of the float product; under autocast, plain autograd ops.
    """
    if autocast_enabled(s.device):
        return gap(F.relu_(F.conv3d(s, ws.weight, ws.bias) + F.conv3d(t, wt.weight, wt.bias)))
    if not torch.is_grad_enabled() or not any(
        u.requires_grad for u in (s, t, ws.weight, wt.weight, ws.bias, wt.bias)
    ):  # inference: no mask to keep; one fused conv + add + ReLU on oneDNN
        mixed = F.conv3d(s, ws.weight, ws.bias + wt.bias)
        return gap(conv_add_relu(t, wt.weight, None, mixed))
    return _GapReluMix.apply(s, t, ws.weight, wt.weight, ws.bias + wt.bias)


def mkldnn_ok(x: Tensor, w: Tensor) -> bool:
    """Whether a oneDNN pointwise-fused conv can run: CPU fp32 inference, no autocast."""
    return (
        x.device.type == "cpu"
        and x.dtype == w.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and not autocast_enabled(x.device)
        and not torch.is_grad_enabled()
    )


def conv_add_relu(
    x: Tensor,
    w: Tensor,
    b: Tensor | None,
    other: Tensor,
    stride=(1, 1, 1),
    padding=(0, 0, 0),
) -> Tensor:
    """ReLU(conv3d(x, w, b) + other), one oneDNN call (a post-op) in CPU fp32 inference."""
    if mkldnn_ok(x, w) and other.shape[1] == w.shape[0]:
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, w, b, list(padding), list(stride), [1, 1, 1], 1,
            "add", None, "relu", [], "",
        )  # fmt: skip
    return F.relu_(F.conv3d(x, w, b, stride, padding) + other)


def autocast_enabled(device: torch.device) -> bool:
    if device.type not in ("cpu", "cuda", "xpu", "mps"):
        return False  # e.g. the meta device of the FLOP counter
    try:
        return torch.is_autocast_enabled(device.type)
    except TypeError:  # torch < 2.4
        if device.type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


class _GapReluMix(torch.autograd.Function):
    """z = GAP(ReLU(Wa·a + Wb·b + bias)) for 1×1×1 weights, saving only a bool mask."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, wa: Tensor, wb: Tensor, bias: Tensor) -> Tensor:
        mixed = F.conv3d(a, wa, bias)
        mixed += F.conv3d(b, wb)
        mask = mixed > 0
        ctx.save_for_backward(a, b, wa, wb, mask)
        return gap(mixed.relu_())

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b, wa, wb, mask = ctx.saved_tensors
        positions = mask[0, 0].numel()
        g = mask * (grad / positions)[..., None, None, None]  # d z / d mixed
        ga, gwa, gb, gwb = None, None, None, None
        need = ctx.needs_input_grad
        if need[0] or need[2]:
            ga, gwa, _ = _conv1x1_backward(g, a, wa, need[0], need[2])
        if need[1] or need[3]:
            gb, gwb, _ = _conv1x1_backward(g, b, wb, need[1], need[3])
        gbias = g.sum(dim=(0, 2, 3, 4)) if need[4] else None
        return ga, gb, gwa, gwb, gbias


def _conv1x1_backward(grad: Tensor, x: Tensor, w: Tensor, need_x: bool, need_w: bool):
    return torch.ops.aten.convolution_backward(
        grad, x, w, None, [1, 1, 1], [0, 0, 0], [1, 1, 1], False, [0, 0, 0], 1,
        [need_x, need_w, False],
    )  # fmt: skip
