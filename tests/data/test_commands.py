"""`mrstnet synth` and `mrstnet data check`, run in-process through the CLI."""

import argparse
import json
import shutil

import pytest

from mrstnet.cli import build_parser, main
from mrstnet.data.readers import READERS, Reader, VideoRecord


@pytest.fixture
def synth(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["synth", str(out), "--classes", "2", "--videos-per-class", "3"]
    assert main([*args, "--frames", "8", "--size", "16", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "wrote 6 videos (2 classes x 3)" in text and " s\n" in text
    return out


def test_synth_then_check_clean(synth, tmp_path, capsys):
    report_path = tmp_path / "r.json"
    args = ["data", "check", "--dataset", "ucf101", "--root", str(synth), "--no-progress"]
    assert main([*args, "--json", str(report_path), "--strict"]) == 0
    text = capsys.readouterr().out
    assert "classes: 2" in text and "6 readable, 0 unreadable" in text
    report = json.loads(report_path.read_text())
    assert report["num_classes"] == 2
    assert (report["train"], report["test"]) == (4, 2)
    assert report["missing"] == [] and report["unreadable"] == []
    assert report["frames"] == {"min": 8, "median": 8, "max": 8}
    assert report["sizes"] == {"16x16": 6}


def test_check_reports_missing_and_unreadable_and_strict_fails(synth, tmp_path, capsys, bad_videos):
    listed = sorted(synth.glob("MoveLeft/*.avi"))
    listed[0].unlink()
    shutil.copy(bad_videos["truncated"], listed[1])  # a 24-frame .avi cut in half
    listed[2].write_bytes(b"not a video")
    report_path = tmp_path / "r.json"
    args = ["data", "check", "--dataset", "ucf101", "--root", str(synth), "--no-progress"]
    assert main([*args, "--json", str(report_path)]) == 0
    assert main([*args, "--strict"]) == 1
    assert "--strict: 1 missing, 2 unreadable" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["missing"] == [str(listed[0])]
    errors = {u["path"]: u["error"] for u in report["unreadable"]}
    assert "truncated" in errors[str(listed[1])]
    assert "cannot open" in errors[str(listed[2])]
    assert report["checked"] == 5


def test_check_malformed_split_file_exits_2_naming_the_line(synth, capsys):
    lst = synth / "ucfTrainTestlist" / "trainlist01.txt"
    lst.write_bytes(lst.read_bytes() + b"MoveLeft/v.avi twelve\r\n")
    args = ["data", "check", "--dataset", "ucf101", "--root", str(synth), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{lst}:5: expected" in err and "Traceback" not in err


def test_check_kinetics_list_and_annotations_in_parent(synth, tmp_path, capsys):
    # Kinetics: a listed video that is missing is reported, not fatal.
    root = tmp_path / "k400"
    (root / "train" / "walk").mkdir(parents=True)
    shutil.copy(next(synth.glob("MoveLeft/*.avi")), root / "train/walk/aaa_000000_000010.avi")
    (root / "annotations").mkdir()
    header = "label,youtube_id,time_start,time_end,split\n"
    (root / "annotations/train.csv").write_text(header + "walk,aaa,0,10,train\nwalk,b,0,10,train\n")
    (root / "annotations/val.csv").write_text(header)
    # The official test.csv has no label column: checked, not fatal.
    (root / "annotations/test.csv").write_text(
        "youtube_id,time_start,time_end,split\nccc,0,10,test\n"
    )
    report_path = tmp_path / "k.json"
    args = ["data", "check", "--dataset", "kinetics", "--root", str(root), "--no-progress"]
    assert main([*args, "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert (report["train"], report["val"], report["test"], report["num_classes"]) == (2, 0, 1, 1)
    assert len(report["missing"]) == 2 and report["unreadable"] == []
    (root / "annotations/test.csv").unlink()
    assert main([*args, "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert len(report["missing"]) == 1 and report["unreadable"] == []
    # The split folder one level up from ROOT is found without --annotations.
    moved = tmp_path / "ucfTrainTestlist"
    shutil.move(synth / "ucfTrainTestlist", moved)
    args = ["data", "check", "--dataset", "ucf101", "--root", str(synth), "--no-progress"]
    assert main(args) == 0
    assert f"annotations: {moved}" in capsys.readouterr().out


def test_data_without_subcommand_prints_help(capsys):
    assert main(["data"]) == 2
    assert "check" in capsys.readouterr().out


def test_check_one_list_file_counts_it_once_as_train(synth, tmp_path, capsys):
    lst = tmp_path / "all.txt"
    lst.write_text("".join(f"{p.relative_to(synth)} 0\n" for p in sorted(synth.glob("*/*.avi"))))
    report_path = tmp_path / "r.json"
    args = ["data", "check", "--dataset", "list", "--root", str(synth), "--no-progress"]
    assert main([*args, "--annotations", str(lst), "--json", str(report_path)]) == 0
    text = capsys.readouterr().out
    assert "note: one list file given: checked as train" in text and "test:" not in text
    report = json.loads(report_path.read_text())
    assert (report["train"], report["test"], report["checked"]) == (6, 0, 6)


@pytest.mark.parametrize(
    "root,annotations,message",
    [
        ("typo", None, "dataset root not found: {synth}/typo"),
        (".", "ucfTrainTestlist/trainlist01.txt", "--annotations must be the folder of split"),
    ],
)
def test_check_bad_root_or_annotations_exits_2_saying_so(synth, capsys, root, annotations, message):
    args = ["data", "check", "--dataset", "ucf101", "--root", str(synth / root), "--no-progress"]
    if annotations:
        args += ["--annotations", str(synth / annotations)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert message.format(synth=synth) in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--frames", "0", "frames must be at least 2"),
        ("--frames", "1", "frames must be at least 2"),
        ("--size", "0", "size must be at least 16"),
        ("--size", "15", "size must be at least 16"),
        ("--classes", "1", "classes must be between 2 and 16"),
        ("--classes", "17", "classes must be between 2 and 16"),
        ("--videos-per-class", "2", "videos_per_class must be at least 3"),
    ],
)
def test_synth_rejects_bad_arguments_on_stderr(tmp_path, capsys, option, value, message):
    out = tmp_path / "synth"
    assert main(["synth", str(out), option, value]) == 2
    captured = capsys.readouterr()
    assert f"mrstnet synth: error: {message}" in captured.err and captured.out == ""
    assert not out.exists()  # checked before anything is written


def _dataset_choices(parser, *path):
    for name in path:  # down the subcommands
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return next(a for a in parser._actions if a.dest == "dataset").choices


def _read_flat(root, annotations, *, subset, split):
    """A format of our own: every <class>-<n>.avi in ROOT itself."""
    videos = sorted(root.glob("*-*.avi"))
    classes = sorted({v.name.split("-")[0] for v in videos})
    return [VideoRecord(v, classes.index(v.name.split("-")[0])) for v in videos], classes, []


def test_the_readers_table_is_the_dataset_choices(synth, tmp_path, monkeypatch, capsys):
    for command in (["train"], ["test"], ["data", "check"]):
        assert list(_dataset_choices(build_parser(), *command)) == list(READERS)
    # a new format is one read function and one table entry: the CLI offers it and reads with it
    monkeypatch.setitem(READERS, "flat", Reader(_read_flat, subsets=("train",)))
    assert "flat" in _dataset_choices(build_parser(), "train")
    root = tmp_path / "flat"
    root.mkdir()
    for cls in ("MoveLeft", "MoveRight"):  # the synth fixture has two classes
        for i, video in enumerate(sorted(synth.glob(f"{cls}/*.avi"))[:2]):
            shutil.copy(video, root / f"{cls}-{i}.avi")
    assert main(["data", "check", "--dataset", "flat", "--root", str(root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "classes: 2" in out and "4 readable, 0 unreadable" in out
    # --split all follows the table's official splits
    assert (
        main(
            [
                "test",
                "--dataset",
                "flat",
                "--root",
                str(root),
                "--split",
                "all",
                "--checkpoint",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "--split all is for ucf101 and hmdb51" in capsys.readouterr().err
