"""`mrstnet timeline`: windows scored as the test clips of the same frames, smoothing and
segments as documented, CSV/JSON/PNG outputs, and the demo weights finding two actions."""

import csv
import json
import sys

import numpy as np
import pytest
import torch

from mrstnet.cli import main
from mrstnet.data.synthetic import class_video, write_video
from mrstnet.data.transforms import EvalTransform, to_tensor
from mrstnet.data.video import read_frames
from mrstnet.engine.inference import load_predictor
from mrstnet.engine.timeline import Scored, segments, smooth_probs, timeline
from tests.data.media import moving_frames

from .conftest import CLASSES


def test_each_window_is_scored_as_its_clip(tiny_ckpt, tmp_path):
    path = tmp_path / "v.avi"
    write_video(path, moving_frames(50, 48, 64), gop=6)
    predictor = load_predictor(tiny_ckpt, device="cpu")
    run = timeline(predictor, str(path), stride=0.2, batch_size=3)  # 5 frames at 25 fps
    assert [round(w.start * 25) for w in run.windows] == list(range(0, 50 - 8 + 1, 5))
    assert run.frames == 50 and run.video_seconds == pytest.approx(2.0)
    s = predictor.spec
    transform = EvalTransform(s.short_side, s.crop_size)
    clips = [transform(to_tensor(read_frames(path, range(k, k + 8)))) for k in range(0, 43, 5)]
    expected = predictor.probs(torch.stack(clips))
    torch.testing.assert_close(torch.stack([w.probs for w in run.windows]), expected)


def test_smoothing_is_a_centred_moving_average():
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    s = smooth_probs(p, 3)
    torch.testing.assert_close(s[1], torch.tensor([2 / 3, 1 / 3]))
    torch.testing.assert_close(s[0], torch.tensor([0.5, 0.5]))  # the ends: what exists
    torch.testing.assert_close(s[3], torch.tensor([1.0, 0.0]))
    assert torch.equal(smooth_probs(p, 1), p)
    with pytest.raises(ValueError, match="odd"):
        smooth_probs(p, 2)


def test_segments_merge_equal_labels_and_tile_the_video():
    # windows of 1 s every 0.5 s; labels a a b (uncertain) b
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.55, 0.45], [0.1, 0.9]])
    scored = [Scored(i, i * 0.5, i * 0.5 + 1, p) for i, p in enumerate(probs)]
    segs = segments(scored, probs, ["a", "b"], threshold=0.6, duration=3.2)
    assert [(s["class"], s["windows"]) for s in segs] == [("a", 2), ("b", 1), (None, 1), ("b", 1)]
    assert segs[0]["start"] == 0 and segs[-1]["end"] == 3.2
    assert all(a["end"] == b["start"] for a, b in zip(segs, segs[1:], strict=False))
    assert segs[0]["end"] == 1.25  # midway between the centres of windows 1 and 2
    assert segs[0]["prob"] == pytest.approx(0.85)


def test_timeline_command_writes_windows_segments_and_picture(tiny_ckpt, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "long, video [1].avi"
    write_video(path, moving_frames(75, 48, 64), gop=6)
    out = {k: tmp_path / f"t.{k}" for k in ("csv", "json", "png")}
    args = ["timeline", str(path), "--checkpoint", str(tiny_ckpt), "--top", "2"]
    args += [x for k, p in out.items() for x in (f"--{k}", str(p))]
    assert main([*args, "--smooth", "3", "--threshold", "0.3"]) == 0
    report = json.loads(out["json"].read_text(encoding="utf-8"))
    assert report["complete"] and report["video"] == str(path)
    assert report["window"] == {"frames": 8, "frame_step": 1, "seconds": 0.32}
    assert report["stride"] == {"frames": 4, "seconds": 0.16}  # default: half a window
    assert report["duration"] == pytest.approx(3.0)
    windows = report["windows"]
    assert len(windows) == (75 - 8) // 4 + 1
    with open(out["csv"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["window"]) for r in rows] == [w["index"] for w in windows]
    assert [r["class_1"] for r in rows] == [w["top"][0]["class"] for w in windows]
    assert set(r["class_1"] for r in rows) <= set(CLASSES)
    segs = report["segments"]
    assert segs[0]["start"] == 0 and segs[-1]["end"] == pytest.approx(3.0)
    assert sum(s["windows"] for s in segs) == len(windows)
    assert out["png"].stat().st_size > 5000
    printed = capsys.readouterr().out
    assert "x real time" in printed and f"wrote {out['png']}" in printed


def test_a_video_shorter_than_a_window_gets_one_looped_window(tiny_ckpt, tmp_path):
    path = tmp_path / "short.avi"
    write_video(path, moving_frames(5, 48, 64), gop=2)
    out = tmp_path / "t.json"
    assert main(["timeline", str(path), "--checkpoint", str(tiny_ckpt), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    (w,) = report["windows"]
    assert w["looped"] and w["start"] == 0 and w["end"] == pytest.approx(0.2)
    assert len(report["segments"]) == 1


def test_the_picture_without_matplotlib_says_how_to_get_it(
    tiny_ckpt, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    args = ["timeline", str(tmp_path / "any.avi"), "--checkpoint", str(tiny_ckpt)]
    assert main([*args, "--png", str(tmp_path / "t.png")]) == 1
    assert "pip install 'mrstnet[plot]'" in capsys.readouterr().err


def test_bad_videos_are_user_errors(tiny_ckpt, bad_videos, capsys):
    for kind in ("missing", "empty", "audio_only"):
        assert main(["timeline", str(bad_videos[kind]), "--checkpoint", str(tiny_ckpt)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"mrstnet timeline: error: {bad_videos[kind]}")


def test_demo_weights_find_two_actions_in_order(tmp_path):
    """4 clips moving left, then 4 moving up (24 frames each, 80x80, a seed the demo
    weights never saw): most of each half gets its class, the change near 3.84 s."""
    rng = np.random.default_rng(0)
    clips = [class_video(0, rng, 24, 80) for _ in range(4)] + [
        class_video(2, rng, 24, 80) for _ in range(4)
    ]
    path = tmp_path / "two.avi"
    write_video(path, np.concatenate(clips))
    out = tmp_path / "t.json"
    assert main(["timeline", str(path), "--json", str(out), "--device", "cpu"]) == 0
    segs = json.loads(out.read_text())["segments"]

    def label(t):
        return next(s["class"] for s in segs if s["start"] <= t < s["end"])

    times = np.arange(0.05, 7.68, 0.1)
    truth = ["MoveLeft" if t < 3.84 else "MoveUp" for t in times]
    right = np.mean([label(t) == c for t, c in zip(times, truth, strict=True)])
    assert right >= 0.75, segs
    change = next(s["start"] for s in segs if s["class"] == "MoveUp" and s["start"] > 2.5)
    assert abs(change - 3.84) < 0.64, segs


def test_default_batch_holds_about_the_same_pixels():
    from mrstnet.engine.inference import spec_from_checkpoint
    from mrstnet.engine.timeline import default_batch

    def spec(frames, crop):
        return spec_from_checkpoint(
            {"data": {"frames": frames, "short_side": crop, "crop_size": crop}}
        )

    assert default_batch(spec(16, 64)) == 16
    assert default_batch(spec(16, 112)) == 5
    assert default_batch(spec(16, 224)) == 1
    assert default_batch(spec(8, 32)) == 16  # never more than 16
