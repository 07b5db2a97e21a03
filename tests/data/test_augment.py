"""The training augmentations: each op's shapes, dtypes and ranges, one draw per clip (the
same on every frame), determinism under the per-item seeding, flip off, mixup/cutmix
targets."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mrstnet.data import Augment, ClipSpec, VideoClipDataset, VideoRecord
from mrstnet.data.augment import (
    color_jitter,
    draw_frame_step,
    erase,
    mix_batch,
    msc_box,
    resized_crop,
    rrc_box,
)
from mrstnet.data.transforms import TrainTransform
from mrstnet.engine.config import build_config, list_presets
from mrstnet.engine.seeding import SeededItems, batch_rng

ALL_ON = Augment(
    rrc_scale=(0.3, 1.0),
    color_jitter=(0.4, 0.4, 0.4, 0.1),
    erase_p=1.0,
    frame_step_choices=(1, 2),
    mixup_alpha=0.4,
    cutmix_alpha=1.0,
)


def _clip(t=4, h=40, w=56, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, t, h, w), generator=g, dtype=torch.uint8)


def _still(t=4, h=40, w=56):
    """A clip whose frames are all the same picture."""
    return _clip(1, h, w).expand(3, t, h, w).contiguous()


@pytest.mark.parametrize("h, w", [(80, 80), (240, 320), (320, 180)])
def test_rrc_box_stays_inside_and_keeps_area_and_aspect(h, w):
    torch.manual_seed(0)
    for _ in range(200):
        top, left, bh, bw = rrc_box(h, w, (0.3, 1.0), (0.75, 4 / 3))
        assert top >= 0 and top + bh <= h and left >= 0 and left + bw <= w
        assert bh > 0 and bw > 0
        # rounding to pixels moves the area and aspect a little
        assert 0.3 * 0.9 <= bh * bw / (h * w) <= 1.0
        assert 0.75 * 0.9 <= bw / bh <= 4 / 3 * 1.1


def test_rrc_box_falls_back_to_a_centre_crop_within_the_aspect_range():
    torch.manual_seed(0)
    # a very wide frame: no box of the whole area has an aspect <= 4/3
    top, left, bh, bw = rrc_box(10, 100, (1.0, 1.0), (0.75, 4 / 3))
    assert (bh, bw) == (10, 13) and top == 0 and left == (100 - 13) // 2


def test_msc_box_sides_come_from_the_scales_one_step_apart():
    torch.manual_seed(0)
    scales = (1.0, 0.875, 0.75, 0.66)
    sides = [round(72 * s) for s in scales]
    seen = set()
    for _ in range(300):
        top, left, bh, bw = msc_box(72, 96, scales)
        assert bh in sides and bw in sides
        assert abs(sides.index(bh) - sides.index(bw)) <= 1
        assert top + bh <= 72 and left + bw <= 96
        seen.add((bh, bw))
    assert len(seen) == 10  # 4 squares + 3 x 2 neighbours


def test_resized_crop_shape_and_dtype():
    v = _clip()
    out = resized_crop(v, (3, 5, 20, 30), 16)
    assert out.shape == (3, 4, 16, 16) and out.dtype == torch.uint8
    assert torch.equal(resized_crop(v, (0, 0, 16, 16), 16), v[..., :16, :16])


def test_color_jitter_is_one_map_for_the_whole_clip():
    torch.manual_seed(1)
    still = _still()
    out = color_jitter(still, (0.4, 0.4, 0.4, 0.1))
    assert out.shape == still.shape and out.dtype == torch.uint8
    assert not torch.equal(out, still)
    for t in range(1, still.shape[1]):  # the same picture stays the same on every frame
        assert torch.equal(out[:, t], out[:, 0])


def test_color_jitter_factors():
    v = _clip()
    assert color_jitter(v, (0, 0, 0, 0)) is v
    torch.manual_seed(2)
    f = 1 + 0.5 * (2 * float(torch.rand(())) - 1)  # the brightness draw comes first
    torch.manual_seed(2)
    out = color_jitter(v, (0.5, 0, 0, 0))
    expected = (v.float() * f).clamp(0, 255).round().to(torch.uint8)
    assert torch.equal(out, expected)
    grey = torch.full((3, 2, 4, 4), 128, dtype=torch.uint8)
    torch.manual_seed(3)
    # saturation and hue leave grey grey (rounding aside)
    out = color_jitter(grey, (0, 0, 0.9, 0.5))
    assert (out.int() - 128).abs().max() <= 1


def test_hue_rotation_keeps_luma():
    # a pale colour: the rotated one stays inside [0, 255], so no clamping moves the luma
    torch.manual_seed(4)
    v = torch.tensor([[150], [110], [120]], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    out = color_jitter(v.contiguous(), (0, 0, 0, 0.25)).float()
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1, 1)
    assert (out * luma).sum(0).sub((v.float() * luma).sum(0)).abs().max() < 1.5
    assert not torch.equal(out, v.float())


def test_erase_is_one_static_box_of_the_right_size():
    torch.manual_seed(5)
    v = torch.zeros(3, 6, 48, 64, dtype=torch.uint8)
    assert erase(v, 0.0, (0.02, 0.25)) is v
    for _ in range(20):
        out = erase(v, 1.0, (0.02, 0.25))
        changed = (out != 0).any(0).any(0)  # (H, W): where any frame changed
        rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
        bh, bw = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
        assert 0.02 * 0.8 <= bh * bw / (48 * 64) <= 0.25 * 1.2
        for t in range(1, 6):
            assert torch.equal(out[:, t], out[:, 0])  # a static occluder, not motion
    assert torch.equal(v, torch.zeros_like(v))  # the input is not changed


def test_frame_step_draw():
    assert draw_frame_step((), 3) == 3
    torch.manual_seed(0)
    assert {draw_frame_step((1, 2, 4), 1) for _ in range(100)} == {1, 2, 4}


def test_train_transform_with_everything_on():
    t = TrainTransform(72, 64, augment=ALL_ON)
    for seed in range(5):
        torch.manual_seed(seed)
        out = t(_clip(16, 80, 100, seed))
        assert out.shape == (3, 16, 64, 64) and out.dtype == torch.uint8
        assert out.is_contiguous()
    torch.manual_seed(7)
    a = t(_clip())
    torch.manual_seed(7)
    assert torch.equal(a, t(_clip()))  # a function of the RNG state alone
    assert "rrc_scale=[0.3, 1.0]" in repr(t) and "flip=False" in repr(t)


def test_augment_off_draws_as_the_paper_crop():
    """All off: the same clip as before the augmentations existed (same draws)."""
    v = _clip(4, 80, 80)
    torch.manual_seed(3)
    a = TrainTransform(72, 64)(v)
    torch.manual_seed(3)
    b = TrainTransform(72, 64, augment=Augment())(v)
    assert torch.equal(a, b)


def test_flip_off_keeps_left_and_right():
    """A ramp that rises to the right still rises to the right after every crop: with
    flip off nothing mirrors the clip (direction classes keep their labels)."""
    ramp = torch.arange(100, dtype=torch.uint8).view(1, 1, 1, 100).expand(3, 4, 80, 100)
    t = TrainTransform(72, 64, flip=False, augment=Augment(rrc_scale=(0.3, 1.0), erase_p=0))
    for seed in range(30):
        torch.manual_seed(seed)
        out = t(ramp.contiguous()).int()
        assert (out[..., 1:] >= out[..., :-1]).all()


def test_direction_presets_keep_flip_off():
    for name in ("demo", "ablation", "humans_pretrain", "humans_finetune"):
        assert name in list_presets()
        assert build_config(name).clip.flip is False, name


def test_seeded_items_augment_the_same_whatever_the_rng(synthetic_root):
    """Per-item seeding covers the augmentations: frame step, crop, colour, erasing."""
    good = sorted(synthetic_root.glob("Move*/*.avi"))[:3]
    spec = ClipSpec(frames=4, short_side=24, crop_size=16)
    videos = [VideoRecord(p, 0) for p in good]
    items = SeededItems(VideoClipDataset(videos, ["a"], spec, train=True, augment=ALL_ON), 0)
    plain = SeededItems(VideoClipDataset(videos, ["a"], spec, train=True), 0)
    for i in range(3):
        torch.manual_seed(100 + i)
        a = items[i]["video"]
        torch.manual_seed(200 + i)
        assert torch.equal(a, items[i]["video"])
        assert a.shape == (3, 4, 16, 16) and a.dtype == torch.uint8
        assert not torch.equal(a, plain[i]["video"])
    seen = set()
    for epoch in range(4):
        items.epoch = epoch
        seen.add(items[0]["video"].numpy().tobytes())
    assert len(seen) == 4


def test_mixup_targets_sum_to_one_and_blend_the_clips():
    x = torch.randn(6, 3, 4, 8, 8)
    label = torch.tensor([0, 1, 2, 0, 1, 2])
    out, mix = mix_batch(x, Augment(mixup_alpha=0.4), np.random.default_rng(0))
    assert mix.kind == "mixup" and 0 <= mix.lam <= 1
    assert torch.allclose(out, mix.lam * x + (1 - mix.lam) * x.flip(0), atol=1e-6)
    t = mix.targets(label, 3)
    assert t.shape == (6, 3) and torch.allclose(t.sum(1), torch.ones(6))
    assert torch.allclose(
        t[0], mix.lam * F.one_hot(label[0], 3) + (1 - mix.lam) * F.one_hot(label[5], 3)
    )


def test_cutmix_pastes_one_box_on_every_frame_and_lam_is_the_kept_area():
    x = torch.zeros(4, 3, 5, 16, 16)
    x[2:] = 1  # items 2, 3 are ones: their box shows in items 1, 0
    aug = Augment(cutmix_alpha=1.0)
    for seed in range(10):
        out, mix = mix_batch(x, aug, np.random.default_rng(seed))
        assert mix.kind == "cutmix"
        pasted = out[0]  # zeros with the ones of item 3 in the box
        assert torch.equal(pasted, pasted[:, :1].expand_as(pasted))  # the same on every frame
        kept = 1 - float(pasted[0, 0].mean())
        assert mix.lam == pytest.approx(kept)
        assert torch.allclose(mix.targets(torch.tensor([0, 0, 1, 1]), 2).sum(1), torch.ones(4))


def test_mix_is_a_function_of_seed_step_and_rank():
    x = torch.randn(4, 3, 2, 8, 8)
    aug = Augment(mixup_alpha=0.4, cutmix_alpha=1.0, mix_p=0.7)
    draws = [mix_batch(x, aug, batch_rng(0, step, 0)) for step in range(40)]
    again = [mix_batch(x, aug, batch_rng(0, step, 0)) for step in range(40)]
    for (a, ma), (b, mb) in zip(draws, again, strict=True):
        assert torch.equal(a, b) and (ma is None) == (mb is None)
    kinds = {m.kind if m else None for _, m in draws}
    assert kinds == {"mixup", "cutmix", None}  # both kinds and unmixed batches (mix_p)
    other = [mix_batch(x, aug, batch_rng(0, step, 1))[1] for step in range(10)]
    assert [m and m.lam for m in other] != [m and m.lam for _, m in draws[:10]]
    assert mix_batch(x, Augment(), batch_rng(0, 0, 0)) == (x, None)


def test_soft_target_loss_composes_with_label_smoothing():
    """The step's loss on the soft targets is the lam-weighted loss of the two labels,
    label smoothing included."""
    logits = torch.randn(5, 4)
    label = torch.tensor([0, 1, 2, 3, 1])
    _, mix = mix_batch(
        torch.randn(5, 3, 1, 4, 4), Augment(mixup_alpha=1.0), np.random.default_rng(3)
    )
    soft = F.cross_entropy(logits, mix.targets(label, 4), label_smoothing=0.1)
    a = F.cross_entropy(logits, label, label_smoothing=0.1)
    b = F.cross_entropy(logits, label[mix.partner], label_smoothing=0.1)
    assert soft.item() == pytest.approx(mix.lam * a.item() + (1 - mix.lam) * b.item(), rel=1e-5)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(rrc_scale=(0.5, 0.2)), "rrc_scale"),
        (dict(rrc_scale=(0.5, 1.0), msc_scales=(1.0,)), "set one of them"),
        (dict(msc_scales=()), "msc_scales"),
        (dict(color_jitter=(0.1, 0.1, 0.1, 0.6)), "hue <= 0.5"),
        (dict(erase_p=1.5), "erase_p"),
        (dict(mixup_alpha=-1.0), "mixup_alpha"),
        (dict(frame_step_choices=(0, 1)), "frame_step_choices"),
    ],
)
def test_bad_settings_name_their_key(changes, message):
    with pytest.raises(ValueError, match=message):
        Augment(**changes)


def test_rrc_area_is_uniform_in_its_range():
    torch.manual_seed(0)
    areas = [
        (lambda b: b[2] * b[3] / 6400)(rrc_box(80, 80, (0.2, 1.0), (1.0, 1.0))) for _ in range(2000)
    ]
    assert abs(np.mean(areas) - 0.6) < 0.02 and min(areas) < 0.25 and max(areas) > 0.95
    assert math.isclose(np.median(areas), 0.6, abs_tol=0.04)
