"""Files, folders and globs on a command line become one ordered list of video paths."""

from pathlib import Path

import pytest

from mrstnet.data.files import find_videos


@pytest.fixture
def tree(tmp_path) -> Path:
    for name in [
        "clips/x.avi",
        "clips/deep/er/y.MP4",
        "clips/.hidden/z.avi",
        "clips/notes.txt",
        "take [1].mp4",
        "cam/rec1.ts",
        "cam/rec2.ts",
        "cam/readme.md",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_inputs_expand_in_order_each_once(tree):
    inputs = [
        str(tree / "take [1].mp4"),  # exists: a file, not a pattern with a [1] class
        str(tree / "clips"),  # a folder: its videos at any depth, sorted, hidden skipped
        str(tree / "cam" / "*.ts"),  # the pattern names the extension: .ts is kept
        str(tree / "clips" / "x.avi"),  # already listed
        str(tree / "missing.avi"),  # kept: its row will say "file not found"
    ]
    assert find_videos(inputs) == [
        tree / "take [1].mp4",
        tree / "clips" / "deep" / "er" / "y.MP4",
        tree / "clips" / "x.avi",
        tree / "cam" / "rec1.ts",
        tree / "cam" / "rec2.ts",
        tree / "missing.avi",
    ]


def test_a_glob_without_an_extension_keeps_the_video_files(tree):
    assert find_videos([str(tree / "clips" / "*")]) == [
        tree / "clips" / "deep" / "er" / "y.MP4",  # `deep` is a folder: searched
        tree / "clips" / "x.avi",
    ]
    assert find_videos([str(tree / "**" / "*.avi")]) == [tree / "clips" / "x.avi"]


def test_empty_folders_and_patterns_warn_and_nothing_found_is_an_error(tree):
    (tree / "empty").mkdir()
    said = []
    inputs = [str(tree / "empty"), str(tree / "*.webm"), str(tree / "clips")]
    found = find_videos(inputs, said.append)
    assert found == [tree / "clips" / "deep" / "er" / "y.MP4", tree / "clips" / "x.avi"]
    assert len(said) == 2 and "no video files in this folder" in said[0]
    assert "no file matches" in said[1]
    with pytest.raises(ValueError, match="no video files found"):
        find_videos([str(tree / "empty")])
