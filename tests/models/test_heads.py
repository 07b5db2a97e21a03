import pytest
import torch
from torch import nn

from mrstnet.models.heads import SlicedAdaptiveAvgPool3d, max_pool_2x2

# (L, H, W) in, output size: divisible, non-divisible, smaller than the output, None axes
CASES = [
    ((1, 4, 4), (1, 4, 4)),  # C3D at 112: the identity
    ((1, 2, 2), (1, 4, 4)),  # C3D at 64: bins overlap
    ((1, 7, 7), (1, 4, 4)),  # C3D at 224
    ((2, 3, 5), (1, 4, 4)),
    ((3, 9, 6), (2, 4, 3)),
    ((5, 13, 1), (None, 4, 4)),
]


@pytest.mark.parametrize(("shape", "size"), CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sliced_adaptive_avg_pool_matches_torch(shape, size, dtype):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *shape, dtype=dtype, requires_grad=True)
    ours, theirs = SlicedAdaptiveAvgPool3d(size), nn.AdaptiveAvgPool3d(size)
    got, expected = ours(x), theirs(x)
    tol = 1e-6 if dtype == torch.float32 else 1e-13  # summation order only
    torch.testing.assert_close(got, expected, atol=tol, rtol=tol)
    g = torch.randn_like(expected)
    (grad_ours,) = torch.autograd.grad(got, x, g)
    (grad_theirs,) = torch.autograd.grad(expected, x, g)
    torch.testing.assert_close(grad_ours, grad_theirs, atol=tol, rtol=tol)
    assert repr(ours) == repr(theirs).replace("Adaptive", "SlicedAdaptive")


def test_max_pool_2x2_matches_torch():
    x = torch.randn(2, 3, 4, 5, 1)
    torch.testing.assert_close(max_pool_2x2(x), nn.AdaptiveMaxPool3d((None, 2, 2))(x))
