"""The MRST tube (paper §3.1, SPEC §1) and the residual block built on it.

One module, :class:`Tube`, computes every unit of the paper's Table 2; the unit
is an argument::

    x ── reduce 1×1×1 ──┬── spatial 1×k×k ─ BN ─ ReLU ── S ──┬──────────────┐
       (C_in → C)       └── temporal 3×1×1 ─ BN ─ ReLU ── T ─┤              │
                                                             ▼              │
                          mutually reinforced unit: ss, ts, st, tt          │
                          (1×1×1, C → C, with bias, no norm)                │
              P:  S~ = ss(S) + ts(T)          T~ = st(S) + tt(T)            │
              S:  T~ = st(S) + tt(T)          S~ = ss(S) + ts(δ(T~))        │
              T:  S~ = ss(S) + ts(T)          T~ = st(δ(S~)) + tt(T)        │
                                                             ▼              ▼
                          gate (STF): X* = S ⊙ σ(GAP(S~)) + T ⊙ σ(GAP(T~))
                                                             │
                                        restore 1×1×1 ─ BN (C → C_out) ── out

``unit`` is one of ``c3d`` (a plain 3×3×3 conv + BN, the baseline), ``std``
(X* = S + T), ``std_stf`` (S~ = S, T~ = T), ``mrst_p``, ``mrst_s``, ``mrst_t``.

Two implementations of the reinforced unit share the same parameters:

* ``impl="reference"`` follows the equations literally: S~ and T~ at full
  resolution, then GAP.
* ``impl="fast"`` (default) uses that GAP is linear and the four layers are
  affine, so GAP(W·U + b) = W·GAP(U) + b: MRST-P works on pooled vectors only;
  MRST-T (and, mirrored, MRST-S) computes S~ at full resolution only for
  GAP(δ(S~)); the product is not kept, backward keeps only its sign (1 byte).

Both give the same outputs and gradients up to float rounding (tests check it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

UNITS = ("c3d", "std", "std_stf", "mrst_p", "mrst_s", "mrst_t")
IMPLS = ("fast", "reference")

NormLayer = Callable[[int], nn.Module]


def gap(u: Tensor) -> Tensor:
    """Global average pooling over L×H×W: (N, C, L, H, W) -> (N, C)."""
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


class ConvBN(nn.Sequential):
    """Conv3d (no bias) + norm, optionally followed by ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        relu: bool = True,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ) -> None:
        padding = tuple(k // 2 for k in kernel_size)
        layers: list[nn.Module] = [
            nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            norm_layer(out_channels),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def _fc(channels: int) -> nn.Conv3d:
    """One of the four "fully connected" layers: 1×1×1, C → C, with bias, no norm."""
    return nn.Conv3d(channels, channels, kernel_size=1)


def _affine(layer: nn.Conv3d, v: Tensor) -> Tensor:
    """A 1×1×1 conv applied to a pooled (N, C) vector."""
    return F.linear(v, layer.weight.flatten(1), layer.bias)


def _gap_relu_mix(s: Tensor, t: Tensor, ws: nn.Conv3d, wt: nn.Conv3d) -> Tensor:
    """GAP(δ(ws·S + wt·T)) where the full-resolution sum only feeds the pooling.

    In float32/float64 a custom autograd function keeps a 1-byte sign mask for
    backward instead of the float product; under autocast, plain autograd ops.
    """
    if _autocast_enabled(s.device):
        return gap(F.relu_(F.conv3d(s, ws.weight, ws.bias) + F.conv3d(t, wt.weight, wt.bias)))
    if not torch.is_grad_enabled() or not any(
        u.requires_grad for u in (s, t, ws.weight, wt.weight, ws.bias, wt.bias)
    ):  # inference: no mask to keep; one fused conv + add + ReLU on oneDNN
        mixed = F.conv3d(s, ws.weight, ws.bias + wt.bias)
        return gap(conv_add_relu(t, wt.weight, None, mixed))
    return _GapReluMix.apply(s, t, ws.weight, wt.weight, ws.bias + wt.bias)


def _mkldnn_ok(x: Tensor, w: Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == w.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and not _autocast_enabled(x.device)
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
    if _mkldnn_ok(x, w) and other.shape[1] == w.shape[0]:
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, w, b, list(padding), list(stride), [1, 1, 1], 1,
            "add", None, "relu", [], "",
        )  # fmt: skip
    return F.relu_(F.conv3d(x, w, b, stride, padding) + other)


def _autocast_enabled(device: torch.device) -> bool:
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


class STFGate(nn.Module):
    """Spatio-temporal fusion (Eq. 4–7): X* = S ⊙ σ(z_S) + T ⊙ σ(z_T), z = GAP(·~)."""

    def forward(
        self, s: Tensor, t: Tensor, z_s: Tensor, z_t: Tensor, *, inplace: bool = False
    ) -> Tensor:
        g_s = torch.sigmoid(z_s).to(s.dtype)[..., None, None, None]
        g_t = torch.sigmoid(z_t).to(t.dtype)[..., None, None, None]
        if inplace:  # inference: S is not needed afterwards, write X* over it
            return s.mul_(g_s).addcmul_(t, g_t)
        return torch.addcmul(s * g_s, t, g_t)


class Tube(nn.Module):
    """An MRST tube or one of its ablation units (see the module docstring).

    Args:
        in_channels: C_in.
        out_channels: C_out (ignored without ``bottleneck``: the output is X*, ``width`` channels).
        width: C, the channels of S and T.
        unit: one of :data:`UNITS`.
        spatial_kernel: k of the 1×k×k spatial conv (3 in blocks, 7 in the stem).
        stride: applied by both the spatial and the temporal conv (the stem's (1, 2, 2)).
        bottleneck: with the 1×1×1 reduce and restore convs (False in the stem).
        impl: ``"fast"`` or ``"reference"``, see the module docstring.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int,
        *,
        unit: str = "mrst_t",
        spatial_kernel: int = 3,
        stride: tuple[int, int, int] = (1, 1, 1),
        bottleneck: bool = True,
        impl: str = "fast",
        norm_layer: NormLayer = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; choose from {UNITS}")
        if impl not in IMPLS:
            raise ValueError(f"unknown impl {impl!r}; choose from {IMPLS}")
        self.unit, self.impl = unit, impl
        if unit == "c3d":
            k = spatial_kernel
            out = out_channels if bottleneck else width
            self.conv = ConvBN(
                in_channels, out, (3, k, k), stride, relu=False, norm_layer=norm_layer
            )
            return
        k = spatial_kernel
        self.reduce = (
            ConvBN(in_channels, width, (1, 1, 1), norm_layer=norm_layer)
            if bottleneck
            else nn.Identity()
        )
        c_in = width if bottleneck else in_channels
        self.spatial = ConvBN(c_in, width, (1, k, k), stride, norm_layer=norm_layer)
        self.temporal = ConvBN(c_in, width, (3, 1, 1), stride, norm_layer=norm_layer)
        if unit.startswith("mrst"):
            self.ss, self.ts, self.st, self.tt = (_fc(width) for _ in range(4))
        if unit != "std":
            self.gate = STFGate()
        self.restore = (
            ConvBN(width, out_channels, (1, 1, 1), relu=False, norm_layer=norm_layer)
            if bottleneck
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.unit == "c3d":
            return self.conv(x)
        return self.restore(self.fuse(x))

    def fuse(self, x: Tensor) -> Tensor:
        """X*, the tube before ``restore`` (``mrstnet.optimize`` fuses restore with the
        residual add). Without autograd the gate works in place on S."""
        x = self.reduce(x)
        s, t = self.spatial(x), self.temporal(x)
        inplace = not torch.is_grad_enabled()
        if self.unit == "std":
            return s.add_(t) if inplace else s + t
        if self.unit == "std_stf":
            z = gap(s), gap(t)
        elif self.impl == "fast":
            z = self._reinforce_fast(s, t)
        else:
            z = self._reinforce_reference(s, t)
        return self.gate(s, t, *z, inplace=inplace)

    def _reinforce_reference(self, s: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Eq. 1–3 literally; returns (GAP(S~), GAP(T~))."""
        if self.unit == "mrst_p":
            s_r = self.ss(s) + self.ts(t)
            t_r = self.st(s) + self.tt(t)
        elif self.unit == "mrst_s":
            t_r = self.st(s) + self.tt(t)
            s_r = self.ss(s) + self.ts(F.relu(t_r))
        else:  # mrst_t
            s_r = self.ss(s) + self.ts(t)
            t_r = self.st(F.relu(s_r)) + self.tt(t)
        return gap(s_r), gap(t_r)

    def _reinforce_fast(self, s: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """The same (GAP(S~), GAP(T~)), pooling before the affine layers where exact."""
        p_s, p_t = gap(s), gap(t)
        if self.unit == "mrst_p":
            z_s = _affine(self.ss, p_s) + _affine(self.ts, p_t)
            z_t = _affine(self.st, p_s) + _affine(self.tt, p_t)
        elif self.unit == "mrst_s":
            z_t = _affine(self.st, p_s) + _affine(self.tt, p_t)
            z_s = _affine(self.ss, p_s) + _affine(self.ts, _gap_relu_mix(s, t, self.st, self.tt))
        else:  # mrst_t
            z_s = _affine(self.ss, p_s) + _affine(self.ts, p_t)
            z_t = _affine(self.st, _gap_relu_mix(s, t, self.ss, self.ts)) + _affine(self.tt, p_t)
        return z_s, z_t


class Block(nn.Module):
    """Residual block: ReLU(Tube(x) + shortcut(x)); 1×1×1 conv + BN shortcut where shapes differ."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int,
        *,
        unit: str = "mrst_t",
        impl: str = "fast",
        norm_layer: NormLayer = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        self.tube = Tube(
            in_channels, out_channels, width, unit=unit, impl=impl, norm_layer=norm_layer
        )
        self.shortcut = (
            ConvBN(in_channels, out_channels, (1, 1, 1), relu=False, norm_layer=norm_layer)
            if in_channels != out_channels
            else nn.Identity()
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.tube(x)
        out = out + self.shortcut(x)
        return self.relu(out)


def set_impl(model: nn.Module, impl: str) -> nn.Module:
    """Switch every tube of ``model`` to ``impl`` in place (the parameters are the same)."""
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; choose from {IMPLS}")
    for m in model.modules():
        if isinstance(m, Tube):
            m.impl = impl
    if hasattr(model, "config") and hasattr(model.config, "impl"):
        model.config.impl = impl
    return model


def init_weights(model: nn.Module) -> None:
    """torchvision video-resnet initialisation (Kaiming fan-out convs, unit BN, small linear)."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
