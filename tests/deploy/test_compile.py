import pytest
import torch

import mrstnet


@pytest.mark.slow  # inductor compiles C++ kernels: ~20-90 s on a shared 2-core CPU
@pytest.mark.parametrize("head", ["avg", "lstm"])
def test_compile_inference_matches_eager(head):
    """torch.compile of a registered model (fast impl, with its custom autograd Function).
    Every registered model at full size: benchmarks/compile_check.py."""
    torch.manual_seed(0)
    model = mrstnet.create_model(
        "mrst_t_net",
        num_classes=4,
        stem_width=8,
        widths=(8, 8),
        out_channels=(16, 16),
        depths=(1, 1),
        head=head,
        lstm_hidden=16,
    ).eval()
    x = torch.randn(2, 3, 4, 16, 16)
    with torch.no_grad():
        expected = model(x)
        got = torch.compile(model)(x)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    torch._dynamo.reset()
