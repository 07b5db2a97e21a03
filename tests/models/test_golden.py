"""The networks still compute what they computed when ``data/golden.pt`` was written.

See ``make_golden.py`` (the generator): same ``state_dict`` keys, bit-identical logits and
gradients for the plain forward and backward, float32 rounding for ``mrstnet.optimize``.
"""

import pytest
import torch

from .make_golden import GOLDEN, compute


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def now():
    return compute()


def test_state_dict_keys_unchanged(golden, now):
    assert now["keys"].keys() == golden["keys"].keys()
    for name, keys in golden["keys"].items():
        assert now["keys"][name] == keys, name


def test_shipped_demo_weights_same_logits(golden, now):
    assert torch.equal(now["demo"], golden["demo"])


def test_every_unit_bit_identical(golden, now):
    assert now["units"].keys() == golden["units"].keys()
    changed = [k for k, v in golden["units"].items() if not torch.equal(now["units"][k], v)]
    assert not changed, f"outputs changed: {changed}"


def test_optimize_same_to_rounding(golden, now):
    assert now["optimize"].keys() == golden["optimize"].keys()
    for name, expected in golden["optimize"].items():
        scale = expected.abs().max().item()
        torch.testing.assert_close(
            now["optimize"][name], expected, rtol=1e-4, atol=1e-5 * scale, msg=name
        )
