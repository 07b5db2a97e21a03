"""Any folder of class folders, <root>/<class>/*.<video ext>: every video, classes sorted.
There is no split information, so every subset is all the videos."""

from __future__ import annotations

import os
from pathlib import Path

from .common import VIDEO_EXTENSIONS, Index, Reader, VideoRecord


def _read(root: Path, ann: Path | None, *, subset: str, split: int) -> Index:
    """Every video under `root`; `ann`, `subset` and `split` are ignored."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    videos = [
        VideoRecord(root / c / f, label)
        for label, c in enumerate(classes)
        for f in sorted(os.listdir(root / c))
        if os.path.splitext(f)[1].lower() in VIDEO_EXTENSIONS
    ]
    if not videos:
        raise FileNotFoundError(f"no videos in class folders under {root}")
    return videos, classes, []


read_folder = Reader(_read, subsets=("train",))
