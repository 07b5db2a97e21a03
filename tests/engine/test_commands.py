"""The user's commands end to end on tiny real videos: train, test, predict, plot, demo.

One session-scoped training run (a tiny MRST-T-Net, one epoch on the `synthetic_root`
fixture) feeds the test, predict and plot tests.
"""

import json
import shutil

import pytest
import torch

from mrstnet.cli import main
from mrstnet.engine.checkpoint import clip_spec_of, load_checkpoint
from mrstnet.engine.config import config_from_dict

TINY = [
    "model_args={width_mult: 0.125, depths: [1, 1, 1, 1, 1], head: avg}",
    "frames=8",
    "short_side=32",
    "crop_size=32",
    "epochs=1",
    "batch_size=4",
    "num_workers=0",
    "lr=1e-3",
    "val_every=1",
    "val_clips=2",
    "log_every=1",
]


@pytest.fixture(scope="session")
def run_dir(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--dataset",
            "ucf101",
            "--root",
            str(synthetic_root),
            "--model",
            "mrst_t_net_small",
            "--preset",
            "demo",
            "--out",
            str(out),
            "--no-progress",
            "--set",
            *TINY,
        ]
    )
    assert code in (0, None)
    return out


def test_train_writes_checkpoints_and_log(run_dir, synthetic_root):
    assert (run_dir / "best.pt").is_file() and (run_dir / "last.pt").is_file()
    ckpt = load_checkpoint(run_dir / "last.pt")
    classes = (synthetic_root / "ucfTrainTestlist" / "classInd.txt").read_text().split()[1::2]
    assert ckpt["classes"] == classes
    assert ckpt["epoch"] == 1 and ckpt["data"]["crop_size"] == 32
    # the run's clip spec, stored whole, and its config, stored as flat preset keys
    spec = config_from_dict(ckpt["preset"]).clip
    assert clip_spec_of(ckpt) == spec and (spec.frames, spec.short_side) == (8, 32)
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    # step lines, epoch lines, validation rounds (the demo preset validates every N steps and
    # at the epoch's end), and one closing line that says why training ended
    assert {x["kind"] for x in lines} == {"train", "epoch", "val", "stop"}
    assert lines[-1]["kind"] == "stop" and lines[-1]["stopped"] == "steps"
    assert sum(x["kind"] == "stop" for x in lines) == 1
    assert all(x["loss"] > 0 for x in lines if x["kind"] in ("train", "epoch"))
    epoch = [x for x in lines if x["kind"] == "epoch"][-1]
    assert "val_top1" in epoch  # validated on the test split at the epoch's end


def test_test_command_reports_metrics(run_dir, synthetic_root, tmp_path):
    report = tmp_path / "m.json"
    code = main(
        [
            "test",
            "--checkpoint",
            str(run_dir / "best.pt"),
            "--dataset",
            "ucf101",
            "--root",
            str(synthetic_root),
            "--clips",
            "2",
            "--workers",
            "0",
            "--json",
            str(report),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    m = json.loads(report.read_text())
    assert {"top1", "top5", "clip_top1", "mean_class_acc", "num_videos"} <= set(m)
    for k in ("top1", "top5", "clip_top1", "mean_class_acc"):
        assert 0.0 <= m[k] <= 1.0
    assert m["top5"] >= m["top1"]
    # 4 classes, 4 videos each in groups 1..3: split 1 tests group 1 (two videos a class)
    assert m["num_videos"] == 8
    assert (tmp_path / "test_confusion.csv").is_file()


def test_test_split_all_averages_three_splits(run_dir, synthetic_root, tmp_path):
    report = tmp_path / "all.json"
    for s in (1, 2, 3):  # RUN_DIR/split{1,2,3}/best.pt, as `train --split all` writes them
        (tmp_path / f"split{s}").mkdir()
        shutil.copy(run_dir / "best.pt", tmp_path / f"split{s}" / "best.pt")
    code = main(
        [
            "test",
            "--checkpoint",
            str(tmp_path),
            "--dataset",
            "ucf101",
            "--split",
            "all",
            "--root",
            str(synthetic_root),
            "--clips",
            "1",
            "--workers",
            "0",
            "--json",
            str(report),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    m = json.loads(report.read_text())
    assert set(m["splits"]) == {"1", "2", "3"}
    mean = sum(s["top1"] for s in m["splits"].values()) / 3
    assert m["top1"] == pytest.approx(mean)


def test_predict_gives_probabilities_for_each_video(run_dir, synthetic_root, tmp_path, capsys):
    video = next((synthetic_root / "MoveLeft").glob("*.avi"))
    out = tmp_path / "p.json"
    code = main(
        [
            "predict",
            "--checkpoint",
            str(run_dir / "best.pt"),
            str(video),
            str(tmp_path / "missing.avi"),
            "--top",
            "3",
            "--clips",
            "2",
            "--no-amp",
            "--json",
            str(out),
        ]
    )
    assert code == 1  # one file could not be read; the other was predicted
    preds = json.loads(out.read_text())["predictions"]
    assert len(preds[0]["top"]) == 3
    assert sum(t["prob"] for t in preds[0]["top"]) <= 1.0 + 1e-6
    assert "missing.avi" in preds[1]["error"]
    assert "unreadable" in capsys.readouterr().out


def test_resume_of_a_finished_run_changes_nothing(run_dir, synthetic_root):
    before = load_checkpoint(run_dir / "last.pt")
    main(
        [
            "train",
            "--dataset",
            "ucf101",
            "--root",
            str(synthetic_root),
            "--preset",
            "demo",
            "--out",
            str(run_dir),
            "--resume",
            "--no-progress",
            "--set",
            *TINY,
        ]
    )
    after = load_checkpoint(run_dir / "last.pt")
    assert after["step"] == before["step"]
    for k, v in before["state_dict"].items():
        assert torch.equal(v, after["state_dict"][k])


def test_plot_draws_the_curves(run_dir, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    assert main(["plot", str(run_dir), "--out", str(png)]) == 0
    assert png.stat().st_size > 1000


def test_init_from_a_checkpoint_replaces_the_classifier(run_dir, synthetic_root, tmp_path, capsys):
    list_dir = tmp_path / "lists"
    list_dir.mkdir()
    # the same videos as a 2-class list dataset: the classifier shape differs
    lines = [f"MoveLeft/{p.name} 0" for p in sorted((synthetic_root / "MoveLeft").glob("*"))]
    lines += [f"MoveRight/{p.name} 1" for p in sorted((synthetic_root / "MoveRight").glob("*"))]
    (list_dir / "train.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "ft"
    main(
        [
            "train",
            "--dataset",
            "list",
            "--root",
            str(synthetic_root),
            "--annotations",
            str(list_dir / "train.txt"),
            "--preset",
            "demo",
            "--out",
            str(out),
            "--init",
            str(run_dir / "best.pt"),
            "--no-progress",
            "--set",
            *TINY,
            "val_every=0",
            "batch_size=2",
        ]
    )
    text = capsys.readouterr().out
    n = len(load_checkpoint(run_dir / "best.pt")["state_dict"])
    # every tensor but the classifier's weight and bias came from the first run
    assert f"loaded {n - 2}/{n} tensors" in text
    assert "kept freshly initialised" in text and "fc" in text.split("kept freshly")[1]
    assert load_checkpoint(out / "last.pt")["classes"] == ["0", "1"]


def test_test_shuffle_frames_reports_beside_the_plain_test(run_dir, synthetic_root, tmp_path):
    report = tmp_path / "shuffled.json"
    args = ["test", "--checkpoint", str(run_dir / "best.pt"), "--dataset", "ucf101"]
    args += ["--root", str(synthetic_root), "--clips", "2", "--workers", "0", "--no-progress"]
    code = main([*args, "--shuffle-frames", "--json", str(report), "--out", str(tmp_path)])
    assert code == 0
    m = json.loads(report.read_text())
    assert m["num_videos"] == 8 and 0.0 <= m["top1"] <= 1.0 and m["clips"] == 2
    # its files do not overwrite the plain test's
    assert (tmp_path / "test_shuffled.json").is_file()
    assert (tmp_path / "test_shuffled_confusion.csv").is_file()
    assert not (tmp_path / "test.json").exists()


def test_train_refuses_a_run_dir_that_holds_a_run(run_dir, synthetic_root, tmp_path, capsys):
    before = load_checkpoint(run_dir / "last.pt")
    args = ["train", "--dataset", "ucf101", "--root", str(synthetic_root), "--preset", "demo"]
    args += ["--no-progress", "--set", *TINY]
    assert main([*args[: -len(TINY) - 1], "--out", str(run_dir), *args[-len(TINY) - 1 :]]) == 2
    err = capsys.readouterr().err
    assert f"mrstnet train: error: {run_dir} already holds a run (last.pt)" in err
    after = load_checkpoint(run_dir / "last.pt")
    assert after["step"] == before["step"]
    for k, v in before["state_dict"].items():
        assert torch.equal(v, after["state_dict"][k])
    # --overwrite starts afresh in a copy of it: one run's lines in the log, not two
    again = tmp_path / "again"
    shutil.copytree(run_dir, again)
    assert main([*args, "--out", str(again), "--overwrite"]) == 0
    lines = [json.loads(x) for x in (again / "log.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines].count("stop") == 1 and lines[-1]["kind"] == "stop"
    steps = [x["step"] for x in lines if x["kind"] == "train"]
    assert steps and steps[0] == 1 and steps == sorted(set(steps))


# 6 videos a class in 3 groups: 2 tested, 2 validated, 2 trained on
DEMO_TINY = ["--classes", "2", "--videos-per-class", "6", "--test-clips", "1", "--no-progress"]
DEMO_TINY += ["--set", *TINY[:4], "max_steps=2", "batch_size=4", "num_workers=0", "threads=1"]


def test_demo_end_to_end_writes_its_report(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *DEMO_TINY]) == 0
    report = json.loads((out / "report.json").read_text())
    keys = {"top1", "shuffled_top1", "seconds", "top5", "clip_top1", "mean_class_acc"}
    keys |= {"num_videos", "num_classes", "train_steps", "train_loss", "model", "checkpoint"}
    assert keys <= set(report)
    assert report["num_classes"] == 2 and report["train_steps"] == 2
    assert report["num_videos"] == 4 and report["clip"] == "8x32x32"
    assert report["stopped"] == "steps" and report["best_step"] == 2
    assert report["data"] == "humans, difficulty 0.1, seed 0"
    # the human-actions set, validated on a training group held out of split 1
    assert (out / "data" / "hand_waving").is_dir()
    val = (out / "splits" / "val" / "testlist01.txt").read_text().split()
    train = (out / "splits" / "train" / "trainlist01.txt").read_text().split()[::2]
    assert len(val) == 4 and all("_g02_" in v for v in val)
    assert len(train) == 4 and not set(val) & set(train)
    assert (out / "run" / "test_shuffled.json").is_file()
    # a second demo into the same folder starts over rather than refusing
    assert main(["demo", "--out", str(out), *DEMO_TINY]) == 0
    assert load_checkpoint(out / "run" / "last.pt")["step"] == 2


def test_train_counts_unreadable_videos_it_skipped(synthetic_root, tmp_path):
    """A training video that cannot be read is skipped and the epoch's log says how many
    draws hit one, also when the draws happen in a DataLoader worker."""
    root = tmp_path / "data"
    shutil.copytree(synthetic_root, root)
    listed = (root / "ucfTrainTestlist" / "trainlist01.txt").read_text().split()
    (root / listed[0]).write_bytes(b"")  # the first training video, now zero bytes
    out = tmp_path / "run"
    args = ["--no-progress", "--set", *TINY, "num_workers=1", "val_every=0"]
    base = ["train", "--dataset", "ucf101", "--root", str(root), "--preset", "demo"]
    assert main([*base, "--model", "mrst_t_net_small", "--out", str(out), *args]) == 0
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    epoch = [x for x in lines if x["kind"] == "epoch"][-1]
    assert epoch["skipped_videos"] >= 1  # every epoch draws each index once: the empty one too
