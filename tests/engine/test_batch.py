"""`mrstnet predict` over many files: batches across files give each file's own scores;
CSV and JSON keep awkward names; an unreadable file is a row, and the exit code says so."""

import csv
import json

import pytest
import torch

from mrstnet.cli import main
from mrstnet.data.files import find_videos
from mrstnet.engine.batch import load_file_clips, predict_files
from mrstnet.engine.inference import load_predictor

from .conftest import CLASSES


def one_at_a_time(predictor, path, clips):
    """The reference: one file's clips alone through the model, probabilities averaged."""
    return predictor.probs(load_file_clips(path, predictor.spec, clips, 1)).mean(0)


@pytest.mark.parametrize("batch_size, workers", [(1, 0), (3, 2), (16, 1)])
def test_batches_across_files_give_each_file_its_own_scores(
    tiny_ckpt, video_folder, tmp_path, batch_size, workers
):
    predictor = load_predictor(tiny_ckpt, device="cpu")
    bad = tmp_path / "empty.avi"
    bad.write_bytes(b"")
    videos = find_videos([str(video_folder)])
    paths = [videos[0], bad, *videos[1:]]
    results = list(
        predict_files(
            predictor, paths, clips=3, top=4, batch_size=batch_size, workers=workers, prefetch=2
        )
    )
    assert [r["video"] for r in results] == [str(p) for p in paths]  # input order
    assert "empty file" in results[1]["error"]
    for path, r in zip(paths, results, strict=True):
        if path == bad:
            continue
        ref = one_at_a_time(predictor, path, 3)
        got = torch.zeros(len(CLASSES))
        for t in r["top"]:
            got[t["index"]] = t["prob"]
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-4)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_predict_writes_csv_and_json_and_says_some_failed(
    tiny_ckpt, video_folder, tmp_path, capsys
):
    bad = tmp_path / "broken, file.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    out_csv, out_json = tmp_path / "p.csv", tmp_path / "p.json"
    args = ["predict", "--checkpoint", str(tiny_ckpt), str(video_folder), str(bad)]
    args += ["--clips", "2", "--top", "4", "--batch-size", "4", "--csv", str(out_csv)]
    code = main([*args, "--json", str(out_json)])
    assert code == 1  # some files failed, the others were predicted
    rows = read_csv(out_csv)
    expected = [str(p) for p in find_videos([str(video_folder)])] + [str(bad)]
    assert [r["video"] for r in rows] == expected  # commas, quotes, ü, brackets survive
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["error"]
    assert rows[-1]["error"].startswith("VideoDecodeError") and rows[-1]["class_1"] == ""
    assert {r["class_1"] for r in rows[:-1]} <= set(CLASSES)
    assert all(abs(sum(float(r[f"prob_{i}"]) for i in range(1, 5)) - 1) < 1e-4 for r in rows[:-1])
    text = out_json.read_text(encoding="utf-8")
    assert "ünïcode" in text and "café" in text  # kept as letters, not \\u escapes
    report = json.loads(text)
    assert report["complete"] and report["failed"] == 1 and report["videos"] == 6
    assert [p["video"] for p in report["predictions"]] == expected
    captured = capsys.readouterr()
    assert "unreadable" in captured.out
    assert "video/s" not in captured.err  # no progress bar: stderr is not a terminal


def test_predict_exit_status_all_good_and_none_readable(tiny_ckpt, video_folder, tmp_path, capsys):
    good = main(["predict", "--checkpoint", str(tiny_ckpt), str(video_folder / "a.avi")])
    assert good == 0
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    out = tmp_path / "p.csv"
    code = main(["predict", "--checkpoint", str(tiny_ckpt), str(empty), "--csv", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mrstnet predict: error: none of the 1 video files could be read"]
    assert read_csv(out)[0]["status"] == "error"  # the row is written all the same


def test_predict_on_a_folder_without_videos_is_a_user_error(tiny_ckpt, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["predict", "--checkpoint", str(tiny_ckpt), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "warning" in err and "no video files" in err
    assert "mrstnet predict: error: no video files found" in err
