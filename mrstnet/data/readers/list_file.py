"""mmaction2-style list files: "relative/path.ext <label index>" per line (the label is the
last field, so a path may hold spaces), paths relative to the dataset root, class names from
a file beside the list (or the label numbers). `mrstnet train` writes a folder run's split in
this format (RUN_DIR/splits)."""

from __future__ import annotations

from pathlib import Path

from .common import (
    Index,
    Reader,
    SplitFileError,
    VideoRecord,
    is_index,
    labelled,
    split_existing,
    text_lines,
)


def _list_file(folder: Path, subset: str, split: int) -> Path:
    names = [
        f"{subset}list0{split}.txt",
        f"{subset}list.txt",
        f"{subset}.txt",
        f"{subset}_list.txt",
    ]
    found = [folder / n for n in names if (folder / n).is_file()]
    if not found:
        raise FileNotFoundError(
            f"no list file for {subset!r} in {folder} (tried {', '.join(names)})"
        )
    return found[0]


def _class_names(folder: Path, num: int) -> list[str]:
    """From classInd.txt ("1 Name") or classes.txt (one name a line), else the numbers."""
    ind = folder / "classInd.txt"
    if ind.is_file():
        classes = []
        for n, line in text_lines(ind):
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not is_index(parts[0]):
                raise SplitFileError(ind, n, "expected '<index> <Name>'", line)
            classes.append(parts[1])
        return classes
    if (folder / "classes.txt").is_file():
        return [line for _, line in text_lines(folder / "classes.txt")]
    return [str(i) for i in range(num)]


def read_list_file(root: Path, path: Path) -> Index:
    """The videos of one list file, paths relative to `root`. The label is the last field
    of a line and the path all before it, so names with spaces, dots and brackets parse."""
    videos = []
    for n, line in text_lines(path):
        pair = labelled(line)
        if pair is None or not is_index(pair[1]):
            raise SplitFileError(path, n, "expected '<relative path> <label index>'", line)
        videos.append(VideoRecord(root / pair[0], int(pair[1])))
    num = max((v.label for v in videos), default=-1) + 1
    classes = _class_names(path.parent, num)
    if num > len(classes):
        raise SplitFileError(path, None, f"label {num - 1} but only {len(classes)} class names")
    found, missing = split_existing(videos)
    return found, classes, missing


def _read(root: Path, ann: Path | None, *, subset: str, split: int) -> Index:
    """The videos of a list file. `ann` is the list file itself, or a folder holding
    `<subset>list0<split>.txt`, `<subset>list.txt`, `<subset>.txt` or `<subset>_list.txt`
    (first found; default: ROOT). FileNotFoundError when the folder has none."""
    ann = root if ann is None else ann
    if ann.is_dir():
        ann = _list_file(ann, subset, split)
    return read_list_file(root, ann)


read_list = Reader(_read, optional=("test",))  # a list-file dataset may have no test list
