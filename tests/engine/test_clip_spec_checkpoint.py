"""The clip spec through checkpoints: stored by training and read back as it was, checkpoints
from before the spec (the shipped demo.pt) still test and predict, and the config's flat
keys fill the spec."""

import pytest
import torch

from mrstnet.data import ClipSpec, load_clips
from mrstnet.deploy.weights import DEMO
from mrstnet.engine import runner  # its test_run is not a test
from mrstnet.engine.checkpoint import clip_spec_of, load_checkpoint, save_checkpoint
from mrstnet.engine.config import build_config, config_from_dict


def test_spec_round_trips_through_a_checkpoint_file(tmp_path):
    spec = ClipSpec(frames=8, frame_step=2, short_side=40, crop_size=32, num_clips=3, crops=3)
    path = save_checkpoint(tmp_path / "c.pt", {"data": spec.to_dict()})
    assert clip_spec_of(load_checkpoint(path)) == spec  # loaded with weights_only=True


def test_a_checkpoint_without_a_spec_says_so():
    with pytest.raises(ValueError, match="this checkpoint has no clip spec"):
        clip_spec_of({"model": {}, "state_dict": {}})


def test_config_keys_fill_the_spec_and_stay_flat():
    cfg = build_config("demo", ["frames=8", "flip=on", "frame_step=2"])
    assert cfg.clip == ClipSpec(frames=8, frame_step=2, short_side=72, crop_size=64, flip=True)
    stored = cfg.to_dict()  # what a checkpoint's `preset` holds: the preset's own flat keys
    assert "clip" not in stored and (stored["frames"], stored["flip"]) == (8, True)
    assert config_from_dict(stored) == cfg


@pytest.mark.parametrize(
    "pair, message",
    [
        ("num_clips=20", "unknown config keys ['num_clips']"),  # chosen when testing
        ("frames=0", "clip spec 'frames' must be an integer >= 1, not 0"),
        ("frames=abc", "config key 'frames': expected an integer, got 'abc'"),
    ],
)
def test_bad_clip_keys_in_a_config_name_the_key(pair, message):
    with pytest.raises(ValueError) as e:
        build_config("demo", [pair])
    assert message in str(e.value)


def test_shipped_demo_weights_hold_the_old_data_dict_and_still_load():
    ckpt = load_checkpoint(DEMO)
    # written before the spec: only the geometry, no test-time views, no flip
    assert set(ckpt["data"]) == {"frames", "frame_step", "short_side", "crop_size"}
    assert clip_spec_of(ckpt) == ClipSpec(frames=16, short_side=72, crop_size=64)


def test_old_checkpoint_tests_and_predicts(synthetic_root):
    m = runner.test_run(
        DEMO,
        dataset="ucf101",
        root=synthetic_root,
        clips=2,
        crops=3,
        num_workers=0,
        device="cpu",
        progress=False,
        log=lambda *a: None,
    )
    # the demo model knows these classes: far above chance (0.25) on fresh synthetic videos
    assert m["num_clips"] == m["num_videos"] * 6 and m["top1"] >= 0.5
    video = sorted(synthetic_root.glob("MoveUp/*.avi"))[0]
    [r] = runner.predict(DEMO, [str(video)], clips=2, crops=3, device="cpu")
    assert r["top"][0]["class"] == "MoveUp"
    # predict cut the clips that test did: the checkpoint's geometry, 2 clips x 3 crops
    spec = clip_spec_of(load_checkpoint(DEMO)).replace(num_clips=2, crops=3)
    assert load_clips(video, spec).shape == (6, 3, 16, 64, 64)
    assert load_clips(video, spec).dtype == torch.uint8
