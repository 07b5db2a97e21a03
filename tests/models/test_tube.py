import copy

import pytest
import torch

from mrstnet.models.ops import gap
from mrstnet.models.tube import Block, Tube, make_tube
from mrstnet.models.units import UNITS

MRST = ["mrst_p", "mrst_s", "mrst_t"]


def _pair(unit, seed=0, **kw):
    torch.manual_seed(seed)
    ref = Block(16, 24, 8, unit=unit, impl="reference", **kw)
    fast = copy.deepcopy(ref)
    for m in fast.modules():
        if isinstance(m, Tube):
            m.impl = "fast"
    return ref, fast


def _run(block, x, grad):
    x = x.clone().requires_grad_()
    y = block(x)
    y.backward(grad)
    grads = {n: p.grad.clone() for n, p in block.named_parameters()}
    return y.detach(), x.grad, grads


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("unit", MRST)
def test_fast_matches_reference(unit, train):
    ref, fast = _pair(unit)
    ref.train(train), fast.train(train)
    if not train:  # non-trivial running statistics
        for m in [*ref.modules(), *fast.modules()]:
            if isinstance(m, torch.nn.BatchNorm3d):
                torch.manual_seed(1)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 16, 4, 8, 8)
    grad = torch.randn(2, 24, 4, 8, 8)
    y_r, gx_r, gp_r = _run(ref, x, grad)
    y_f, gx_f, gp_f = _run(fast, x, grad)
    torch.testing.assert_close(y_f, y_r, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_f, gx_r, rtol=1e-4, atol=1e-5)
    assert gp_r.keys() == gp_f.keys()
    for name in gp_r:
        scale = gp_r[name].abs().max().clamp_min(1e-6)
        err = (gp_f[name] - gp_r[name]).abs().max() / scale
        assert err < 1e-4, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("unit", MRST)
def test_same_parameters_in_both_impls(unit):
    ref, fast = _pair(unit)
    assert ref.state_dict().keys() == fast.state_dict().keys()
    names = {n.split(".")[1] for n, _ in ref.named_parameters() if n.startswith("tube.")}
    assert {"spatial", "temporal", "ss", "ts", "st", "tt"} <= names


@pytest.mark.parametrize("impl", ["reference", "fast"])
@pytest.mark.parametrize("unit", list(UNITS))
def test_gradcheck_float64(unit, impl):
    torch.manual_seed(0)
    tube = make_tube(3, 4, 3, unit=unit, impl=impl).double()
    x = torch.randn(2, 3, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    params = tuple(p for p in tube.parameters())
    names = [n for n, _ in tube.named_parameters()]

    def f(x, *ps):
        return torch.func.functional_call(tube, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


def test_stem_tube_shapes():
    tube = Tube(3, 16, 16, unit="mrst_t", spatial_kernel=7, stride=(1, 2, 2), bottleneck=False)
    assert tube(torch.randn(1, 3, 4, 16, 16)).shape == (1, 16, 4, 8, 8)


def test_std_is_sum_of_paths():
    torch.manual_seed(0)
    tube = Tube(8, 8, 4, unit="std", bottleneck=False).eval()
    x = torch.randn(1, 8, 3, 5, 5)
    torch.testing.assert_close(tube(x), tube.spatial(x) + tube.temporal(x))


@pytest.mark.parametrize("unit", MRST)
def test_channels_last_3d(unit):
    ref, fast = _pair(unit)
    x = torch.randn(2, 16, 4, 8, 8)
    expected = ref(x)
    for block in (ref, fast):
        block.to(memory_format=torch.channels_last_3d)
        out = block(x.to(memory_format=torch.channels_last_3d))
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
        out.sum().backward()


@pytest.mark.parametrize("unit", MRST)
def test_bf16_autocast_paths(unit):
    ref, fast = _pair(unit)
    x = torch.randn(2, 16, 4, 8, 8)
    expected = ref(x)
    for block in (ref, fast):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = block(x)
        assert out.dtype == torch.bfloat16
        torch.testing.assert_close(out.float(), expected, rtol=0.1, atol=0.1)
        out.float().sum().backward()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown unit 'mrst_x'; choose from c3d, std"):
        Tube(4, 4, 4, unit="mrst_x")
    with pytest.raises(ValueError, match="unknown unit"):
        make_tube(4, 4, 4, unit="mrst_x")
    with pytest.raises(ValueError, match="unknown impl"):
        Tube(4, 4, 4, impl="slow")
    with pytest.raises(ValueError, match="whole tube"):
        Tube(4, 4, 4, unit="c3d")


def test_gap_backward_is_means_backward():
    """`gap` hands back an expanded view of grad / positions: the same gradient as
    `mean`'s, bit for bit, in both memory layouts; gradcheck in float64."""
    for fmt in (torch.contiguous_format, torch.channels_last_3d):
        u = torch.randn(2, 5, 3, 4, 6).contiguous(memory_format=fmt).requires_grad_()
        w = torch.randn(2, 5)
        (g_ours,) = torch.autograd.grad((gap(u) * w).sum(), u)
        (g_mean,) = torch.autograd.grad((u.mean(dim=(-3, -2, -1)) * w).sum(), u)
        assert torch.equal(g_ours, g_mean)
    u64 = torch.randn(2, 3, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gap, (u64,))
