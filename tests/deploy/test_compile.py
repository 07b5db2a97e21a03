import copy

import pytest
import torch
import torch.nn.functional as F

import mrstnet


def _tiny_mrst_t_net(**kwargs):
    """MRST-T-Net at two tiny stages: the same code paths, compiled in seconds."""
    return mrstnet.create_model(
        "mrst_t_net",
        num_classes=4,
        stem_width=8,
        widths=(8, 8),
        out_channels=(16, 16),
        depths=(1, 1),
        **kwargs,
    )


@pytest.mark.slow  # inductor compiles C++ kernels: ~20-90 s on a shared 2-core CPU
@pytest.mark.parametrize("head", ["avg", "lstm"])
def test_compile_inference_matches_eager(head):
    """torch.compile of a registered model (fast impl, with its custom autograd Function).
    Every registered model at full size: benchmarks/compile_check.py."""
    torch.manual_seed(0)
    model = _tiny_mrst_t_net(head=head, lstm_hidden=16).eval()
    x = torch.randn(2, 3, 4, 16, 16)
    with torch.no_grad():
        expected = model(x)
        got = torch.compile(model)(x)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    torch._dynamo.reset()


@pytest.mark.slow  # compiles forward and backward: ~35 s cold on a shared 2-core CPU
def test_compile_training_step_matches_eager():
    """One training step as the trainer takes it with `compile: true` (the model compiled;
    loss, backward and the Adam step eager) gives eager's loss, gradients, updated
    parameters and BN running statistics. Through the fast path's custom autograd Function
    (MRST-T). Dropout 0: inductor draws other random numbers than eager."""
    torch.manual_seed(0)
    model = _tiny_mrst_t_net(head="avg", dropout=0.0).train()
    eager = copy.deepcopy(model)
    x, y = torch.randn(4, 3, 8, 16, 16), torch.arange(4)

    def step(module, params):
        opt = torch.optim.Adam(params, lr=1e-2)
        loss = F.cross_entropy(module(x), y)
        loss.backward()
        grads = [p.grad.clone() for p in params]
        opt.step()
        return loss.detach(), grads

    loss, grads = step(torch.compile(model), list(model.parameters()))
    loss_eager, grads_eager = step(eager, list(eager.parameters()))
    torch._dynamo.reset()
    torch.testing.assert_close(loss, loss_eager, atol=1e-5, rtol=1e-5)
    for g, g_eager in zip(grads, grads_eager, strict=True):
        torch.testing.assert_close(g, g_eager, atol=1e-5, rtol=1e-4)
    state, state_eager = model.state_dict(), eager.state_dict()  # parameters and BN buffers
    for k in state:
        torch.testing.assert_close(state[k], state_eager[k], atol=1e-5, rtol=1e-4, msg=k)
