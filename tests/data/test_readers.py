"""Annotation readers on tiny files written here: official formats (CRLF included), missing
videos counted, not fatal; malformed lines are SplitFileErrors naming file and line."""

from pathlib import Path

import pytest

from mrstnet.data.readers import (
    SplitFileError,
    read_folder,
    read_hmdb51,
    read_kinetics,
    read_list,
    read_ucf101,
)


def _touch(root: Path, *rels: str) -> None:
    # Readers never open a video, so empty files stand in for them here.
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def _crlf(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    return path


@pytest.fixture
def ucf(tmp_path):
    """UCF-101 layout with the split folder beside ROOT (found in ROOT's parent), CRLF."""
    root = tmp_path / "UCF-101"
    ann = tmp_path / "ucfTrainTestlist"
    _crlf(ann / "classInd.txt", "1 ApplyEyeMakeup", "2 Archery")
    _crlf(
        ann / "trainlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "Archery/v_Archery_g08_c01.avi 2",
        "Archery/v_Archery_g09_c01.avi 2",  # not on disk
    )
    _crlf(ann / "testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "")
    _touch(
        root,
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
        "Archery/v_Archery_g08_c01.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
    )
    return root, ann


def test_ucf101_crlf_and_annotations_in_parent(ucf):
    root, _ = ucf
    videos, classes, missing = read_ucf101(root, subset="train")
    assert classes == ["ApplyEyeMakeup", "Archery"]  # no stray "\r"
    assert [(v.path.name, v.label) for v in videos] == [
        ("v_ApplyEyeMakeup_g08_c01.avi", 0),
        ("v_Archery_g08_c01.avi", 1),
    ]
    assert missing == [root / "Archery/v_Archery_g09_c01.avi"]
    videos, _, missing = read_ucf101(root, subset="test")
    assert [(v.path.name, v.label) for v in videos] == [("v_ApplyEyeMakeup_g01_c01.avi", 0)]
    assert missing == []


def test_ucf101_malformed_line_names_file_and_line(ucf):
    root, ann = ucf
    _crlf(
        ann / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "Archery/x.avi 7"
    )
    with pytest.raises(SplitFileError, match=r"trainlist01\.txt:2: expected") as e:
        read_ucf101(root, subset="train")
    assert e.value.line_no == 2


def test_hmdb51_split_codes(tmp_path):
    root = tmp_path / "hmdb51"
    ann = root / "testTrainMulti_7030_splits"
    _crlf(ann / "brush_hair_test_split1.txt", "a.avi 1", "b.avi 2", "c.avi 0")
    _crlf(ann / "cartwheel_test_split1.txt", "d.avi 1", "e.avi 2")
    _crlf(ann / "cartwheel_test_split2.txt", "d.avi 2", "e.avi 1")  # another split: ignored
    _touch(root, "brush_hair/a.avi", "brush_hair/b.avi", "brush_hair/c.avi", "cartwheel/d.avi")
    train, classes, missing = read_hmdb51(root, subset="train")
    assert classes == ["brush_hair", "cartwheel"]
    assert [(v.path.name, v.label) for v in train] == [("a.avi", 0), ("d.avi", 1)]
    assert missing == []
    test, _, missing = read_hmdb51(root, subset="test")
    assert [v.path.name for v in test] == ["b.avi"]  # c.avi is 0: not used
    assert missing == [root / "cartwheel/e.avi"]
    _crlf(ann / "cartwheel_test_split1.txt", "d.avi 1", "e.avi 3")
    with pytest.raises(SplitFileError, match=r"cartwheel_test_split1\.txt:2"):
        read_hmdb51(root, subset="train")


def test_kinetics_csv_missing_videos_are_counted_not_fatal(tmp_path):
    root = tmp_path / "kinetics400"
    header = "label,youtube_id,time_start,time_end,split"
    _crlf(
        root / "annotations/train.csv",
        header,
        "abseiling,aaa,0,10,train",
        '"air drumming",bbb,5,15,train',
        "abseiling,gone,0,10,train",
    )
    _crlf(root / "annotations/val.csv", header, "air drumming,ccc,1,11,val")
    _touch(
        root, "train/abseiling/aaa_000000_000010.mp4", "train/air_drumming/bbb_000005_000015.mkv"
    )
    videos, classes, missing = read_kinetics(root, subset="train")
    assert classes == ["abseiling", "air drumming"]
    assert [(v.path.name, v.label) for v in videos] == [
        ("aaa_000000_000010.mp4", 0),
        ("bbb_000005_000015.mkv", 1),  # space -> "_" folder, any video extension
    ]
    assert [p.name for p in missing] == ["gone_000000_000010.mp4"]
    videos, _, missing = read_kinetics(root, subset="val")
    assert videos == [] and len(missing) == 1
    # The official test.csv has no label column: unlabelled videos, straight in test/.
    _crlf(root / "annotations/test.csv", "youtube_id,time_start,time_end,split", "ddd,0,10,test")
    _touch(root, "test/ddd_000000_000010.mp4")
    videos, classes, missing = read_kinetics(root, subset="test")
    assert [(v.path.name, v.label) for v in videos] == [("ddd_000000_000010.mp4", -1)]
    assert classes == ["abseiling", "air drumming"] and missing == []
    _crlf(root / "annotations/val.csv", header, "abseiling,ccc,1")
    with pytest.raises(SplitFileError, match=r"val\.csv:2: expected 5 fields"):
        read_kinetics(root, subset="val")


def test_list_file_mmaction2_style(tmp_path):
    root = tmp_path / "videos"
    _touch(root, "x/one.mp4", "y/two.webm")
    lst = tmp_path / "lists" / "train.txt"
    _crlf(lst, "x/one.mp4 0", "y/two.webm 2", "z/three.avi 1")
    _crlf(tmp_path / "lists" / "classes.txt", "walk", "run", "jump")
    for ann in (lst, lst.parent):  # the file itself, or its folder
        videos, classes, missing = read_list(root, subset="train", annotations=ann)
        assert classes == ["walk", "run", "jump"]
        assert [(v.path.name, v.label) for v in videos] == [("one.mp4", 0), ("two.webm", 2)]
        assert missing == [root / "z/three.avi"]
    _crlf(lst, "x/one.mp4 0", "y/two.webm")
    with pytest.raises(SplitFileError, match=r"train\.txt:2"):
        read_list(root, subset="train", annotations=lst)


def test_list_file_class_index_beside_it(tmp_path):
    _touch(tmp_path, "a.mp4")
    lst = _crlf(tmp_path / "lists" / "train.txt", "a.mp4 1")
    _crlf(lst.parent / "classInd.txt", "1 Walk", "2 Run Fast")
    assert read_list(tmp_path, annotations=lst)[1] == ["Walk", "Run Fast"]
    _crlf(lst.parent / "classInd.txt", "1 Walk", "Run")
    with pytest.raises(SplitFileError, match=r"classInd\.txt:2: expected '<index> <Name>'"):
        read_list(tmp_path, annotations=lst)


def test_folder_reader(tmp_path):
    _touch(tmp_path, "b/1.avi", "a/2.MP4", "a/notes.txt", "c/3.mkv")
    videos, classes, missing = read_folder(tmp_path)
    assert classes == ["a", "b", "c"]
    assert sorted((v.path.name, v.label) for v in videos) == [
        ("1.avi", 1),
        ("2.MP4", 0),
        ("3.mkv", 2),
    ]
    assert missing == []


def test_missing_annotations_say_where_they_were_looked_for(tmp_path):
    (tmp_path / "UCF-101").mkdir()
    with pytest.raises(FileNotFoundError, match="--annotations"):
        read_ucf101(tmp_path / "UCF-101", subset="train")


@pytest.mark.parametrize(
    "reader", [read_ucf101, read_hmdb51, read_kinetics, read_list, read_folder]
)
def test_mistyped_root_is_an_error_even_with_split_files_in_its_parent(ucf, reader):
    root, _ = ucf  # ucfTrainTestlist/ is in ROOT's parent, so a mistyped ROOT finds it too
    with pytest.raises(FileNotFoundError, match="dataset root not found: .*UCF-10l$"):
        reader(root.parent / "UCF-10l", subset="train")


@pytest.mark.parametrize("reader", [read_ucf101, read_hmdb51, read_kinetics])
def test_annotations_must_be_a_folder(ucf, reader):
    root, ann = ucf
    with pytest.raises(NotADirectoryError, match="must be the folder of split files.*got a file"):
        reader(root, subset="train", annotations=ann / "trainlist01.txt")


def test_names_with_spaces_accents_dots_and_brackets_in_every_split_format(tmp_path):
    """The label is the LAST field of a line and the path all before it."""
    root = tmp_path / "UCF 101 (mine)"
    walk, run = "Walk/v Walk g01 c01 café.avi", "Run Fast/v_Run.Fast [2]_g01_c01.avi"
    _touch(root, walk, run)
    ann = tmp_path / "ucfTrainTestlist"
    _crlf(ann / "classInd.txt", "1 Walk", "2 Run Fast")
    _crlf(ann / "trainlist01.txt", f"{walk} 1", f"{run} 2")
    _crlf(ann / "testlist01.txt", walk, f"{run} 2")  # a label in a test list is not needed
    train, classes, missing = read_ucf101(root, subset="train", annotations=ann)
    assert classes == ["Walk", "Run Fast"] and missing == []
    assert [(v.path, v.label) for v in train] == [(root / walk, 0), (root / run, 1)]
    test, _, missing = read_ucf101(root, subset="test", annotations=ann)
    assert [(v.path, v.label) for v in test] == [(root / walk, 0), (root / run, 1)]
    _crlf(ann / "trainlist01.txt", walk)  # no label: still says what a line must be
    with pytest.raises(SplitFileError, match=r"trainlist01\.txt:1: expected 'Class/video\.avi"):
        read_ucf101(root, subset="train", annotations=ann)

    lst = _crlf(tmp_path / "lists" / "train.txt", f"{walk} 0", f"{run} 1")
    _crlf(lst.parent / "classes.txt", "Walk", "Run Fast")
    videos, classes, missing = read_list(root, annotations=lst)
    assert [v.path for v in videos] == [root / walk, root / run] and missing == []

    hmdb = tmp_path / "hmdb"
    _crlf(hmdb / "ann" / "brush hair_test_split1.txt", "Anna kämmt sich [HD].avi 1")
    _touch(hmdb, "brush hair/Anna kämmt sich [HD].avi")
    videos, classes, _ = read_hmdb51(hmdb, subset="train", annotations=hmdb / "ann")
    assert classes == ["brush hair"] and videos[0].path.name == "Anna kämmt sich [HD].avi"


def test_folder_given_layout_is_used_as_given(tmp_path):
    _touch(
        tmp_path,
        "train/run fast/a.mp4",
        "train/walk/b.mp4",
        "train/walk/.c.mp4",  # hidden (macOS's ._ files): skipped
        "val/walk/d.mp4",
        "test/run fast/e.mp4",
    )
    train, classes, _ = read_folder(tmp_path, subset="train")
    assert classes == ["run fast", "walk"] and [v.path.name for v in train] == ["a.mp4", "b.mp4"]
    val, classes, _ = read_folder(tmp_path, subset="val")
    assert classes == ["run fast", "walk"] and [(v.path.name, v.label) for v in val] == [
        ("d.mp4", 1)
    ]
    assert read_folder.test_subset(tmp_path) == "test"
    _touch(tmp_path, "val/jump/f.mp4")
    with pytest.raises(ValueError, match=r"'jump' .*not classes of the training set"):
        read_folder(tmp_path, subset="val")


def test_flat_folder_has_no_val_without_a_split(tmp_path):
    _touch(tmp_path, "train/a.mp4", "walk/b.mp4")  # a class called "train": flat
    videos, classes, _ = read_folder(tmp_path, subset="train")
    assert classes == ["train", "walk"] and len(videos) == 2
    assert read_folder.test_subset(tmp_path) == "val"
    with pytest.raises(FileNotFoundError, match=r"--annotations RUN_DIR/splits"):
        read_folder(tmp_path, subset="val")
