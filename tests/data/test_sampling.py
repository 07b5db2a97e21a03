import numpy as np
import pytest
import torch

from mrstnet.data.sampling import clip_indices, clip_span, random_clip, uniform_clips


def test_clip_indices_step_and_loop():
    assert clip_indices(100, 10, 4, 2).tolist() == [10, 12, 14, 16]
    # shorter than a clip: loops
    assert clip_indices(5, 0, 8).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert clip_indices(1, 0, 3, 4).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "n,frames,step", [(100, 16, 1), (40, 16, 2), (16, 16, 1), (7, 16, 1), (31, 16, 2)]
)
def test_random_clip_stays_inside(n, frames, step):
    torch.manual_seed(0)
    starts = set()
    for _ in range(200):
        idx = random_clip(n, frames, step).indices
        assert len(idx) == frames and idx.min() >= 0 and idx.max() < n
        starts.add(int(idx[0]))
    assert max(starts) == max(0, n - clip_span(frames, step))  # every start reachable


def test_uniform_clips_cover_the_video():
    clips = uniform_clips(100, 16, 1, 20)
    assert len(clips) == 20 and [c.clip_index for c in clips] == list(range(20))
    assert clips[0].indices[0] == 0 and clips[-1].indices[-1] == 99
    starts = np.array([c.indices[0] for c in clips])
    assert (np.diff(starts) >= 0).all()
    assert all(len(c.indices) == 16 for c in uniform_clips(5, 16, 1, 3))  # short: looped
    with pytest.raises(ValueError):
        uniform_clips(0, 16, 1, 3)


def test_short_video_loops_in_every_sampler():
    torch.manual_seed(0)
    assert random_clip(5, 8).indices.tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    for clip in uniform_clips(5, 8, 1, 4):  # no room to move: every clip starts at 0
        assert clip.indices.tolist() == [0, 1, 2, 3, 4, 0, 1, 2]


def test_uniform_clips_with_frame_step():
    from mrstnet.data.sampling import uniform_clip

    clips = uniform_clips(64, 8, 4, 5)  # span 29: starts 0, 9, 18, 26, 35
    assert [int(c.indices[0]) for c in clips] == [0, 9, 18, 26, 35]
    assert all(np.diff(c.indices).tolist() == [4] * 7 for c in clips)
    assert clips[-1].indices[-1] == 63
    assert np.array_equal(uniform_clip(64, 8, 4, 5, 3).indices, clips[3].indices)
    assert [c.indices[0] for c in uniform_clips(64, 8, 4, 1)] == [0]
