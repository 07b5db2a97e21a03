"""STD+STF (Table 2's "STD (with STF)") is Eq. 4–7 with S~ = S and T~ = T, in training.

The ablation backbone with this unit is checked against a rewrite of the equations in plain
autograd ops, in float64 (no rounding to hide behind): the logits and every parameter's
gradient, for both implementations and both memory layouts."""

import copy

import pytest
import torch
import torch.nn.functional as F

from mrstnet.models import Tube, create_model


def _plain_fuse(tube: Tube, x: torch.Tensor) -> torch.Tensor:
    """X* = S ⊙ σ(GAP(S)) + T ⊙ σ(GAP(T)) (Eq. 4–7), GAP as a mean over L×H×W."""
    x = tube.reduce(x)
    s, t = tube.spatial(x), tube.temporal(x)
    g_s = torch.sigmoid(s.mean(dim=(2, 3, 4)))[..., None, None, None]
    g_t = torch.sigmoid(t.mean(dim=(2, 3, 4)))[..., None, None, None]
    return s * g_s + t * g_t


def _logits_and_grads(model, x, y):
    model.zero_grad(set_to_none=True)
    logits = model(x)
    F.cross_entropy(logits, y).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("layout", ["contiguous", "channels_last_3d"])
@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_std_stf_backbone_is_eq_4_to_7_in_training(impl, layout):
    torch.manual_seed(0)
    model = create_model(
        "c3d_std_stf", num_classes=3, width_mult=0.125, fc_dim=16, dropout=0.0, impl=impl
    )
    model = model.double().train()
    plain = copy.deepcopy(model)
    for m in plain.modules():
        if isinstance(m, Tube):
            m.fuse = _plain_fuse.__get__(m)
    x = torch.randn(3, 3, 8, 32, 32, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    want_logits, want = _logits_and_grads(plain, x, y)
    if layout == "channels_last_3d":
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    logits, got = _logits_and_grads(model, x, y)
    torch.testing.assert_close(logits, want_logits, rtol=1e-10, atol=1e-12)
    for name, g in want.items():
        assert g.abs().max() > 0, f"{name}: no gradient"
        torch.testing.assert_close(got[name], g, rtol=1e-8, atol=1e-12, msg=name)


def test_std_stf_gate_reads_the_tubes_own_s_and_t():
    torch.manual_seed(0)
    tube = Tube(8, 16, 4, unit="std_stf").train()
    seen = {}
    tube.spatial.register_forward_hook(lambda m, a, o: seen.__setitem__("s", o.clone()))
    tube.temporal.register_forward_hook(lambda m, a, o: seen.__setitem__("t", o.clone()))
    tube.unit.gate.register_forward_hook(lambda m, a, o: seen.__setitem__("z", a[2:]))
    tube(torch.randn(2, 8, 4, 6, 6))
    torch.testing.assert_close(seen["z"][0], seen["s"].mean(dim=(2, 3, 4)))
    torch.testing.assert_close(seen["z"][1], seen["t"].mean(dim=(2, 3, 4)))
