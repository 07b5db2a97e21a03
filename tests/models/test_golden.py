"""The networks still compute what they computed when ``data/golden.pt`` was written.

See ``make_golden.py`` (the generator): same ``state_dict`` keys, bit-identical logits and
gradients for the plain forward and backward in the default memory layout (on the CPU
instruction set the file was written on, AVX2; to float32 rounding on others), float32
rounding for ``mrstnet.optimize`` and for the networks' own layout (channels_last_3d: the
same operations, but oneDNN's convolutions and the 1×1×1 convs as matrix products sum in
another order, so only the rounding differs).
"""

import pytest
import torch

from .make_golden import GOLDEN, compute


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def now():
    return compute(layout="plain")


@pytest.fixture(scope="module")
def now_fast():
    return compute(layout="fast")


def _close(got: torch.Tensor, expected: torch.Tensor, name: str, rel: float = 1e-5) -> None:
    """Equal to float32 rounding, relative to the tensor's largest value (per-parameter
    gradient sums may cancel to near zero, so an element's own size is no scale)."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=rel * scale, msg=name)


# Float32 rounding in the fast layout, by figure. Train-mode logits of the tiny C3D are
# ~5e-4 and come out of BN over a few positions, which amplifies rounding: against float64
# the default layout errs by 1e-4 of their largest value there, channels_last_3d by 3-5e-4
# (measured); gradient sums by up to 4e-5; everything else by under 1e-5.
FAST_LAYOUT_REL = {"train": 1e-3, "grads": 1e-4}


def test_state_dict_keys_unchanged(golden, now):
    assert now["keys"].keys() == golden["keys"].keys()
    for name, keys in golden["keys"].items():
        assert now["keys"][name] == keys, name


def _same(golden, now, got, expected, name) -> bool:
    """Bit-identical on the instruction set the file was written on (oneDNN and ATen pick
    their kernels by it: AVX2 and AVX-512 sum in other orders); elsewhere equal to float32
    rounding, as the fast layout."""
    if now["cpu_capability"] == golden["cpu_capability"]:
        return torch.equal(got, expected)
    try:
        _close(got, expected, name, FAST_LAYOUT_REL.get(name.rsplit("/", 1)[-1], 1e-5))
    except AssertionError:
        return False
    return True


def test_shipped_demo_weights_same_logits(golden, now):
    assert _same(golden, now, now["demo"], golden["demo"], "demo")


def test_every_unit_bit_identical(golden, now):
    """Bit-identical where the file was written (see _same)."""
    assert now["units"].keys() == golden["units"].keys()
    units = golden["units"].items()
    changed = [k for k, v in units if not _same(golden, now, now["units"][k], v, k)]
    assert not changed, f"outputs changed: {changed}"


def test_optimize_same_to_rounding(golden, now):
    assert now["optimize"].keys() == golden["optimize"].keys()
    for name, expected in golden["optimize"].items():
        _close(now["optimize"][name], expected, name)


def test_fast_layout_same_to_rounding(golden, now_fast):
    """What ``create_model`` gives (channels_last_3d): the same keys, and every figure of the
    file to float32 rounding."""
    assert now_fast["keys"] == golden["keys"]
    _close(now_fast["demo"], golden["demo"], "demo")
    for part in ("units", "optimize"):
        assert now_fast[part].keys() == golden[part].keys()
        for name, expected in golden[part].items():
            rel = FAST_LAYOUT_REL.get(name.rsplit("/", 1)[-1], 1e-5)
            _close(now_fast[part][name], expected, name, rel)
