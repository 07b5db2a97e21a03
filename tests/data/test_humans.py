"""The human-actions set: deterministic, every class moves and differs, motion-only pairs
show the same poses, real files that the readers and `mrstnet data check` accept."""

import numpy as np
import pytest

from mrstnet.cli import main
from mrstnet.commands import synth
from mrstnet.data.humans import (
    CLASSES,
    MOTION_ONLY,
    PAIRS,
    action_motion,
    class_video,
    parse_difficulty,
    video_rng,
    write_humans,
)
from mrstnet.data.humans.actions import ACTIONS
from mrstnet.data.humans.scene import figure_path
from mrstnet.data.humans.skeleton import Body
from mrstnet.data.layouts import LAYOUTS
from mrstnet.data.readers import read_ucf101
from mrstnet.data.video import read_all_frames

SMALL = dict(classes=2, videos_per_class=3, frames=8, size=32)


def _decoded(root):
    return {str(p.relative_to(root)): read_all_frames(p) for p in sorted(root.rglob("*.avi"))}


def test_named_actions_are_the_same_videos_as_in_the_full_set(tmp_path, capsys):
    """`--actions` picks classes by name; a class's videos do not depend on the others
    written (a fine-tuning set of left-out actions is drawn as a full set would be)."""
    out = tmp_path / "named"
    args = ["synth", str(out), "--kind", "humans", "--actions", "jump_left, hand_waving"]
    assert main([*args, "--videos-per-class", "3", "--frames", "8", "--size", "32"]) == 0
    assert "wrote 6 videos (2 classes x 3)" in capsys.readouterr().out
    named = _decoded(out)
    full = _decoded(write_humans(tmp_path / "full", seed=0, **{**SMALL, "classes": 18}))
    assert sorted(p.split("/")[0] for p in named) == ["hand_waving"] * 3 + ["jump_left"] * 3
    for name, frames in named.items():
        np.testing.assert_array_equal(frames, full[name])


def test_same_seed_same_frames_another_seed_other_videos(tmp_path):
    a = _decoded(write_humans(tmp_path / "a", seed=3, difficulty="hard", **SMALL))
    b = _decoded(write_humans(tmp_path / "b", seed=3, difficulty="hard", **SMALL))
    c = _decoded(write_humans(tmp_path / "c", seed=4, difficulty="hard", **SMALL))
    assert list(a) == list(b) == list(c) and len(a) == 6
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
    videos = list(a.values())  # and the videos of one set differ from each other
    assert all(not np.array_equal(x, y) for i, x in enumerate(videos) for y in videos[i + 1 :])


def test_a_video_does_not_depend_on_how_many_are_written():
    one = class_video("walk_left", video_rng(5, "walk_left", 2), 8, 32, 0.5)
    np.testing.assert_array_equal(
        one, class_video("walk_left", video_rng(5, "walk_left", 2), 8, 32, 0.5)
    )
    assert not np.array_equal(
        one, class_video("walk_left", video_rng(5, "walk_left", 3), 8, 32, 0.5)
    )


def test_every_class_renders_moves_and_differs():
    videos = {}
    for name in CLASSES:
        v = class_video(name, video_rng(0, "walk_right", 0), 16, 48, 0.2)  # one seed for all
        assert v.shape == (16, 48, 48, 3) and v.dtype == np.uint8
        videos[name] = v
        joints = figure_path(action_motion(name, video_rng(0, name, 0), 16, 0.2), Body())
        travel = np.ptp(np.stack(list(joints.values())), axis=1).max()  # the farthest joint path
        assert travel > 0.15, f"{name}: the figure hardly moves ({travel:.2f} heights)"
    for i, a in enumerate(CLASSES):
        for b in CLASSES[i + 1 :]:
            assert not np.array_equal(videos[a], videos[b]), (a, b)


def _angles(name, videos=150, frames=12):
    """Every pose angle of every frame of many videos: {key: (videos * frames,)}."""
    poses = [action_motion(name, video_rng(9, name, j), frames, 0.5).pose for j in range(videos)]
    return {k: np.concatenate([p[k] for p in poses]) for k in poses[0]}


def _ks(x, y):
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = np.sort(np.concatenate([x, y]))
    cdf = lambda s: np.searchsorted(np.sort(s), grid, side="right") / len(s)  # noqa: E731
    return np.abs(cdf(x) - cdf(y)).max()


@pytest.mark.parametrize("pair", MOTION_ONLY)
def test_motion_only_pairs_show_the_same_poses(pair):
    a, b = pair
    assert pair in PAIRS and ACTIONS[a].pose is ACTIONS[b].pose
    assert ACTIONS[a].front == ACTIONS[b].front and ACTIONS[a].facing == ACTIONS[b].facing
    # per-frame pose distributions agree (the angles of a frame, pooled over videos) ...
    pa, pb = _angles(a), _angles(b)
    worst = max(_ks(pa[k], pb[k]) for k in pa if np.ptp(pa[k]) > 1e-9)
    assert worst < 0.1, f"{a} / {b}: pose distributions differ (KS {worst:.3f})"
    # ... while the sequences do not: same draws, another order or rate
    ma, mb = (action_motion(n, video_rng(1, a, 0), 24, 0.5) for n in pair)
    assert not np.allclose(ma.pose["sh_a"], mb.pose["sh_a"]) or not np.allclose(
        ma.pose["hip_a"], mb.pose["hip_a"]
    )


def test_the_pose_test_can_fail():
    # a pair that is not motion-only is told apart by its poses
    pa, pb = _angles("walk_right"), _angles("jog_right")
    assert max(_ks(pa[k], pb[k]) for k in pa if np.ptp(pa[k]) > 1e-9) > 0.5


@pytest.mark.parametrize("pair", [p for p in MOTION_ONLY if ACTIONS[p[1]].reverse_of])
def test_reversed_classes_are_the_same_video_backwards(pair):
    forward, backward = (class_video(n, video_rng(2, pair[0], 1), 10, 32, 0.8) for n in pair)
    np.testing.assert_array_equal(backward, forward[::-1])
    ma, mb = (action_motion(n, video_rng(2, pair[0], 1), 10, 0.8) for n in pair)
    for k in ma.pose:
        np.testing.assert_array_equal(mb.pose[k], ma.pose[k][::-1])


def test_files_decode_through_the_reader(tmp_path):
    root = write_humans(tmp_path / "set", seed=1, difficulty="easy", **SMALL)
    train, classes, missing = read_ucf101(root, subset="train")
    test, _, _ = read_ucf101(root, subset="test")
    assert classes == CLASSES[:2] and missing == [] and (len(train), len(test)) == (4, 2)
    for record in train + test:
        name = classes[record.label]
        assert record.path.parent.name == name
        j = {"g01": 0, "g02": 1, "g03": 2}[record.path.stem.split("_")[-2]]
        decoded = read_all_frames(record.path).astype(int)
        right, other = (
            class_video(name, video_rng(1, name, i), 8, 32, parse_difficulty("easy"))
            for i in (j, j + 3)
        )
        assert decoded.shape == right.shape
        # mpeg4 at 32x32 (chroma at 16x16) is lossy, but this is the video and no other
        error = np.abs(decoded - right).mean()
        assert error < 12 and error < 0.5 * np.abs(decoded - other).mean()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cli_writes_a_set_that_data_check_accepts(layout, tmp_path, capsys):
    out = tmp_path / layout
    args = ["synth", str(out), "--kind", "humans", "--classes", "2", "--videos-per-class", "3"]
    args += ["--frames", "8", "--size", "32", "--difficulty", "0.7", "--layout", layout]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "wrote 6 videos (2 classes x 3), 8 frames of 32x32" in text
    assert f"use: --dataset {layout} --root {out}" in text
    check = ["data", "check", "--dataset", layout, "--root", str(out), "--no-progress"]
    assert main([*check, "--strict"]) == 0
    text = capsys.readouterr().out
    assert "classes: 2" in text and "6 readable, 0 unreadable" in text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--kind", "humans", "--difficulty", "extreme"], "difficulty must be easy, medium"),
        (["--kind", "humans", "--difficulty", "1.5"], "difficulty must be easy, medium"),
        (["--kind", "humans", "--classes", "19"], "classes must be between 2 and 18"),
        (["--kind", "humans", "--size", "16"], "size must be at least 32"),
        (["--difficulty", "easy"], "--difficulty applies to --kind humans only"),
        (["--kind", "humans", "--actions", "walk_left,fly"], "unknown classes ['fly']"),
        (["--kind", "humans", "--actions", "walk_left"], "2 or more distinct names"),
        (["--actions", "walk_left,walk_right"], "--actions is for --kind humans"),
    ],
)
def test_bad_options_are_one_line_errors(extra, message, tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_help_lists_every_class_and_layout():
    assert synth.LAYOUTS == LAYOUTS
    lines = synth.DESCRIPTION.splitlines()
    motion_only = {a for pair in MOTION_ONLY for a in pair}
    for a, b in PAIRS:
        row = next(line for line in lines if line.split()[:2] == [a, b])
        assert ("motion only" in row) == (a in motion_only), row
