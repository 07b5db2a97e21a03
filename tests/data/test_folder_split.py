"""The split of your own folder: stratified, grouped by source, seeded; written as list files
that read back through the folder and list readers, names with spaces and accents included."""

import json
import unicodedata
from collections import Counter

import pytest

from mrstnet.data.folder_split import (
    DEFAULT_GROUP_REGEX,
    compile_group_regex,
    group_key,
    make_split,
    write_split,
)
from mrstnet.data.readers import read_folder, read_list
from mrstnet.data.readers.folder import scan

from .own_folder import CLASSES, clip_name, touch


def _pool(tmp_path, per_class=(10, 10, 10, 10), groups=5, classes=CLASSES):
    root = tmp_path / "mine"
    for cls, n in zip(classes, per_class, strict=True):
        touch(root, *(f"{cls}/{clip_name(cls, j % groups + 1, j // groups + 1)}" for j in range(n)))
    return root, *scan(root)


def _keys(videos):
    pattern = compile_group_regex(DEFAULT_GROUP_REGEX)
    return {group_key(v.path.name, pattern) for v in videos}


def test_default_groups_read_ucf_names_with_underscores_or_spaces():
    pattern = compile_group_regex(DEFAULT_GROUP_REGEX)
    assert group_key("v_ApplyEyeMakeup_g08_c01.avi", pattern) == "v_ApplyEyeMakeup_g08"
    assert group_key("v Run fast g02 c11 (take 1).ü.avi", pattern) == "v Run fast g02"
    assert group_key("holiday.mp4", pattern) is None  # its own group
    whole = compile_group_regex(r"session\d+")  # no group: the whole match
    assert group_key("walk session12 part3.mp4", whole) == "session12"


def test_split_is_stratified_and_grouped(tmp_path):
    root, videos, classes = _pool(tmp_path, per_class=(10, 10, 20, 5))
    split = make_split(videos, classes, val_fraction=0.2)
    val, train = Counter(v.label for v in split.val), Counter(v.label for v in split.train)
    # each class holds out its share: 2 of 10 (groups of 2), 4 of 20, 1 of 5
    assert [val[c] for c in range(4)] == [2, 2, 4, 1]
    assert [train[c] for c in range(4)] == [8, 8, 16, 4]
    assert not _keys(split.train) & _keys(split.val)  # no source on both sides
    assert sorted(map(str, (v.path for v in split.train + split.val))) == sorted(
        str(v.path) for v in videos
    )


def test_a_source_shared_by_classes_stays_on_one_side(tmp_path):
    """One recording cut into clips of several actions: every clip on one side."""
    root = tmp_path / "mine"
    for cls in ("jump", "sit"):
        touch(root, *(f"{cls}/rec{r} {cls} part{p}.mp4" for r in range(1, 6) for p in (1, 2)))
    videos, classes = scan(root)
    split = make_split(videos, classes, val_fraction=0.4, group_regex=r"^rec(\d+)")
    rec = {v.path.name.split()[0] for v in split.val}
    assert rec and not rec & {v.path.name.split()[0] for v in split.train}
    assert Counter(v.label for v in split.val) == {0: 4, 1: 4}


def test_split_is_seeded(tmp_path):
    root, videos, classes = _pool(tmp_path)
    a = make_split(videos, classes, val_fraction=0.2, seed=0)
    again = make_split(list(reversed(videos)), classes, val_fraction=0.2, seed=0)
    other = make_split(videos, classes, val_fraction=0.2, seed=1)
    assert [v.path for v in a.val] == [v.path for v in again.val]
    assert {v.path for v in a.val} != {v.path for v in other.val}
    out0, out1 = write_split(tmp_path / "s0", root, a), write_split(tmp_path / "s1", root, again)
    for name in ("train.txt", "val.txt", "classes.txt", "split.json"):
        assert (out0 / name).read_bytes() == (out1 / name).read_bytes()


def test_every_class_gets_a_video_on_each_side(tmp_path):
    # 2 videos of 2 groups: 20% of 2 rounds to none, yet validation needs one
    root, videos, classes = _pool(tmp_path, per_class=(2, 3, 30, 2), groups=3)
    split = make_split(videos, classes, val_fraction=0.2)
    assert set(Counter(v.label for v in split.val)) == set(Counter(v.label for v in split.train))
    assert len(set(Counter(v.label for v in split.val))) == 4
    split = make_split(videos, classes, val_fraction=0.9)
    assert len(set(Counter(v.label for v in split.train))) == 4


def test_too_few_videos_or_groups_is_an_error_naming_the_class(tmp_path):
    root = tmp_path / "mine"
    touch(
        root,
        *(f"many/{clip_name('many', g, 1)}" for g in range(1, 4)),
        f"lonely walk/{clip_name('lonely walk', 1, 1)}",
        *(f"one group/{clip_name('one group', 1, c)}" for c in range(1, 4)),
    )
    videos, classes = scan(root)
    with pytest.raises(ValueError) as e:
        make_split(videos, classes, val_fraction=0.2)
    text = str(e.value)
    assert "class 'lonely walk' has 1 video," in text
    assert "class 'one group' has 3 videos in 1 group" in text
    assert "'many'" not in text and "ROOT/train/ and ROOT/val/" in text


def test_val_fraction_zero_trains_on_every_video(tmp_path):
    root, videos, classes = _pool(tmp_path)
    split = make_split(videos, classes, val_fraction=0)
    assert len(split.train) == len(videos) and split.val == []
    with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
        make_split(videos, classes, val_fraction=1.0)


def test_written_split_reads_back_with_names_as_people_write_them(tmp_path):
    root, videos, classes = _pool(tmp_path)
    folder = write_split(
        tmp_path / "run" / "splits", root, make_split(videos, classes, val_fraction=0.2)
    )
    lines = (folder / "val.txt").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("café [é]/v café [é] g0") for line in lines)
    record = json.loads((folder / "split.json").read_text(encoding="utf-8"))
    assert "走る" in (folder / "split.json").read_text(encoding="utf-8")  # not \\u8d70
    assert record["classes"]["走る"] == {"train": 8, "val": 2, "groups": 5}
    for reader, ann in ((read_folder, folder), (read_list, folder / "val.txt")):
        subset = "val"
        found, names, missing = reader(root, subset=subset, annotations=ann)
        assert names == CLASSES and missing == [] and len(found) == 8
        assert all(v.path.is_file() and CLASSES[v.label] == v.path.parent.name for v in found)


def test_a_name_that_cannot_be_a_list_line_is_refused(tmp_path):
    root = tmp_path / "mine"
    touch(root, *(f"a/{n}" for n in ("x g01 c01.mp4", "x g02 c01.mp4", "x g03\nc01.mp4")))
    touch(root, *(f"b/{n}" for n in ("y g01 c01.mp4", "y g02 c01.mp4")))
    videos, classes = scan(root)
    with pytest.raises(ValueError, match=r"x g03\\nc01.mp4.*a line break.* rename it"):
        write_split(tmp_path / "s", root, make_split(videos, classes, val_fraction=0.5))
    (root / "a" / "x g03\nc01.mp4").unlink()
    (root / " b").mkdir()  # stripped from its line in classes.txt: refused
    touch(root, *(f" b/{n}" for n in ("z g01 c01.mp4", "z g02 c01.mp4")))
    videos, classes = scan(root)
    with pytest.raises(ValueError, match=r"class folder ' b': rename it"):
        write_split(tmp_path / "s", root, make_split(videos, classes, val_fraction=0.5))


def test_unicode_forms_of_a_name_match_on_disk(tmp_path):
    """A split file typed with "é" composed finds the file macOS wrote decomposed."""
    nfd = unicodedata.normalize("NFD", "Café/v Café g01 c01.avi")
    touch(tmp_path, nfd)
    lst = tmp_path / "val.txt"
    lst.write_text(unicodedata.normalize("NFC", "Café/v Café g01 c01.avi") + " 0\n", "utf-8")
    found, _, missing = read_list(tmp_path, subset="val", annotations=lst)
    assert missing == [] and found[0].path.is_file() and str(found[0].path).endswith(nfd)
