"""Fixtures for the prediction tests: a tiny untrained checkpoint and tiny real videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrstnet.data.synthetic import write_video
from mrstnet.engine.checkpoint import save_checkpoint
from mrstnet.models import model_config
from tests.data.media import moving_frames, write_bad_videos
from tests.deploy.conftest import tiny_model

# class names a CSV or JSON writer must quote or keep: a comma, quotes, a non-ASCII letter
CLASSES = ["walk, fast", 'say "hi"', "café", "[jump]"]
# clips of 8 frames, short side resized to 40 then a 32x32 centre crop
DATA = {"frames": 8, "frame_step": 1, "short_side": 40, "crop_size": 32}


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    model = tiny_model(head="avg")
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    state = {
        "model": model_config(model),
        "state_dict": model.state_dict(),
        "classes": CLASSES,
        "data": DATA,
    }
    return save_checkpoint(path, state)


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory) -> Path:
    """Five short videos of different lengths and sizes, with awkward names, in a tree."""
    root = tmp_path_factory.mktemp("videos")
    (root / "sub dir").mkdir()
    specs = {
        "a.avi": (30, 48, 64),
        "b, with comma.avi": (12, 40, 40),
        'say "what".mp4': (20, 64, 48),
        "sub dir/ünïcode [1].avi": (5, 48, 64),  # shorter than a clip: frames loop
        "sub dir/z.mkv": (16, 48, 64),
    }
    for seed, (name, (n, h, w)) in enumerate(specs.items()):
        write_video(root / name, moving_frames(n, h, w, seed=seed), gop=4)
    return root


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    return write_bad_videos(tmp_path_factory.mktemp("bad"))
