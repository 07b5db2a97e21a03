"""The synthetic motion set: deterministic in its seed; classes in time-reversal pairs."""

import numpy as np
import pytest

from mrstnet.data.synthetic import CLASSES, PAIRS, class_names, class_video, write_synthetic
from mrstnet.data.video import read_all_frames

SMALL = dict(classes=2, videos_per_class=3, frames=6, size=16)


def _decoded(root):
    """{relative path: decoded frames} of every video, and the split files' bytes."""
    videos = {str(p.relative_to(root)): read_all_frames(p) for p in sorted(root.rglob("*.avi"))}
    lists = {p.name: p.read_bytes() for p in sorted((root / "ucfTrainTestlist").iterdir())}
    return videos, lists


def test_same_seed_same_set_another_seed_other_videos(tmp_path):
    a, lists_a = _decoded(write_synthetic(tmp_path / "a", seed=3, **SMALL))
    b, lists_b = _decoded(write_synthetic(tmp_path / "b", seed=3, **SMALL))
    c, lists_c = _decoded(write_synthetic(tmp_path / "c", seed=4, **SMALL))
    assert list(a) == list(b) == list(c) and len(a) == 6
    assert lists_a == lists_b == lists_c  # the split depends on the group, not the seed
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])


@pytest.mark.parametrize("pair", range(len(PAIRS)))
def test_each_pair_is_one_video_played_forwards_and_backwards(pair):
    assert CLASSES[2 * pair : 2 * pair + 2] == list(PAIRS[pair])
    forward, backward = (
        class_video(label, np.random.default_rng(7), 5, 16) for label in (2 * pair, 2 * pair + 1)
    )
    np.testing.assert_array_equal(backward, forward[::-1])
    assert not np.array_equal(forward, backward)  # it moves: the two classes differ


def test_class_names_keep_pairs_adjacent():
    assert class_names(4) == ["MoveLeft", "MoveRight", "MoveUp", "MoveDown"]
