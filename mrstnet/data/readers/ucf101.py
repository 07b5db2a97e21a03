"""UCF-101 (Soomro et al., 2012; paper §4.1): three official train/test splits.

`ucfTrainTestlist/` holds classInd.txt ("1 ApplyEyeMakeup", 1-based), trainlist0N.txt
("Class/v.avi 1", 1-based label) and testlist0N.txt ("Class/v.avi", label from the folder);
the official files have CRLF endings. Videos are at <root>/<Class>/<name>.avi.
"""

from __future__ import annotations

from pathlib import Path

from .common import (
    Index,
    Reader,
    SplitFileError,
    VideoRecord,
    is_index,
    is_video_name,
    labelled,
    split_existing,
    text_lines,
)


def _test_line(line: str) -> str:
    """The path of a testlist line: the whole line ("Class/video.avi", the official format),
    or all but a last field that is a number after a video name (a label, not used: the
    class is the folder's)."""
    pair = labelled(line)
    if pair is not None and is_index(pair[1]) and is_video_name(pair[0]):
        return pair[0]
    return line


def _read(root: Path, ann: Path, *, subset: str, split: int) -> Index:
    """The videos of `subset` ("train" or "test") in official split `split` (1 to 3). A
    name may hold spaces: a train line's label is its last field, the path what is before."""
    classes: list[str] = []
    ind = ann / "classInd.txt"
    for n, line in text_lines(ind):
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not is_index(parts[0]):
            raise SplitFileError(ind, n, "expected '<index> <ClassName>'", line)
        if int(parts[0]) != len(classes) + 1:
            raise SplitFileError(ind, n, f"expected class index {len(classes) + 1}", line)
        classes.append(parts[1])
    if not classes:
        raise SplitFileError(ind, None, "no classes")
    by_name = {c.lower(): i for i, c in enumerate(classes)}
    if subset not in ("train", "test"):
        raise ValueError(f"UCF-101 subsets are 'train' and 'test', not {subset!r}")
    lst = ann / f"{subset}list0{split}.txt"
    videos = []
    for n, line in text_lines(lst):
        if subset == "train":
            pair = labelled(line)
            if pair is None or not is_index(pair[1]) or not 1 <= int(pair[1]) <= len(classes):
                raise SplitFileError(
                    lst, n, f"expected 'Class/video.avi <1..{len(classes)}>'", line
                )
            rel, label = pair[0], int(pair[1]) - 1
        else:
            rel = _test_line(line)
            label = by_name.get(rel.split("/")[0].lower(), -1)
        if "/" not in rel or rel.split("/")[0].lower() not in by_name:
            raise SplitFileError(
                lst, n, "expected 'Class/video.avi' with a class of classInd.txt", line
            )
        videos.append(VideoRecord(root / rel, label))
    found, missing = split_existing(videos)
    return found, classes, missing


read_ucf101 = Reader(_read, splits=3, annotations="ucfTrainTestlist")
