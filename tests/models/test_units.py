"""The unit table: a unit defined here alone joins every network, optimize and the tools."""

import pytest
import torch
from torch import nn

import mrstnet
from mrstnet.deploy.visualize import feature_maps
from mrstnet.engine.ablate import model_for
from mrstnet.models import UNITS, list_units, model_config, model_from_config, register_unit
from mrstnet.models.units import Gated

SMALL = dict(num_classes=4, width_mult=0.125, dropout=0.0)


class Toy(Gated):
    """S~ = S, T~ = mix(T) + S: a gated unit with one 1×1×1 layer of its own."""

    def layers(self, width: int) -> dict[str, nn.Module]:
        return {"mix": nn.Conv3d(width, width, kernel_size=1)}

    def reinforce(self, s, t, mix):
        return s, mix(t) + s


@pytest.fixture
def toy():
    register_unit("toy", label="Toy")(Toy)
    yield "toy"
    del UNITS["toy"]


def test_table_is_table2():
    assert list_units() == ["c3d", "std", "std_stf", "mrst_p", "mrst_s", "mrst_t"]
    labels = [UNITS[u].label for u in list_units()]
    assert labels == ["C3D", "STD", "STD+STF", "MRST-P", "MRST-S", "MRST-T"]
    assert UNITS["mrst_t"].table2 == (92.2, 68.9, 211)


def test_a_name_is_registered_once(toy):
    with pytest.raises(ValueError, match="already registered"):
        register_unit("toy")(Toy)


@pytest.mark.parametrize("name", ["mrst_t_net_small", "c3d"])
def test_toy_unit_trains_one_step(toy, name):
    torch.manual_seed(0)
    extra = dict(fc_dim=32) if name == "c3d" else {}
    model = mrstnet.create_model(name, unit=toy, **SMALL, **extra).train()
    assert any(k.endswith(".mix.weight") for k in model.state_dict())
    frames = 8 if name == "c3d" else 4
    x, y = torch.randn(2, 3, frames, 32, 32), torch.tensor([1, 3])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not no_grad, f"no gradient for {no_grad}"
    assert all(not torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_toy_unit_rebuilds_optimizes_and_shows_its_maps(toy):
    torch.manual_seed(0)
    model = mrstnet.create_model("mrst_t_net_small", unit=toy, **SMALL).eval()
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        expected = model(x)
    again = model_from_config(model_config(model))  # what a checkpoint stores
    again.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), expected)
    with torch.inference_mode():
        fast = mrstnet.optimize(model)(x)
    torch.testing.assert_close(fast, expected, rtol=1e-4, atol=1e-5)
    _, maps, _ = feature_maps(model, x, "stem")
    torch.testing.assert_close(maps["S~"], maps["S"])
    torch.testing.assert_close(maps["T~"], model.stem.mix(maps["T"][None])[0] + maps["S"])
    assert model_for(toy) == ("c3d", ["model_args.unit=toy"])  # no c3d_toy builder
    assert model_for("mrst_s") == ("c3d_mrst_s", [])


def test_reference_and_fast_agree_for_a_unit_without_a_pooled_shortcut(toy):
    torch.manual_seed(0)
    ref = mrstnet.create_model("mrst_t_net_small", unit=toy, impl="reference", **SMALL)
    fast = mrstnet.models.set_impl(
        mrstnet.create_model("mrst_t_net_small", unit=toy, **SMALL), "fast"
    )
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    torch.testing.assert_close(fast(x), ref(x))


def test_a_unit_cannot_shadow_a_tube_part():
    class Bad(Gated):
        def layers(self, width):
            return {"spatial": nn.Identity()}

        def reinforce(self, s, t, spatial):
            return s, t

    register_unit("bad")(Bad)
    try:
        with pytest.raises(ValueError, match="names a layer 'spatial'"):
            mrstnet.create_model("mrst_t_net_small", unit="bad")
    finally:
        del UNITS["bad"]
