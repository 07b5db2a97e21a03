import pytest
import torch

from mrstnet.data.transforms import (
    MEAN,
    STD,
    EvalTransform,
    TrainTransform,
    center_crop,
    hflip,
    normalize,
    resize_short_side,
    three_crop,
)


def test_resize_crop_flip_shapes():
    v = torch.randint(0, 256, (3, 4, 240, 320), dtype=torch.uint8)
    r = resize_short_side(v, 128)
    assert r.shape == (3, 4, 128, 171) and r.dtype == torch.uint8
    assert center_crop(r, 112).shape == (3, 4, 112, 112)
    assert [c.shape[-1] for c in three_crop(r, 112)] == [112] * 3
    assert torch.equal(hflip(hflip(v)), v)
    assert TrainTransform(128, 112)(v).shape == (3, 4, 112, 112)
    assert EvalTransform(256, 224, crops=3)(v, 2).shape == (3, 4, 224, 224)


def test_normalize_values_and_memory_format():
    v = torch.full((2, 3, 2, 4, 4), 255, dtype=torch.uint8)
    out = normalize(v)
    assert out.dtype == torch.float32
    expected = [(1 - m) / s for m, s in zip(MEAN, STD, strict=True)]
    assert out[0, :, 0, 0, 0].tolist() == pytest.approx(expected, rel=1e-5)
    cl = v.contiguous(memory_format=torch.channels_last_3d)
    assert normalize(cl).is_contiguous(memory_format=torch.channels_last_3d)
    with pytest.raises(TypeError):
        normalize(v.float())
