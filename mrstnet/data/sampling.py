"""Which frames a clip takes: one random clip for training, K uniformly spaced clips for test.

A clip is `frames` frame indices `frame_step` apart. A video shorter than a clip's span
(`(frames - 1) * frame_step + 1`) loops: indices wrap around modulo the frame count, so
a 10-frame video read as a 16-frame clip at step 1 gives frames 0..9, 0..5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ClipInfo:
    clip_index: int
    indices: np.ndarray  # int64 (frames,), frame numbers in the video


def clip_span(frames: int, frame_step: int) -> int:
    return (frames - 1) * frame_step + 1


def clip_indices(num_frames: int, start: int, frames: int, frame_step: int = 1) -> np.ndarray:
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if frames <= 0 or frame_step <= 0:
        raise ValueError(f"frames and frame_step must be positive, got {frames}, {frame_step}")
    return (start + np.arange(frames, dtype=np.int64) * frame_step) % num_frames


def random_clip(
    num_frames: int, frames: int, frame_step: int = 1, generator: torch.Generator | None = None
) -> ClipInfo:
    """A clip starting at a uniformly random frame (uses torch's RNG, so DataLoader workers
    get different, reproducible streams)."""
    last_start = max(0, num_frames - clip_span(frames, frame_step))
    start = int(torch.randint(last_start + 1, (1,), generator=generator))
    return ClipInfo(0, clip_indices(num_frames, start, frames, frame_step))


def uniform_clips(
    num_frames: int, frames: int, frame_step: int = 1, num_clips: int = 20
) -> list[ClipInfo]:
    """`num_clips` clips with starts evenly spaced from the first to the last possible start."""
    if num_clips <= 0:
        raise ValueError(f"num_clips must be positive, got {num_clips}")
    last_start = max(0, num_frames - clip_span(frames, frame_step))
    starts = np.linspace(0, last_start, num_clips).round().astype(np.int64)
    return [
        ClipInfo(k, clip_indices(num_frames, int(s), frames, frame_step))
        for k, s in enumerate(starts)
    ]


def uniform_clip(
    num_frames: int, frames: int, frame_step: int, num_clips: int, clip_index: int
) -> ClipInfo:
    """Clip `clip_index` of `uniform_clips(...)`, without building the others."""
    return uniform_clips(num_frames, frames, frame_step, num_clips)[clip_index]
