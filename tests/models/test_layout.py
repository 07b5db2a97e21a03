"""Fast by default: the networks run in channels_last_3d whatever their input's layout,
with the same state_dict and the same numbers (to float rounding) as the default layout."""

import copy

import pytest
import torch
from torch import nn

import mrstnet
from mrstnet.models.layout import (
    CL3D,
    is_channels_last,
    match_layout,
    plain_state_dict,
    use_fast_layout,
)
from mrstnet.models.ops import pointwise_conv

TINY = {
    "mrst_t_net": dict(width_mult=0.125, depths=(1, 1, 1, 1, 1), lstm_hidden=16, dropout=0.0),
    "c3d_mrst_p": dict(width_mult=0.125, fc_dim=16, dropout=0.0),
    "c3d": dict(width_mult=0.125, fc_dim=16, dropout=0.0),
}
CLIP = {"mrst_t_net": (2, 3, 4, 32, 32), "c3d_mrst_p": (2, 3, 8, 24, 24), "c3d": (2, 3, 8, 24, 24)}


def _pair(name):
    torch.manual_seed(0)
    fast = mrstnet.create_model(name, num_classes=5, **TINY[name])
    plain = copy.deepcopy(fast).to(memory_format=torch.contiguous_format)
    return fast, plain


def test_built_in_channels_last():
    fast, _ = _pair("mrst_t_net")
    kernels = [p for p in fast.parameters() if p.dim() == 5 and p.shape[2:].numel() > 1]
    assert kernels and all(is_channels_last(p) and not p.is_contiguous() for p in kernels)
    # 1×1×1 weights are contiguous in both layouts: they keep the default strides (DDP)
    points = [p for p in fast.parameters() if p.dim() == 5 and p.shape[2:].numel() == 1]
    assert points and all(p.stride() == torch.empty(p.shape).stride() for p in points)


def test_activations_channels_last_whatever_the_input():
    fast, plain = _pair("mrst_t_net")
    seen = []
    hook = fast.stages[2][1].register_forward_hook(lambda m, i, o: seen.append(o))
    fast(torch.randn(*CLIP["mrst_t_net"]))  # default layout in
    hook.remove()
    assert is_channels_last(seen[0]) and not seen[0].is_contiguous()
    # a plain-layout model keeps the plain layout, inputs included
    x = torch.randn(*CLIP["mrst_t_net"]).contiguous(memory_format=CL3D)
    assert match_layout(x, plain.stem) is x
    assert not is_channels_last(match_layout(torch.randn(2, 3, 4, 8, 8), plain.stem))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", list(TINY))
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_same_numbers_as_the_default_layout(name, train, dtype):
    """Logits, input gradient and every parameter gradient of the built model equal the
    default-layout model's, from an input in either layout: in float64 to 1e-9 (the same
    computation), in float32 to its rounding. Train mode amplifies it in these tiny nets (BN
    over a few positions): against float64, the default layout's gradients err by up to
    5e-4 of their largest value, channels_last_3d's by up to 1.2e-3 (measured)."""
    fast, plain = _pair(name)
    fast.to(dtype), plain.to(dtype)
    fast.train(train), plain.train(train)
    x = torch.randn(*CLIP[name], dtype=dtype)
    if dtype == torch.float64:
        rel_y = rel_g = 1e-9
    else:
        rel_y, rel_g = (1e-3, 3e-3) if train else (1e-5, 1e-4)
    results = []
    for model, inp in ((plain, x), (fast, x), (fast, x.contiguous(memory_format=CL3D))):
        model.zero_grad(set_to_none=True)
        inp = inp.clone().requires_grad_()
        out = model(inp)
        out.logsumexp(1).sum().backward()
        results.append((out.detach(), inp.grad, {n: p.grad for n, p in model.named_parameters()}))
    (y0, gx0, gp0), *rest = results
    for y, gx, gp in rest:
        assert (y - y0).abs().max() <= rel_y * y0.abs().max()
        assert (gx - gx0).abs().max() <= rel_g * gx0.abs().max()
        for n, g in gp0.items():
            err = (gp[n] - g).abs().max() / g.abs().max().clamp_min(1e-12)
            assert err < rel_g, f"{n}: relative error {err:.2e}"


def test_state_dict_same_keys_and_values_and_load_keeps_layouts():
    fast, plain = _pair("mrst_t_net")
    sd_fast, sd_plain = fast.state_dict(), plain.state_dict()
    assert list(sd_fast) == list(sd_plain)
    assert all(torch.equal(sd_fast[k], sd_plain[k]) for k in sd_fast)
    other_fast, other_plain = _pair("mrst_t_net")
    with torch.no_grad():
        for p in [*other_fast.parameters(), *other_plain.parameters()]:
            p.zero_()
    other_fast.load_state_dict(sd_plain)  # a plain checkpoint into the fast model
    other_plain.load_state_dict(sd_fast)  # and the other way round
    w = "stem.spatial.0.weight"
    assert is_channels_last(other_fast.state_dict()[w]) and not sd_plain[w].is_contiguous(
        memory_format=CL3D
    )
    assert other_plain.state_dict()[w].is_contiguous()
    for k in sd_fast:
        assert torch.equal(other_fast.state_dict()[k], sd_fast[k]), k
        assert torch.equal(other_plain.state_dict()[k], sd_fast[k]), k
    # files: plain layout, the same values
    saved = plain_state_dict(sd_fast)
    assert all(v.is_contiguous() and torch.equal(v, sd_fast[k]) for k, v in saved.items())


def test_to_keeps_the_layout_and_use_fast_layout_round_trips():
    fast, _ = _pair("mrst_t_net")
    w = fast.stem.spatial[0].weight
    fast.to(torch.float64)
    assert fast.stem.spatial[0].weight is w and is_channels_last(w) and w.dtype == torch.float64
    opt_params = list(fast.parameters())
    use_fast_layout(fast, channels_last=False)
    assert w.is_contiguous() and list(fast.parameters()) == opt_params  # same Parameters
    use_fast_layout(fast)
    assert is_channels_last(w) and not w.is_contiguous()


@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_conv_is_conv3d(bias):
    torch.manual_seed(0)
    conv = nn.Conv3d(6, 5, 1, bias=bias).double()
    x = torch.randn(2, 6, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=CL3D)
    y = pointwise_conv(x, conv.weight, conv.bias)
    assert is_channels_last(y)
    torch.testing.assert_close(y, conv(x))
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, w, *b: pointwise_conv(x, w, *b), (x, conv.weight, *([conv.bias] if bias else []))
    )
