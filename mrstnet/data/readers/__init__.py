"""Annotation formats, one module each, and `READERS`: the one table of the formats that
`--dataset NAME` accepts (the CLI's choices come from it).

A reader turns annotation files and a directory listing into `(videos, classes, missing)`;
it never opens a video (`mrstnet.data.datasets` does that, lazily). Each format module
defines a read function and its `Reader`, which says what the format holds (subsets,
official splits, annotation folder). A new format is one such module and one entry here.

Where things are: `root` holds the class folders of videos (for Kinetics-400, the folder that
holds `train/`, `val/`, ...). `annotations` is the folder of split or CSV files; without it
the official folder name is looked up in `root`, then in `root`'s parent.
"""

from __future__ import annotations

from .common import (
    VIDEO_EXTENSIONS,
    Index,
    Reader,
    SplitFileError,
    VideoRecord,
    dataset_root,
    find_annotations,
    labelled,
    text_lines,
)
from .folder import read_folder
from .hmdb51 import read_hmdb51
from .kinetics import read_kinetics
from .list_file import read_list
from .ucf101 import read_ucf101

READERS: dict[str, Reader] = {
    "ucf101": read_ucf101,
    "hmdb51": read_hmdb51,
    "kinetics": read_kinetics,
    "list": read_list,
    "folder": read_folder,
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
    "labelled",
    "read_folder",
    "read_hmdb51",
    "read_kinetics",
    "read_list",
    "read_ucf101",
    "split_datasets",
    "split_numbers",
    "text_lines",
]
