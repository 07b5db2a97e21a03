"""Sliding windows from one front-to-back pass: the same clips as the seeking reader gives,
a ring buffer that never holds more than a window's span, a clear error for bad sources."""

import socket
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from mrstnet.data.sampling import clip_indices
from mrstnet.data.stream import (
    Frame,
    FrameSource,
    SourceError,
    Windower,
    iter_windows,
    stride_frames,
)
from mrstnet.data.synthetic import write_video
from mrstnet.data.transforms import EvalTransform, to_tensor
from mrstnet.data.video import read_frames

from .media import moving_frames


@dataclass(frozen=True)
class Spec:
    frames: int
    frame_step: int
    short_side: int
    crop_size: int


def expected_clip(path, indices, spec) -> torch.Tensor:
    """What a test clip of these frames is: decoded by seeking, resized, centre-cropped."""
    frames = read_frames(path, indices)
    return EvalTransform(spec.short_side, spec.crop_size)(to_tensor(frames))


@pytest.mark.parametrize(
    "spec, stride, chunk",
    [
        (Spec(8, 1, 40, 32), 4, 8),  # overlapping windows, transformed 8 frames at a time
        (Spec(4, 3, 40, 32), 5, 3),  # frame_step 3: only the frames a window takes
        (Spec(4, 2, 36, 36), 11, 1),  # a stride longer than a window: frames in between skipped
    ],
)
def test_windows_are_the_test_clips_of_the_same_frames(tmp_path, spec, stride, chunk):
    path = tmp_path / "v.avi"
    write_video(path, moving_frames(40, 48, 64), gop=5)
    span = (spec.frames - 1) * spec.frame_step + 1
    with FrameSource(path) as source:
        windows = list(iter_windows(source, spec, stride, chunk=chunk))
    starts = list(range(0, 40 - span + 1, stride))
    assert [w.first for w in windows] == starts
    assert [w.index for w in windows] == list(range(len(starts)))
    for w in windows:
        assert w.last == w.first + span - 1
        assert w.start == pytest.approx(w.first / 25, abs=1e-6)
        assert w.end == pytest.approx((w.last + spec.frame_step) / 25, abs=1e-6)
        assert w.clip.shape == (3, spec.frames, spec.crop_size, spec.crop_size)
        indices = np.arange(w.first, w.last + 1, spec.frame_step)
        assert torch.equal(w.clip, expected_clip(path, indices, spec))


def test_a_video_shorter_than_a_window_loops_as_test_clips_do(tmp_path):
    path = tmp_path / "short.avi"
    write_video(path, moving_frames(5, 48, 64), gop=2)
    spec = Spec(8, 1, 40, 32)
    with FrameSource(path) as source:
        (w,) = list(iter_windows(source, spec, 4))
    assert w.looped and w.start == 0 and w.end == pytest.approx(5 / 25)
    indices = clip_indices(5, 0, 8, 1)  # 0 1 2 3 4 0 1 2
    assert torch.equal(w.clip, expected_clip(path, indices, spec))


@pytest.mark.parametrize("frames, step, stride", [(16, 1, 8), (16, 2, 16), (4, 1, 50)])
def test_the_ring_buffer_holds_at_most_one_span(frames, step, stride):
    windower = Windower(frames, step, stride, fps=25.0)
    image = torch.zeros(3, 2, 2, dtype=torch.uint8)
    most, made, added = 0, [], 0
    for i in range(5000):
        if windower.needs(i):
            added += 1
            w = windower.add(Frame(i, i / 25, 0.0), image)
            if w is not None:
                made.append(w.first)
        most = max(most, len(windower.buffer))
    span = (frames - 1) * step + 1
    assert most <= span
    assert made == list(range(0, 5000 - span + 1, stride))
    if stride > span:  # frames no window takes are never transformed
        assert added < 5000 * span / stride * 1.2


def test_default_stride_is_half_a_window():
    assert stride_frames(None, Spec(16, 2, 128, 112), fps=30) == 16
    assert stride_frames(0.5, Spec(16, 2, 128, 112), fps=30) == 15
    with pytest.raises(ValueError, match="--stride"):
        stride_frames(0, Spec(16, 2, 128, 112), fps=30)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "file not found"),
        ("empty", "empty file (0 bytes)"),
        ("audio_only", "no video stream"),
        ("random_bytes", "cannot open"),
    ],
)
def test_a_bad_file_is_one_clear_error(bad_videos, kind, message):
    with pytest.raises(SourceError) as e:
        FrameSource(bad_videos[kind])
    assert str(e.value).startswith(str(bad_videos[kind])) and message in str(e.value)


def test_a_truncated_file_gives_the_windows_before_the_cut(bad_videos):
    spec = Spec(4, 1, 24, 24)
    with FrameSource(bad_videos["truncated"]) as source:
        try:
            windows = list(iter_windows(source, spec, 2))
        except SourceError as e:  # FFmpeg may also call the cut an error: said clearly
            assert "stopped after" in str(e)
            return
    assert 0 < len(windows) < (24 - 4) // 2 + 1


def test_a_missing_camera_or_a_refused_connection_fails_at_once():
    with pytest.raises(SourceError, match="/dev/video99: cannot open"):
        FrameSource("/dev/video99")
    with socket.socket() as s:  # a free port: nothing listens there once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError, match="Connection refused"):
        FrameSource(f"tcp://127.0.0.1:{port}", open_timeout=2)
