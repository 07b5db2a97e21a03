"""Fixtures of the server tests: real servers in subprocesses, real videos written by PyAV.

The videos are the synthetic set's classes (mrstnet.data.synthetic) that the shipped demo
weights know: MoveLeft, MoveRight, MoveUp, MoveDown.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mrstnet.data.synthetic import class_video, write_video
from tests.data.media import write_bad_videos

from .client import Server, start_server

SERVE_EXTRA = ("fastapi", "uvicorn", "python_multipart")
MISSING = [m for m in SERVE_EXTRA if importlib.util.find_spec(m) is None]
TOKEN = "t0ken-for-tests-only"


# `pytestmark = needs_serve` in the modules that start a server
needs_serve = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the 'serve' extra is not installed ({', '.join(MISSING)}): "
    "pip install 'mrstnet[serve]'",
)


def clip_of(label: int, seed: int, frames: int, size: int = 80) -> np.ndarray:
    return class_video(label, np.random.default_rng(seed), frames, size)


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Good videos by name, and the bad ones of tests/data/media (by kind)."""
    root = tmp_path_factory.mktemp("serve_videos")
    out = {"left": root / "move_left.avi", "long": root / "left_up_right.avi"}
    write_video(out["left"], clip_of(0, 100, 24))  # the demo weights: MoveLeft, p ~ 0.95
    # 6 s: 2 s each of MoveLeft, MoveUp, MoveRight (a timeline with several segments)
    long = np.concatenate([clip_of(label, 7 + label, 50) for label in (0, 2, 1)])
    write_video(out["long"], long)
    # the same actions, larger, as VP8 in WebM (every Chromium plays it), for the page
    out["page"] = root / "left_up_right.webm"
    page = np.concatenate([clip_of(label, 7 + label, 50, 128) for label in (0, 2, 1)])
    write_video(out["page"], page, codec="libvpx")
    # 60 s of tiny frames: longer than the test server's --max-seconds, and 1500 windows
    # at a stride of one frame (more than the tight server's --timeout)
    out["minute"] = root / "minute.avi"
    write_video(out["minute"], clip_of(2, 3, 1500, 32))
    out.update(write_bad_videos(root / "bad"))
    return out


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """The shipped demo weights, no token, small limits."""
    s = start_server(
        tmp_path_factory.mktemp("server"),
        *("--max-upload-mb", "1", "--max-seconds", "20", "--threads", "1", "--workers", "2"),
    )
    yield s
    assert s.stop() == 0, s.logs()
    assert not list(s.tmp.iterdir()), "the server's temporary folder outlived it"


@pytest.fixture(scope="session")
def token_server(tmp_path_factory) -> Server:
    s = start_server(tmp_path_factory.mktemp("token_server"), "--threads", "1", token=TOKEN)
    yield s
    assert s.stop() == 0, s.logs()


@pytest.fixture(scope="session")
def tight_server(tmp_path_factory) -> Server:
    """One request at a time, two seconds each."""
    s = start_server(
        tmp_path_factory.mktemp("tight_server"),
        *("--queue", "1", "--timeout", "2", "--threads", "1", "--workers", "1"),
    )
    yield s
    assert s.stop() == 0, s.logs()
    assert not list(s.tmp.iterdir())
