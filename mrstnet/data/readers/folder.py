"""Your own videos: a folder of class folders, in one of two layouts.

    flat    ROOT/<class>/<video>             every video in one pool; `mrstnet train` splits
                                             it into train and val (mrstnet.data.folder_split)
                                             and writes the split to RUN_DIR/splits
    given   ROOT/train/<class>/<video>       the subsets as given; val/ and test/ optional
            ROOT/val/<class>/<video>         (without val/, training splits train/)
            ROOT/test/<class>/<video>

ROOT is in the given layout when it holds train/ and no folder but train/, val/ and test/
(so a flat folder may still have a class called "train"). Classes are the class folders,
sorted (those of train/ in the given layout). Hidden files and folders (".DS_Store",
macOS's "._clip.mp4") are skipped; any name otherwise, spaces and non-ASCII letters included.

`annotations`, when given, is a split folder as `mrstnet train` writes (RUN_DIR/splits:
`train.txt`, `val.txt` in the list-file format, `classes.txt`): a subset listed there is read
from it, any other from the given layout's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .common import Index, Reader, VideoRecord, is_video_name
from .list_file import read_list_file

SUBSETS = ("train", "val", "test")


def _folders(path: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def is_given_layout(root: Path | str) -> bool:
    """Whether ROOT holds train/ (and maybe val/, test/) and no other folder."""
    folders = set(_folders(Path(root)))
    return "train" in folders and folders <= set(SUBSETS)


def scan(base: Path, classes: list[str] | None = None) -> tuple[list[VideoRecord], list[str]]:
    """The videos in the class folders of `base`, labelled by `classes` (default: the class
    folders, sorted). ValueError for a class folder that is not one of `classes`."""
    folders = _folders(base)
    classes = folders if classes is None else classes
    label = {c: i for i, c in enumerate(classes)}
    unknown = [f for f in folders if f not in label]
    if unknown:
        raise ValueError(
            f"{base}: class folder(s) {', '.join(map(repr, unknown))} are not classes of the "
            f"training set ({', '.join(classes)})"
        )
    videos = [
        VideoRecord(base / c / f, label[c])
        for c in folders
        for f in sorted(os.listdir(base / c))
        if is_video_name(f) and not f.startswith(".") and (base / c / f).is_file()
    ]
    return videos, classes


def test_subset(root: Path) -> str:
    """What `mrstnet test` reads without --subset: test/ when the given layout has one,
    else the validation videos (val/, or the split a training run wrote)."""
    return "test" if is_given_layout(root) and (root / "test").is_dir() else "val"


def _read(root: Path, ann: Path | None, *, subset: str, split: int) -> Index:
    """The videos of `subset` ("train", "val" or "test"); `split` is ignored (one split).
    In the flat layout without a split folder, "train" is every video."""
    if subset not in SUBSETS:
        raise ValueError(f"folder subsets are {', '.join(SUBSETS)}, not {subset!r}")
    if ann is not None:
        if not ann.is_dir():
            raise NotADirectoryError(
                f"--annotations for --dataset folder is a split folder (RUN_DIR/splits, "
                f"holding train.txt and val.txt), got: {ann}"
            )
        if (ann / f"{subset}.txt").is_file():
            return read_list_file(root, ann / f"{subset}.txt")
    base = root
    if is_given_layout(root):
        base = root / subset
        if not base.is_dir():
            raise FileNotFoundError(f"no {subset}/ folder in {root}")
        classes = _folders(root / "train")
        videos, classes = scan(base, classes)
    elif ann is not None:
        raise FileNotFoundError(f"no {subset}.txt in the split folder {ann}")
    elif subset != "train":
        raise FileNotFoundError(
            f"{root} is one folder of class folders, with no {subset}/ beside a train/: "
            f"{subset} videos come from the split `mrstnet train` wrote (RUN_DIR/splits, "
            "found beside the run's checkpoint, or --annotations RUN_DIR/splits)"
        )
    else:
        videos, classes = scan(root)
    if not videos:
        raise FileNotFoundError(f"no videos in class folders under {base}")
    return videos, classes, []


read_folder = Reader(
    _read,
    subsets=SUBSETS,
    optional=("val", "test"),  # the flat layout has neither until a run splits it
    held_out="val",
    pick_test=test_subset,
)
