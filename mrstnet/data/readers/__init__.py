"""Annotation formats, one module each, and `READERS`: the one table of the formats that
`--dataset NAME` accepts (the CLI's choices come from it).

A reader turns annotation files and a directory listing into `(videos, classes, missing)`;
it never opens a video (`mrstnet.data.datasets` does that, lazily). Its table entry says
what the format holds: its subsets, its official splits and annotation folder. A new format
is one module with a `read_*` function and one entry here.

Where things are: `root` holds the class folders of videos (for Kinetics-400, the folder that
holds `train/`, `val/`, ...). `annotations` is the folder of split or CSV files; without it
the official folder name is looked up in `root`, then in `root`'s parent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import hmdb51, kinetics, ucf101
from .common import (
    VIDEO_EXTENSIONS,
    Index,
    SplitFileError,
    VideoRecord,
    dataset_root,
    find_annotations,
)
from .folder import read_folder
from .hmdb51 import read_hmdb51
from .kinetics import read_kinetics
from .list_file import read_list
from .ucf101 import read_ucf101


@dataclass(frozen=True)
class Reader:
    """One annotation format. Calling it reads one subset: `(videos, classes, missing)`."""

    read: Callable[..., Index]  # (root, *, subset, split, annotations) -> Index
    subsets: tuple[str, ...] = ("train", "test")  # what it lists (`mrstnet data check` reads all)
    optional: tuple[str, ...] = ()  # subsets whose annotation file may be absent
    # the labelled held-out subset when the format fixes it (Kinetics: val; its test set has
    # no labels); None: `mrstnet test` reads "test" and validation the config's val_subset
    held_out: str | None = None
    splits: int = 1  # official splits, numbered from 1 (`--split all` runs them all)
    annotations: str | None = None  # official annotation folder, looked up in ROOT, ROOT/..

    def __call__(
        self,
        root: Path | str,
        *,
        subset: str = "train",
        split: int = 1,
        annotations: Path | str | None = None,
    ) -> Index:
        return self.read(root, subset=subset, split=split, annotations=annotations)


READERS: dict[str, Reader] = {
    "ucf101": Reader(read_ucf101, splits=3, annotations=ucf101.ANNOTATIONS),
    "hmdb51": Reader(read_hmdb51, splits=3, annotations=hmdb51.ANNOTATIONS),
    "kinetics": Reader(
        read_kinetics,
        subsets=("train", "val", "test"),
        optional=("test",),
        held_out="val",
        annotations=kinetics.ANNOTATIONS,
    ),
    "list": Reader(read_list, optional=("test",)),
    "folder": Reader(read_folder, subsets=("train",)),
}


def get_reader(name: str) -> Reader:
    """`READERS[name]`, or a ValueError that lists the formats."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(READERS)}")
    return READERS[name]


def split_datasets() -> list[str]:
    """The formats with several official splits (what `--split all` accepts)."""
    return [name for name, r in READERS.items() if r.splits > 1]


def split_numbers() -> list[int]:
    """1 to the most official splits of any format (the CLI's `--split` choices)."""
    return list(range(1, max(r.splits for r in READERS.values()) + 1))


__all__ = [
    "READERS",
    "VIDEO_EXTENSIONS",
    "Index",
    "Reader",
    "SplitFileError",
    "VideoRecord",
    "dataset_root",
    "find_annotations",
    "get_reader",
    "read_folder",
    "read_hmdb51",
    "read_kinetics",
    "read_list",
    "read_ucf101",
    "split_datasets",
    "split_numbers",
]
