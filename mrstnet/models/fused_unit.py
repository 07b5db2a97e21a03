"""A gated unit's training step as one autograd node (ours, not in the paper).

The fast units (``impl="fast"``) compute X* = S ⊙ σ(z_S) + T ⊙ σ(z_T) from pooled vectors:
z = f(GAP(S), GAP(T), q) with f a few affine layers on (N, C) vectors and, for MRST-T and
MRST-S, q = GAP(δ(W_a·S + W_b·T + b)) at full resolution (``units.Gated.vector`` and
``mix``). Left to autograd, S's gradient is the sum of three full-size tensors (from the
gate, from GAP, from the mix), each written and added; :class:`FusedGate` writes it once::

    dS = G ⊙ σ(z_S) + dGAP(S) / P        one pass (addcmul with a broadcast vector)
    dS += dM · W_a                       in the GEMM (beta = 1), dM = mask ⊙ dq / P

where the small part (dz -> dGAP(S), dGAP(T), dq and the layers' own gradients) is
autograd's on the (N, C) vectors, run inside the node's backward. Forward saves S, T and
the 1-byte mask of W_a·S + W_b·T + b > 0, as the unfused path does. The same operations
as the unfused fast path, summed in another order: equal to float rounding (tests).

Used in training on ``channels_last_3d`` float32/float64 tensors (the networks' layout,
where the 1×1×1 products run on the (N·L·H·W, C) views); autocast, tracing,
``torch.compile`` and the default layout take the unfused path.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .layout import is_channels_last
from .ops import autocast_enabled, pointwise_conv


def _rows(x: Tensor) -> Tensor:
    """The (N·L·H·W, C) view of a channels_last_3d tensor."""
    return x.permute(0, 2, 3, 4, 1).reshape(-1, x.shape[1])


def _bcast(v: Tensor) -> Tensor:
    return v[..., None, None, None]


def fused_ok(unit: nn.Module, s: Tensor, t: Tensor, layers: tuple[nn.Module, ...]) -> bool:
    """Whether :class:`FusedGate` computes this unit here (see the module docstring)."""
    return (
        torch.is_grad_enabled()
        and unit.has_vector()
        and s.dtype == t.dtype
        and s.dtype in (torch.float32, torch.float64)
        and is_channels_last(s)
        and is_channels_last(t)
        and s.shape == t.shape
        and not autocast_enabled(s.device)
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
        and all(
            isinstance(m, nn.Conv3d) and m.kernel_size == (1, 1, 1) and m.bias is not None
            for m in layers
        )
    )


def fused_gate(unit: nn.Module, s: Tensor, t: Tensor, layers: tuple[nn.Module, ...]) -> Tensor:
    """X* of a gated unit with a ``vector`` formulation, as one autograd node."""
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    return FusedGate.apply(unit, layers, s, t, *params)


class FusedGate(torch.autograd.Function):
    """X* = S ⊙ σ(z_S) + T ⊙ σ(z_T), z = unit.vector(GAP(S), GAP(T), q, *layers)."""

    @staticmethod
    def forward(ctx, unit, layers, s: Tensor, t: Tensor, *params: Tensor) -> Tensor:
        p_s, p_t = s.mean(dim=(-3, -2, -1)), t.mean(dim=(-3, -2, -1))
        mask = q = None
        if unit.mix is not None:
            wa, wb = (layers[i] for i in unit.mix)
            mixed = pointwise_conv(s, wa.weight, wa.bias + wb.bias)
            _rows(mixed).addmm_(_rows(t), wb.weight.flatten(1).t())
            mask = mixed > 0
            q = mixed.relu_().mean(dim=(-3, -2, -1))
            del mixed
        with torch.enable_grad():  # the small part, kept as a graph for backward
            leaves = [v.detach().requires_grad_() for v in (p_s, p_t, q) if v is not None]
            l_q = leaves[2] if q is not None else None
            z_s, z_t = unit.vector(leaves[0], leaves[1], l_q, *layers)
        g_s, g_t = torch.sigmoid(z_s.detach()), torch.sigmoid(z_t.detach())
        out = torch.empty_like(s)
        torch.mul(s, _bcast(g_s), out=out)
        out.addcmul_(t, _bcast(g_t))
        ctx.save_for_backward(s, t, g_s, g_t, *([mask] if mask is not None else []))
        ctx.graph = (z_s, z_t, leaves)
        ctx.unit, ctx.layers = unit, layers
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        s, t, g_s, g_t, *mask = ctx.saved_tensors
        z_s, z_t, leaves = ctx.graph
        unit, layers = ctx.unit, ctx.layers
        grad = grad.contiguous(memory_format=torch.channels_last_3d)
        positions = s[0, 0].numel()
        # dL/dσ(z) = Σ over positions of G ⊙ S (and T), in one scratch buffer
        scratch = torch.mul(grad, s)
        d_gs = scratch.sum(dim=(-3, -2, -1))
        torch.mul(grad, t, out=scratch)
        d_gt = scratch.sum(dim=(-3, -2, -1))
        del scratch
        dz_s, dz_t = d_gs * g_s * (1 - g_s), d_gt * g_t * (1 - g_t)
        params = [p for layer in layers for p in (layer.weight, layer.bias)]
        need = ctx.needs_input_grad[4:]
        wanted = [p for p, n in zip(params, need, strict=True) if n]
        # retain_graph: the small graph is tiny, and a retained outer graph may run again
        small = torch.autograd.grad(
            (z_s, z_t), [*leaves, *wanted], (dz_s, dz_t), allow_unused=True, retain_graph=True
        )
        d_leaves, d_wanted = small[: len(leaves)], iter(small[len(leaves) :])
        d_params = [next(d_wanted) if n else None for n in need]
        d_ps, d_pt = (d if d is not None else torch.zeros_like(g_s) for d in d_leaves[:2])
        # dS = G ⊙ σ(z_S) + dGAP(S) / P, one pass; the same for T
        d_s = torch.empty_like(s)
        torch.addcmul(_bcast(d_ps / positions), grad, _bcast(g_s), out=d_s)
        d_t = torch.empty_like(t)
        torch.addcmul(_bcast(d_pt / positions), grad, _bcast(g_t), out=d_t)
        if mask:
            d_q = d_leaves[2] if d_leaves[2] is not None else torch.zeros_like(g_s)
            # mask ⊙ dq / P: converting the mask in place first is 2× faster than a mixed-type
            # product (which writes a converted copy, then the product)
            d_mixed = torch.empty_like(mask[0], dtype=grad.dtype).copy_(mask[0])
            d_mixed.mul_(_bcast(d_q / positions))
            dm = _rows(d_mixed)
            d_bias = dm.sum(dim=0)  # both layers' biases enter as one sum
            for i, x, d_x in ((unit.mix[0], s, d_s), (unit.mix[1], t, d_t)):
                w = layers[i].weight
                _rows(d_x).addmm_(dm, w.flatten(1))
                if need[2 * i]:
                    _accumulate(d_params, 2 * i, (dm.t() @ _rows(x)).view(w.shape))
                if need[2 * i + 1]:
                    _accumulate(d_params, 2 * i + 1, d_bias)
        return None, None, d_s, d_t, *d_params


def _accumulate(grads: list, k: int, d: Tensor) -> None:
    grads[k] = d if grads[k] is None else grads[k] + d
