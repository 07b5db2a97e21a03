"""The functional pieces of the exact fast path (ours, not in the paper).

GAP (Eq. 4) is linear and the four reinforcement layers are affine, so
GAP(W·U + b) = W·GAP(U) + b: the fast units apply the layers to pooled (N, C) vectors
(:func:`affine`), and compute a sum at full resolution only where a ReLU sits before the
pooling (:func:`gap_relu_mix`). :func:`conv_add_relu` runs conv + add + ReLU as one oneDNN
call in CPU fp32 inference (used by the fast units and by fused residual blocks).
"""

from __future__ import annotations

import functools

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


def pointwise_ok(x: Tensor, conv: nn.Conv3d) -> bool:
    """Whether ``conv`` is a plain 1×1×1 conv on a ``channels_last_3d`` input, so that
    :func:`pointwise_conv` computes it."""
    return (
        conv.kernel_size == (1, 1, 1)
        and conv.stride == (1, 1, 1)
        and conv.groups == 1
        and x.dim() == 5
        and x.is_contiguous(memory_format=torch.channels_last_3d)
    )


def pointwise_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A 1×1×1 conv, stride 1, as one matrix product on the (N·L·H·W, C) view of a
    ``channels_last_3d`` input: (N, C_in, L, H, W) -> (N, C_out, L, H, W), same layout.

    The view costs no copy, and its backward is two more products (autograd's ``addmm``).
    oneDNN's own 1×1×1 conv was measured no faster on 2 threads and 2-3× slower on one
    (PyTorch then picks its reference kernel and copies to the default layout); this
    way the cost does not depend on the thread count.
    """
    n, c, frames, h, w = x.shape
    x2 = x.permute(0, 2, 3, 4, 1).reshape(-1, c)  # a view in channels_last_3d
    w2 = weight.reshape(weight.shape[0], c)
    y2 = torch.mm(x2, w2.t()) if bias is None else torch.addmm(bias, x2, w2.t())
    return y2.view(n, frames, h, w, -1).permute(0, 4, 1, 2, 3)


def conv3d(conv: nn.Conv3d, x: Tensor) -> Tensor:
    """``conv(x)``; on a channels_last_3d CPU input a 1×1×1 conv by :func:`pointwise_conv`
    and any other straight to oneDNN (:func:`onednn_ok`)."""
    if pointwise_ok(x, conv):
        return pointwise_conv(x, conv.weight, conv.bias)
    if onednn_ok(x, conv):
        return torch.ops.aten.mkldnn_convolution(
            x, conv.weight, conv.bias, conv.padding, conv.stride, conv.dilation, conv.groups
        )
    return conv(x)


def onednn_ok(x: Tensor, conv: nn.Conv3d) -> bool:
    """Whether to call oneDNN's convolution (forward and backward) directly: a float32
    channels_last_3d input on CPU, no autocast, no tracing or compiling. PyTorch's own
    choice depends on the thread count: on one thread it sends 3×1×1 kernels to its
    reference kernel, which returns the default layout (copies back and forth, 2× slower
    here)."""
    return (
        x.device.type == "cpu"
        and x.dtype == conv.weight.dtype == torch.float32
        and x.dim() == 5
        and x.is_contiguous(memory_format=torch.channels_last_3d)
        and isinstance(conv.padding, tuple)
        and conv.padding_mode == "zeros"
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and not autocast_enabled(x.device)
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()  # the op has no meta kernel for dynamo
    )


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
    """Whether a oneDNN pointwise-fused conv can run: CPU inference in fp32 (or bf16 where
    oneDNN has bf16 kernels), no autocast."""
    return (
        x.device.type == "cpu"
        and x.dtype == w.dtype
        and (x.dtype == torch.float32 or (x.dtype == torch.bfloat16 and _onednn_bf16()))
        and torch.backends.mkldnn.is_available()
        and not autocast_enabled(x.device)
        and not torch.is_grad_enabled()
    )


@functools.cache
def _onednn_bf16() -> bool:
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


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
    """z = GAP(ReLU(Wa·a + Wb·b + bias)) for 1×1×1 weights, saving only a bool mask.

    In ``channels_last_3d`` the two convs are matrix products on the (N·L·H·W, C) views,
    the second accumulating into the first's output (no separate add)."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, wa: Tensor, wb: Tensor, bias: Tensor) -> Tensor:
        ctx.rows = _rows(a) is not None and _rows(b) is not None
        if ctx.rows:
            mixed = pointwise_conv(a, wa, bias)
            _rows(mixed).addmm_(_rows(b), wb.flatten(1).t())
        else:
            mixed = F.conv3d(a, wa, bias)
            mixed += F.conv3d(b, wb)
        mask = mixed > 0
        ctx.save_for_backward(a, b, wa, wb, mask)
        return gap(mixed.relu_())

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b, wa, wb, mask = ctx.saved_tensors
        positions = mask[0, 0].numel()
        # d z / d mixed, in the mask's layout (a broadcast product would pick the default);
        # converting the mask in place first is 2× faster than a mixed-type product
        g = torch.empty_like(mask, dtype=grad.dtype).copy_(mask)
        g.mul_((grad / positions)[..., None, None, None])
        ga, gwa, gb, gwb = None, None, None, None
        need = ctx.needs_input_grad
        backward = _pointwise_backward if ctx.rows and _rows(g) is not None else _conv1x1_backward
        if need[0] or need[2]:
            ga, gwa = backward(g, a, wa, need[0], need[2])
        if need[1] or need[3]:
            gb, gwb = backward(g, b, wb, need[1], need[3])
        gbias = g.sum(dim=(0, 2, 3, 4)) if need[4] else None
        return ga, gb, gwa, gwb, gbias


def _rows(x: Tensor) -> Tensor | None:
    """The (N·L·H·W, C) view of a channels_last_3d tensor, None in another layout."""
    if x.dim() != 5 or not x.is_contiguous(memory_format=torch.channels_last_3d):
        return None
    return x.permute(0, 2, 3, 4, 1).reshape(-1, x.shape[1])


def _pointwise_backward(grad: Tensor, x: Tensor, w: Tensor, need_x: bool, need_w: bool):
    """(d x, d w) of :func:`pointwise_conv` as matrix products."""
    g2, x2 = _rows(grad), _rows(x)
    gx = gw = None
    if need_x:
        gx = (g2 @ w.flatten(1)).view(x.shape[0], *x.shape[2:], x.shape[1])
        gx = gx.permute(0, 4, 1, 2, 3)
    if need_w:
        gw = (g2.t() @ x2).view(w.shape)
    return gx, gw


def _conv1x1_backward(grad: Tensor, x: Tensor, w: Tensor, need_x: bool, need_w: bool):
    gx, gw, _ = torch.ops.aten.convolution_backward(
        grad, x, w, None, [1, 1, 1], [0, 0, 0], [1, 1, 1], False, [0, 0, 0], 1,
        [need_x, need_w, False],
    )  # fmt: skip
    return gx, gw
