"""The units of the paper's Table 2, in one table keyed by name (:data:`UNITS`).

A :class:`Unit` is what an MRST tube computes from its STD unit's spatial and temporal
features S and T, both (N, C, L, H, W), to X* (same shape)::

    std        X* = S + T                                 (no reinforcement, no STF)
    std_stf    X* = STF(S, T, S~ = S, T~ = T)              (STF only)
    mrst_p     X* = STF(S, T, S~, T~ of Eq. 1)             (parallel)
    mrst_s     X* = STF(S, T, S~, T~ of Eq. 2)             (T~ first, then S~ from δ(T~))
    mrst_t     X* = STF(S, T, S~, T~ of Eq. 3)             (S~ first, then T~ from δ(S~))

with STF(S, T, S~, T~) = S ⊙ σ(GAP(S~)) + T ⊙ σ(GAP(T~)) (Eq. 4–7). The C3D baseline
(``c3d``) replaces the whole tube by one 3×3×3 conv + BN (:class:`C3DConv`): a unit with
``whole_tube = True`` is built in the tube's place from the tube's arguments
(``tube.make_tube``) and hands a fused residual block its last conv (``split_last``).

A unit has no parameters of its own: ``layers(width)`` names the layers it needs, the
tube owns them under those names (checkpoint keys ``ss.weight``, as Table 1 names the four
1×1×1 layers) and passes them to ``forward`` in that order. A gated unit defines the
reinforced maps (``reinforce``: S~, T~ at full resolution, the paper's equations) and may
define ``vector``: GAP(S~), GAP(T~) from pooled vectors, exactly (see ``Gated`` and
``ops``). ``impl="reference"`` pools ``reinforce``'s maps (``literal``); ``impl="fast"``
(default) uses ``vector`` (``pooled``), in training as one fused autograd node
(``fused_unit``). Both have the same parameters and agree to float rounding.

A new unit is a subclass joined to the table with ``@register_unit("name", label=...)``;
every network, ``mrstnet ablate``, ``mrstnet profile`` and ``mrstnet visualize`` then
accept it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .fused_unit import fused_gate, fused_ok
from .layers import ConvBN, NormLayer, fc
from .ops import affine, gap, gap_relu_mix

UNITS: dict[str, type[nn.Module]] = {}  # name -> unit class, in Table 2's order


def register_unit(name: str, *, label: str | None = None, table2: tuple | None = None):
    """Class decorator: join the unit table under ``name``.

    ``label`` is how tables print it (``"MRST-T"``); ``table2`` the paper's Table 2 row
    for it, (UCF101 top-1 %, HMDB51 top-1 %, size in MB), or None for a unit of ours.
    """

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in UNITS:
            raise ValueError(f"unit {name!r} is already registered")
        cls.name, cls.label, cls.table2 = name, label or name, table2
        UNITS[name] = cls
        return cls

    return add


def list_units() -> list[str]:
    """Unit names, in the order they were registered (Table 2's for the paper's six)."""
    return list(UNITS)


def get_unit(name: str) -> type[nn.Module]:
    try:
        return UNITS[name]
    except KeyError:
        raise ValueError(f"unknown unit {name!r}; choose from {', '.join(UNITS)}") from None


class Unit(nn.Module):
    """X* from S and T (the tube's middle); see the module docstring."""

    name: str
    label: str
    table2: tuple | None
    whole_tube = False  # True: the unit replaces the whole tube (the C3D baseline)

    def layers(self, width: int) -> dict[str, nn.Module]:
        """The layers this unit needs, by name; the tube owns them (C = ``width``)."""
        return {}

    def reinforce(self, s: Tensor, t: Tensor, *layers: nn.Module) -> tuple[Tensor, Tensor] | None:
        """(S~, T~) at full resolution, or None for a unit without them (STD)."""
        return None

    def forward(self, s: Tensor, t: Tensor, *layers: nn.Module, impl: str = "fast") -> Tensor:
        raise NotImplementedError


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


class Gated(Unit):
    """A unit that ends in the STF gate: X* = STF(S, T, S~, T~).

    A unit may give GAP(S~), GAP(T~) without the full-resolution maps (exact, as GAP is
    linear and the layers affine) by defining ``vector``: (z_S, z_T) from the pooled
    (N, C) vectors GAP(S), GAP(T) and, where S~ or T~ goes through δ of the other map
    (MRST-T, MRST-S), q = GAP(δ(W_a·S + W_b·T)), whose two layers ``mix`` names by their
    position in ``layers()``. Such a unit also trains through one fused autograd node
    (``fused_unit``)."""

    mix: tuple[int, int] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.gate = STFGate()

    def reinforce(self, s: Tensor, t: Tensor, *layers: nn.Module) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def literal(self, s: Tensor, t: Tensor, *layers: nn.Module) -> tuple[Tensor, Tensor]:
        """(GAP(S~), GAP(T~)) as the equations say: the maps at full resolution, pooled."""
        s_r, t_r = self.reinforce(s, t, *layers)
        return gap(s_r), gap(t_r)

    def vector(
        self, p_s: Tensor, p_t: Tensor, q: Tensor | None, *layers: nn.Module
    ) -> tuple[Tensor, Tensor]:
        """(GAP(S~), GAP(T~)) from GAP(S), GAP(T) and q (see the class docstring)."""
        raise NotImplementedError

    def has_vector(self) -> bool:
        return type(self).vector is not Gated.vector

    def pooled(self, s: Tensor, t: Tensor, *layers: nn.Module) -> tuple[Tensor, Tensor]:
        """The same (GAP(S~), GAP(T~)), from ``vector`` where the unit has one, else
        :meth:`literal`."""
        if not self.has_vector():
            return self.literal(s, t, *layers)
        p_s, p_t = gap(s), gap(t)
        q = None
        if self.mix is not None:
            q = gap_relu_mix(s, t, layers[self.mix[0]], layers[self.mix[1]])
        return self.vector(p_s, p_t, q, *layers)

    def forward(self, s: Tensor, t: Tensor, *layers: nn.Module, impl: str = "fast") -> Tensor:
        if impl == "fast" and fused_ok(self, s, t, layers):
            return fused_gate(self, s, t, layers)
        pool = self.pooled if impl == "fast" else self.literal
        z_s, z_t = pool(s, t, *layers)
        # without autograd the gate works in place on S
        return self.gate(s, t, z_s, z_t, inplace=not torch.is_grad_enabled())


class Reinforced(Gated):
    """A mutually reinforced unit (paper §3.1): four 1×1×1 layers ss, ts, st, tt."""

    def layers(self, width: int) -> dict[str, nn.Module]:
        return {name: fc(width) for name in ("ss", "ts", "st", "tt")}


@register_unit("c3d", label="C3D", table2=(85.3, 58.5, 321))
class C3DConv(nn.Module):
    """The C3D baseline in a tube's place: one 3×k×k conv + BN, C_in -> C_out (C without
    ``bottleneck``), ``stride`` as the tube's; no S/T decomposition, so no ``impl``."""

    whole_tube = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int,
        *,
        spatial_kernel: int = 3,
        stride: tuple[int, int, int] = (1, 1, 1),
        bottleneck: bool = True,
        impl: str = "fast",
        norm_layer: NormLayer = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        k, out = spatial_kernel, out_channels if bottleneck else width
        self.conv = ConvBN(in_channels, out, (3, k, k), stride, relu=False, norm_layer=norm_layer)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)

    def split_last(self) -> tuple[nn.Module, nn.Module]:
        """For a fused residual block: (nothing before the last conv, that conv fused)."""
        return nn.Identity(), self.conv.fuse()


@register_unit("std", label="STD", table2=(86.9, 60.8, 209))
class STD(Unit):
    """The STD unit alone: X* = S + T."""

    def forward(self, s: Tensor, t: Tensor, *layers: nn.Module, impl: str = "fast") -> Tensor:
        return s.add_(t) if not torch.is_grad_enabled() else s + t


@register_unit("std_stf", label="STD+STF", table2=(88.8, 63.8, 213))
class STF(Gated):
    """STD with STF and no reinforcement: S~ = S, T~ = T."""

    def reinforce(self, s: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return s, t

    def vector(self, p_s: Tensor, p_t: Tensor, q: None) -> tuple[Tensor, Tensor]:
        return p_s, p_t


@register_unit("mrst_p", label="MRST-P", table2=(91.2, 67.2, 211))
class MRSTP(Reinforced):
    """Eq. 1 (parallel): S~ = ss·S + ts·T, T~ = st·S + tt·T."""

    def reinforce(self, s, t, ss, ts, st, tt) -> tuple[Tensor, Tensor]:
        return ss(s) + ts(t), st(s) + tt(t)

    def vector(self, p_s, p_t, q, ss, ts, st, tt) -> tuple[Tensor, Tensor]:
        return affine(ss, p_s) + affine(ts, p_t), affine(st, p_s) + affine(tt, p_t)


@register_unit("mrst_s", label="MRST-S", table2=(90.8, 66.4, 211))
class MRSTS(Reinforced):
    """Eq. 2 (series, temporal first): T~ = st·S + tt·T, S~ = ss·S + ts·δ(T~)."""

    def reinforce(self, s, t, ss, ts, st, tt) -> tuple[Tensor, Tensor]:
        t_r = st(s) + tt(t)
        return ss(s) + ts(torch.relu(t_r)), t_r

    mix = (2, 3)  # q = GAP(δ(T~)) = GAP(δ(st·S + tt·T))

    def vector(self, p_s, p_t, q, ss, ts, st, tt) -> tuple[Tensor, Tensor]:
        z_t = affine(st, p_s) + affine(tt, p_t)
        return affine(ss, p_s) + affine(ts, q), z_t


@register_unit("mrst_t", label="MRST-T", table2=(92.2, 68.9, 211))
class MRSTT(Reinforced):
    """Eq. 3 (series, spatial first): S~ = ss·S + ts·T, T~ = st·δ(S~) + tt·T."""

    def reinforce(self, s, t, ss, ts, st, tt) -> tuple[Tensor, Tensor]:
        s_r = ss(s) + ts(t)
        return s_r, st(torch.relu(s_r)) + tt(t)

    mix = (0, 1)  # q = GAP(δ(S~)) = GAP(δ(ss·S + ts·T))

    def vector(self, p_s, p_t, q, ss, ts, st, tt) -> tuple[Tensor, Tensor]:
        z_s = affine(ss, p_s) + affine(ts, p_t)
        return z_s, affine(st, q) + affine(tt, p_t)
