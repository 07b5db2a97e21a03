"""UCF-101 (Soomro et al., 2012; paper §4.1): three official train/test splits.

`ucfTrainTestlist/` holds classInd.txt ("1 ApplyEyeMakeup", 1-based), trainlist0N.txt
("Class/v.avi 1", 1-based label) and testlist0N.txt ("Class/v.avi", label from the folder);
the official files have CRLF endings. Videos are at <root>/<Class>/<name>.avi.
"""

from __future__ import annotations

from pathlib import Path

from .common import Index, Reader, SplitFileError, VideoRecord, split_existing, text_lines


def _read(root: Path, ann: Path, *, subset: str, split: int) -> Index:
    """The videos of `subset` ("train" or "test") in official split `split` (1 to 3)."""
    classes: list[str] = []
    ind = ann / "classInd.txt"
    for n, line in text_lines(ind):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
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
        parts = line.split()
        rel = parts[0]
        folder = rel.split("/")[0].lower()
        if "/" not in rel or folder not in by_name:
            raise SplitFileError(
                lst, n, "expected 'Class/video.avi' with a class of classInd.txt", line
            )
        if subset == "train":
            if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise SplitFileError(
                    lst, n, f"expected 'Class/video.avi <1..{len(classes)}>'", line
                )
            label = int(parts[1]) - 1
        else:
            if len(parts) > 2:
                raise SplitFileError(lst, n, "expected 'Class/video.avi'", line)
            label = by_name[folder]
        videos.append(VideoRecord(root / rel, label))
    found, missing = split_existing(videos)
    return found, classes, missing


read_ucf101 = Reader(_read, splits=3, annotations="ucfTrainTestlist")
