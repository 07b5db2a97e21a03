import json

import pytest
import torch

import mrstnet
from mrstnet.models import model_config, model_from_config, set_impl

TINY = {
    "c3d": dict(width_mult=0.125, fc_dim=32),
    "mrst_net": dict(width_mult=0.125, depths=(1, 1, 1, 1, 1), lstm_hidden=16),
}


def tiny(name, **kw):
    arch = "c3d" if name.startswith("c3d") else "mrst_net"
    return mrstnet.create_model(name, num_classes=5, **{**TINY[arch], **kw})


def clip(model, n=2):
    frames = 16 if model.config.arch == "c3d" else 4
    return torch.randn(n, 3, frames, 32, 32)


@pytest.mark.parametrize("name", mrstnet.list_models())
def test_forward_backward(name):
    torch.manual_seed(0)
    model = tiny(name).train()
    out = model(clip(model))
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("name", ["c3d_mrst_t", "mrst_t_net", "mrst_p_net"])
def test_config_round_trip_and_impl_swap(name):
    model = tiny(name).eval()
    cfg = model_config(model)
    cfg = json.loads(json.dumps(cfg))  # what a checkpoint stores
    assert cfg["arch"] == model.config.arch
    other = set_impl(model_from_config({**cfg, "impl": "reference"}), "reference").eval()
    other.load_state_dict(model.state_dict())  # same keys for both impls
    x = clip(model)
    torch.testing.assert_close(other(x), model(x), rtol=1e-4, atol=1e-5)


def test_timm_interface():
    model = tiny("mrst_t_net", head="avg").eval()
    x = clip(model)
    feats = model.forward_features(x)
    assert feats.dim() == 5 and feats.shape[2] == x.shape[2]  # time is never pooled
    torch.testing.assert_close(model.forward_head(feats), model(x))
    model.reset_classifier(7)
    assert model(x).shape == (2, 7) and model.num_classes == 7 == model.config.num_classes
    assert model.default_input == (16, 224)


def test_other_input_sizes():
    model = tiny("c3d_std").eval()
    assert model(torch.randn(1, 3, 8, 48, 40)).shape == (1, 5)
    model = tiny("mrst_s_net").eval()
    assert model(torch.randn(1, 3, 3, 40, 24)).shape == (1, 5)


def test_paper_configs_and_parameter_counts():
    with torch.device("meta"):
        net = mrstnet.create_model("mrst_t_net")
        c3d = mrstnet.create_model("c3d")
    cfg = net.config
    assert (cfg.widths, cfg.out_channels, cfg.depths) == (
        (64, 64, 128, 256, 256),
        (128, 256, 512, 512, 512),
        (3, 4, 12, 11, 3),
    )
    assert (cfg.head, cfg.lstm_hidden, cfg.num_classes) == ("lstm", 1024, 400)
    assert net.head.lstm.input_size == 2048
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(net) == 36_949_520  # paper: 31.7M, see README "Models"
    assert count(c3d) == 79_993_767  # paper: 79.0M (C3D, 487 classes) / "321M" bytes
    assert c3d.default_input == (16, 112)


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        mrstnet.create_model("resnet50")


@pytest.mark.parametrize(
    ("name", "unit"), [("mrst_t_net", "mrst_p"), ("mrst_t_net_small", "std"), ("c3d", "mrst_s")]
)
def test_keyword_overrides_builder_default(name, unit):
    model = tiny(name, unit=unit)
    assert model.config.unit == unit
    first = model.stem if name.startswith("mrst") else model.features[0]
    assert (first.unit if hasattr(first, "unit") else first).name == unit
    if name == "mrst_t_net_small":  # the builder's other defaults stay
        assert (model.config.head, model.config.size) == ("avg", 112)


@pytest.mark.parametrize("name", ["mrst_t_net", "c3d_std"])
def test_bad_keywords_are_value_errors(name):
    with pytest.raises(ValueError, match="'arch' cannot be overridden"):
        mrstnet.create_model(name, arch="c3d")
    with pytest.raises(ValueError, match=r"keyword\(s\) 'bogus'; valid: unit, num_classes, "):
        mrstnet.create_model(name, bogus=1)


def test_c3d_head_pool_keeps_state_dict_and_outputs():
    """The export-friendly pool before fc6 is a drop-in for nn.AdaptiveAvgPool3d: same
    (parameter-free) state_dict keys, so existing checkpoints load, and the same scores
    at sizes where fc6 sees an upsampled (64), identity (112) or averaged (160) map."""
    torch.manual_seed(0)
    model = tiny("c3d_mrst_t").eval()
    old = tiny("c3d_mrst_t").eval()
    old.pool = torch.nn.AdaptiveAvgPool3d((1, 4, 4))
    old.load_state_dict(model.state_dict())  # strict: the same keys
    for size in (64, 112, 160):
        x = torch.randn(1, 3, 16, size, size)
        torch.testing.assert_close(model(x), old(x), atol=1e-5, rtol=1e-5)


def test_c3d_fc_norm_is_batch_norm_in_the_head_and_travels_in_the_config():
    """`fc_norm` puts BN after fc6 and fc7 (off by default: the paper's C3D keeps its
    state_dict keys); a checkpoint's config rebuilds it; in train mode no fc6 unit can be
    negative for every clip of a batch (BN centres each unit over the batch), which is what
    kept the narrow ablation backbone from dying (docs/ablation.md)."""
    torch.manual_seed(0)
    plain = tiny("c3d_mrst_t")
    assert not [k for k in plain.state_dict() if "norm6" in k or "norm7" in k]
    model = tiny("c3d_mrst_t", fc_norm=True).train()
    assert isinstance(model.norm6, torch.nn.BatchNorm1d) and model.norm7.num_features == 32
    with torch.no_grad():  # an fc6 pushed far negative, as AdamW left the dead runs
        model.fc6.bias.fill_(-100.0)
    seen = {}
    model.norm6.register_forward_hook(lambda m, i, o: seen.update(out=o))
    model(clip(model, n=4))
    assert (seen["out"] > 0).any(0).all()  # every unit alive for some clip
    rebuilt = model_from_config(model_config(model))
    rebuilt.load_state_dict(model.state_dict())  # strict
    x = clip(model)
    torch.testing.assert_close(rebuilt.eval()(x), model.eval()(x))


def test_model_from_config_reads_the_one_registry():
    """A stored config names its family (``arch``); missing fields take the config
    dataclass's defaults; an unknown family or field is a ValueError naming it."""
    with torch.device("meta"):
        model = model_from_config({"arch": "mrst_net", "depths": [1, 1, 1, 1, 1]})
    assert type(model).__name__ == "MRSTNet" and model.config.unit == "mrst_t"
    assert model.config.depths == (1, 1, 1, 1, 1) and model.config.widths[0] == 64
    with pytest.raises(ValueError, match="unknown architecture 'resnet'; known: c3d, mrst_net"):
        model_from_config({"arch": "resnet"})
    with pytest.raises(ValueError, match=r"unknown c3d config fields: \['bogus'\]"):
        model_from_config({"arch": "c3d", "bogus": 1})


def test_a_model_name_is_registered_once():
    from mrstnet.models import C3D, C3DConfig, register_model

    with pytest.raises(ValueError, match="'c3d' is already registered"):

        @register_model(C3D, C3DConfig)
        def c3d(**kwargs):
            return C3D(C3DConfig(**kwargs))
