"""mrstnet.optimize: same outputs as the original model; prepare_for_training: same step."""

import copy

import pytest
import torch
from torch import nn

import mrstnet
from mrstnet.engine.runtime import prepare_for_training, to_channels_last
from mrstnet.models.fuse import fold_batchnorm

TINY = dict(width_mult=0.125, depths=(1, 1, 1, 1, 1), lstm_hidden=16, num_classes=5)


def _randomize_bn(model: nn.Module, seed: int = 1) -> None:
    """Non-trivial running statistics and affine BN parameters, so folding is really tested."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)


CASES = [
    ("mrst_t_net", dict(TINY, head="lstm")),
    ("mrst_t_net", dict(TINY, head="avg", impl="reference")),
    ("mrst_p_net", dict(TINY, head="lstm")),
    ("mrst_s_net", dict(TINY, head="avg")),
    ("mrst_t_net_small", dict(num_classes=4, width_mult=0.125)),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_optimize_matches_original(name, kw):
    torch.manual_seed(0)
    model = mrstnet.create_model(name, **kw).eval()
    _randomize_bn(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ref = model(x)
    fast = mrstnet.optimize(model, x)
    assert not any(isinstance(m, nn.BatchNorm3d) for m in fast.modules()), "BN not folded"
    with torch.inference_mode():
        out = fast(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    # the original model is untouched: same weights, its own layout, still usable
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.stem.spatial[0].weight.is_contiguous(memory_format=torch.channels_last_3d)


def test_optimize_bf16_close():
    torch.manual_seed(0)
    model = mrstnet.create_model("mrst_t_net_small", num_classes=4, width_mult=0.125).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ref = model(x).softmax(-1)
    fast = mrstnet.optimize(model, dtype="bf16")
    with torch.inference_mode():
        out = fast(x)
    assert out.dtype == torch.float32
    assert (out.softmax(-1) - ref).abs().max() < 0.05


def test_fold_batchnorm_exact_on_convbn():
    from mrstnet.models.layers import ConvBN

    torch.manual_seed(0)
    m = ConvBN(4, 6, (1, 3, 3)).eval()
    _randomize_bn(m)
    x = torch.randn(2, 4, 3, 5, 5)
    with torch.no_grad():
        ref = m(x)
        out = fold_batchnorm(copy.deepcopy(m))(x)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("head", ["lstm", "avg"])
def test_training_step_matches_reference_layout(head):
    """The trainer's fast path (fast impl, channels_last_3d) gives the reference step's
    (literal formulation, default layout) loss and gradients, and leaves the state_dict
    loadable into a default-layout model."""
    torch.manual_seed(0)
    ref = mrstnet.create_model("mrst_t_net", impl="reference", **dict(TINY, head=head, dropout=0.0))
    ref.to(memory_format=torch.contiguous_format)
    fast = prepare_for_training(copy.deepcopy(ref))
    assert fast.stem.spatial[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    x, y = torch.randn(2, 3, 4, 32, 32), torch.tensor([1, 3])
    losses, grads = [], []
    for model, inp in ((ref, x), (fast, to_channels_last(x))):
        model.train()
        loss = nn.functional.cross_entropy(model(inp), y)
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    for name, g in grads[0].items():
        scale = g.abs().max().clamp_min(1e-6)
        err = (grads[1][name] - g).abs().max() / scale
        assert err < 1e-4, f"{name}: relative error {err:.2e}"
    # checkpoints: same keys and values; they load into a default-layout model
    sd_ref, sd_fast = ref.state_dict(), fast.state_dict()
    assert list(sd_ref) == list(sd_fast)
    plain = mrstnet.create_model("mrst_t_net", **dict(TINY, head=head))
    plain.to(memory_format=torch.contiguous_format)
    plain.load_state_dict(sd_fast)
    assert plain.stem.spatial[0].weight.is_contiguous()
    torch.testing.assert_close(plain.stem.spatial[0].weight, fast.stem.spatial[0].weight)


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_trainer_fused_optimizer_matches_plain(optimizer):
    """`fast=true` builds the fused optimizer kernels; a few steps land where the plain
    per-tensor loop (`fast=false`) does, to float rounding."""
    from mrstnet.engine.config import build_config
    from mrstnet.engine.train import make_optimizer

    torch.manual_seed(0)
    plain = mrstnet.create_model("mrst_t_net_small", num_classes=4, width_mult=0.125, dropout=0.0)
    fused = copy.deepcopy(plain)
    x, y = torch.randn(2, 3, 4, 32, 32), torch.tensor([1, 3])
    sets = [f"optimizer={optimizer}", "lr=0.01", "weight_decay=0.01"]
    opts = []
    for model, fast in ((plain, "false"), (fused, "true")):
        opt = make_optimizer(build_config(None, [*sets, f"fast={fast}"]), model)
        opts.append(opt)
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    assert opts[1].defaults.get("fused") and not opts[0].defaults.get("fused")
    for (name, p), q in zip(plain.named_parameters(), fused.parameters(), strict=True):
        # Adam's step lr·m/√v is scale-free: rounding in near-zero gradients moves a weight
        # by a small fraction of lr (0.01 here), so the bound is 1% of one step
        torch.testing.assert_close(
            q, p, rtol=1e-4, atol=1e-4, msg=lambda m, name=name: f"{name}: {m}"
        )
