"""The MRST tube (paper §3.1) and the residual block built on it.

One module, :class:`Tube`, computes every decomposed unit of the paper's Table 2; the
unit is an argument, a name in the unit table (``mrstnet.models.units``)::

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

The part between S, T and X* is the unit: ``std`` (X* = S + T), ``std_stf``
(S~ = S, T~ = T), ``mrst_p``, ``mrst_s``, ``mrst_t`` (Eq. 1–3). ``c3d``, the baseline, is
one 3×3×3 conv + BN in the tube's place: :func:`make_tube` builds whichever a name asks for.

Two implementations of a gated unit share the same parameters:

* ``impl="reference"`` follows the equations literally: S~ and T~ at full
  resolution, then GAP.
* ``impl="fast"`` (default) uses that GAP is linear and the four layers are
  affine, so GAP(W·U + b) = W·GAP(U) + b: MRST-P works on pooled vectors only;
  MRST-T (and, mirrored, MRST-S) computes S~ at full resolution only for
  GAP(δ(S~)); the product is not kept, backward keeps only its sign (1 byte).

Both give the same outputs and gradients up to float rounding (tests check it).
"""

from __future__ import annotations

from torch import Tensor, nn

from .fuse import FusedBlock, fuse_for_inference
from .layers import ConvBN, NormLayer
from .units import get_unit

IMPLS = ("fast", "reference")


class Tube(nn.Module):
    """An MRST tube, or one of its ablation units (see the module docstring):
    (N, C_in, L, H, W) -> (N, C_out, L', H', W'), L' H' W' as ``stride`` makes them.

    Args:
        in_channels: C_in.
        out_channels: C_out (ignored without ``bottleneck``: the output is X*, ``width`` channels).
        width: C, the channels of S and T.
        unit: a name in the unit table, not ``c3d`` (see :func:`make_tube`).
        spatial_kernel: k of the 1×k×k spatial conv (3 in blocks, 7 in the stem).
        stride: applied by both the spatial and the temporal conv (the stem's (1, 2, 2)).
        bottleneck: with the 1×1×1 reduce and restore convs (False in the stem).
        impl: ``"fast"`` or ``"reference"``, see the module docstring.

    The unit's layers (``ss``, ``ts``, ``st``, ``tt`` for MRST) are the tube's own
    submodules, so checkpoint keys read ``tube.ss.weight``; ``self.unit`` is the
    parameter-free unit that combines them.
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
        part = get_unit(unit)
        if part.whole_tube:
            raise ValueError(f"unit {unit!r} is a whole tube by itself: build it with make_tube")
        if impl not in IMPLS:
            raise ValueError(f"unknown impl {impl!r}; choose from {IMPLS}")
        self.impl = impl
        k = spatial_kernel
        self.reduce = (
            ConvBN(in_channels, width, (1, 1, 1), norm_layer=norm_layer)
            if bottleneck
            else nn.Identity()
        )
        c_in = width if bottleneck else in_channels
        self.spatial = ConvBN(c_in, width, (1, k, k), stride, norm_layer=norm_layer)
        self.temporal = ConvBN(c_in, width, (3, 1, 1), stride, norm_layer=norm_layer)
        self.unit = part()
        layers = self.unit.layers(width)
        for name, layer in layers.items():
            if hasattr(self, name):
                raise ValueError(f"unit {unit!r} names a layer {name!r}, a part of every tube")
            self.add_module(name, layer)
        self.unit_layer_names = tuple(layers)
        self.restore = (
            ConvBN(width, out_channels, (1, 1, 1), relu=False, norm_layer=norm_layer)
            if bottleneck
            else nn.Identity()
        )

    def unit_layers(self) -> tuple[nn.Module, ...]:
        """The unit's layers, in the order its ``forward`` takes them."""
        return tuple(getattr(self, name) for name in self.unit_layer_names)

    def forward(self, x: Tensor) -> Tensor:
        return self.restore(self.x_star(x))

    def x_star(self, x: Tensor) -> Tensor:
        """X*, the tube before ``restore`` (Eq. 7 for the gated units)."""
        x = self.reduce(x)
        s, t = self.spatial(x), self.temporal(x)
        return self.unit(s, t, *self.unit_layers(), impl=self.impl)

    def split_last(self) -> tuple[nn.Module, nn.Module]:
        """For a fused residual block, in place: (this tube without ``restore``, so that it
        returns X*; ``restore`` fused). Inference only, on a copy (``mrstnet.optimize``)."""
        fuse_for_inference(self)
        last, self.restore = self.restore, nn.Identity()
        return self, last


def make_tube(
    in_channels: int, out_channels: int, width: int, *, unit: str = "mrst_t", **kwargs
) -> nn.Module:
    """The module in a tube's place for ``unit``: a :class:`Tube` around a decomposed unit,
    or the unit itself where it is a whole tube (the C3D baseline). Keywords as Tube's."""
    part = get_unit(unit)
    if part.whole_tube:
        return part(in_channels, out_channels, width, **kwargs)
    return Tube(in_channels, out_channels, width, unit=unit, **kwargs)


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
        self.tube = make_tube(
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

    def fuse(self) -> FusedBlock:
        """For inference, in place (call on a copy in eval mode): the tube's last conv, the
        residual add and the ReLU as one call; every ConvBN with its BN folded."""
        tube, last = self.tube.split_last()
        shortcut = self.shortcut.fuse() if isinstance(self.shortcut, ConvBN) else self.shortcut
        return FusedBlock(tube, last, shortcut)


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
