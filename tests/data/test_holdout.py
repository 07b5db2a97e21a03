"""A validation set held out of a UCF-101 training list by group."""

import pytest

from mrstnet.data import build_dataset
from mrstnet.data.clip_spec import ClipSpec
from mrstnet.data.holdout import group_of, hold_out_first_group, hold_out_groups


def test_group_of_reads_ucf_names():
    assert group_of("Walk/v_Walk_g08_c01.avi") == 8
    assert group_of("v_hand_waving_g02_c11.avi") == 2
    assert group_of("walk/clip.mp4") is None


def test_the_held_out_group_is_validation_and_nothing_else(synthetic_root, tmp_path):
    """4 videos a class in 3 groups: split 1 tests on group 1, trains on groups 2 and 3."""
    train_ann, val_ann = hold_out_first_group(synthetic_root, tmp_path / "splits")
    spec = ClipSpec(frames=8, short_side=32, crop_size=32)
    train = build_dataset(
        "ucf101", synthetic_root, spec, subset="train", annotations=train_ann, train=True
    )
    val = build_dataset(
        "ucf101", synthetic_root, spec, subset="test", annotations=val_ann, train=False
    )
    test = build_dataset(
        "ucf101", synthetic_root, spec, subset="test", annotations=train_ann, train=False
    )
    official = build_dataset("ucf101", synthetic_root, spec, subset="test", train=False)
    names = lambda ds: {v.path.name for v in ds.videos}  # noqa: E731
    assert {group_of(n) for n in names(val)} == {2}
    assert {group_of(n) for n in names(train)} == {3}
    assert names(test) == names(official) and {group_of(n) for n in names(test)} == {1}
    assert train.classes == val.classes == official.classes
    assert len(val.videos) == len(train.videos) == 4  # one a class in each
    assert (train_ann / "trainlist01.txt").read_bytes().endswith(b"\r\n")


def test_bad_hold_outs_say_why(synthetic_root, tmp_path):
    with pytest.raises(ValueError, match=r"group\(s\) 1 are not in .*trainlist01.txt"):
        hold_out_groups(synthetic_root, tmp_path / "a", [1])  # a test group
    with pytest.raises(ValueError, match="leaves a class with no training video"):
        hold_out_groups(synthetic_root, tmp_path / "b", [2, 3])
