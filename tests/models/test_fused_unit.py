"""The fused training node of the gated units: the same outputs and gradients as autograd
through the unfused fast path and the literal reference, to float rounding."""

import copy

import pytest
import torch

from mrstnet.models.layout import CL3D
from mrstnet.models.tube import Block, Tube, make_tube, set_impl

FUSED = ["std_stf", "mrst_p", "mrst_s", "mrst_t"]


def _run(block, x, grad):
    block.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    y = block(x)
    y.backward(grad)
    return y.detach(), x.grad, {n: p.grad.clone() for n, p in block.named_parameters()}


def _unit_node(tube: Tube, x: torch.Tensor) -> str:
    """The autograd node that made the tube's X*."""
    s, t = tube.spatial(tube.reduce(x)), tube.temporal(tube.reduce(x))
    return type(tube.unit(s, t, *tube.unit_layers(), impl=tube.impl).grad_fn).__name__


@pytest.mark.parametrize("unit", FUSED)
def test_fused_matches_unfused_and_reference(unit):
    torch.manual_seed(0)
    ref = Block(16, 24, 8, unit=unit, impl="reference").to(memory_format=CL3D).train()
    fused = set_impl(copy.deepcopy(ref), "fast")
    x = torch.randn(2, 16, 4, 8, 8)
    grad = torch.randn(2, 24, 4, 8, 8).contiguous(memory_format=CL3D)
    xl = x.contiguous(memory_format=CL3D)
    assert _unit_node(fused.tube, xl) == "FusedGateBackward"
    assert _unit_node(fused.tube, x) != "FusedGateBackward"  # the default layout: unfused
    results = [_run(ref, xl, grad), _run(fused, xl, grad), _run(fused, x, grad.contiguous())]
    (y0, gx0, gp0), *rest = results
    for y, gx, gp in rest:
        torch.testing.assert_close(y, y0, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(gx, gx0, rtol=1e-4, atol=1e-5)
        for name, g in gp0.items():
            err = (gp[name] - g).abs().max() / g.abs().max().clamp_min(1e-6)
            assert err < 1e-4, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("unit", FUSED)
def test_fused_gradcheck_float64(unit):
    """The node's gradients for S, T and the unit's layers against finite differences (the
    layers' parameters are the gradcheck inputs themselves, perturbed in place)."""
    torch.manual_seed(0)
    tube = make_tube(3, 4, 3, unit=unit).double()
    layers = tube.unit_layers()
    s, t = (
        torch.randn(2, 3, 3, 3, 3, dtype=torch.float64)
        .contiguous(memory_format=CL3D)
        .requires_grad_()
        for _ in range(2)
    )
    params = tuple(p for layer in layers for p in layer.parameters())

    def f(s, t, *_params):
        return tube.unit(s, t, *layers, impl="fast")

    assert type(f(s, t).grad_fn).__name__ == "FusedGateBackward"
    assert torch.autograd.gradcheck(f, (s, t, *params), eps=1e-6, atol=1e-6)


def test_frozen_layers_get_no_gradient():
    """needs_input_grad is honoured: frozen unit layers get None, the rest still train."""
    torch.manual_seed(0)
    block = Block(8, 8, 4, unit="mrst_t").to(memory_format=CL3D)
    for name in ("ss", "ts"):
        getattr(block.tube, name).requires_grad_(False)
    x = torch.randn(2, 8, 3, 5, 5).contiguous(memory_format=CL3D)
    block(x).sum().backward()
    assert block.tube.ss.weight.grad is None and block.tube.ts.bias.grad is None
    assert block.tube.st.weight.grad is not None and block.tube.spatial[0].weight.grad.any()
