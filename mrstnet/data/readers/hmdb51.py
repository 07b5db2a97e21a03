"""HMDB51 (Kuehne et al., 2013; paper §4.1): three official train/test splits.

`testTrainMulti_7030_splits/` holds <class>_test_split{N}.txt with lines "<name>.avi <0|1|2>"
(1 train, 2 test, 0 unused); classes are the file names' classes, sorted. Videos are at
<root>/<class>/<name>.avi.
"""

from __future__ import annotations

from pathlib import Path

from .common import (
    Index,
    Reader,
    SplitFileError,
    VideoRecord,
    labelled,
    split_existing,
    text_lines,
)


def _read(root: Path, ann: Path, *, subset: str, split: int) -> Index:
    """The videos of `subset` ("train" or "test") in official split `split` (1 to 3)."""
    suffix = f"_test_split{split}.txt"
    files = sorted(p for p in ann.iterdir() if p.name.endswith(suffix))
    if not files:
        raise FileNotFoundError(f"no *{suffix} files in {ann}")
    classes = [p.name[: -len(suffix)] for p in files]
    want = {"train": "1", "test": "2"}.get(subset)
    if want is None:
        raise ValueError(f"HMDB51 subsets are 'train' and 'test', not {subset!r}")
    videos = []
    for label, (name, path) in enumerate(zip(classes, files, strict=True)):
        for n, line in text_lines(path):
            pair = labelled(line)  # the code is the last field: a name may hold spaces
            if pair is None or pair[1] not in ("0", "1", "2"):
                raise SplitFileError(path, n, "expected '<video>.avi <0|1|2>'", line)
            if pair[1] == want:
                videos.append(VideoRecord(root / name / pair[0], label))
    found, missing = split_existing(videos)
    return found, classes, missing


read_hmdb51 = Reader(_read, splits=3, annotations="testTrainMulti_7030_splits")
