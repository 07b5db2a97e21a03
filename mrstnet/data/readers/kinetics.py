"""Kinetics-400 (Kay et al., 2017; paper §4.1): train, val and an unlabelled test set.

`annotations/<subset>.csv` has the header label,youtube_id,time_start,time_end,split; videos
are at <root>/<subset>/<label>/<youtube_id>_<start:06d>_<end:06d>.<ext>. Label folders may
use '_' for spaces and any video extension. A row without a label (or a CSV without the
column, as the official test.csv) is unlabelled: label -1, video directly in
<root>/<subset>/. Missing videos are returned, not raised: every real copy of Kinetics lacks
some. Classes: the sorted labels of train.csv.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .common import VIDEO_EXTENSIONS, Index, Reader, SplitFileError, VideoRecord, text_lines


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) of a CSV's data rows."""
    lines = text_lines(path)
    if not lines:
        raise SplitFileError(path, None, "empty CSV")
    header = next(csv.reader([lines[0][1]]))
    need = {"youtube_id", "time_start", "time_end"}  # "label" is optional: see above
    if not need <= set(header):
        raise SplitFileError(path, lines[0][0], f"header must have {sorted(need)}", lines[0][1])
    out = []
    for n, line in lines[1:]:
        values = next(csv.reader([line]))
        if len(values) != len(header):
            raise SplitFileError(path, n, f"expected {len(header)} fields", line)
        out.append((n, dict(zip(header, values, strict=True))))
    return out


def _read(root: Path, ann: Path, *, subset: str, split: int) -> Index:
    """The videos of `subset` ("train", "val" or "test"); `split` is ignored (one split).
    FileNotFoundError when the subset has no CSV."""
    table = ann / f"{subset}.csv"
    if not table.is_file():
        raise FileNotFoundError(f"no {subset}.csv in {ann}")
    labelled = ann / "train.csv" if (ann / "train.csv").is_file() else table
    classes = sorted({r.get("label", "") for _, r in _rows(labelled)} - {""})
    by_name = {c: i for i, c in enumerate(classes)}
    stems: dict[Path, dict[str, str]] = {}

    def locate(folder: Path, stem: str) -> Path | None:
        if folder not in stems:
            stems[folder] = {}
            if folder.is_dir():
                for entry in os.scandir(folder):
                    base, ext = os.path.splitext(entry.name)
                    if ext.lower() in VIDEO_EXTENSIONS:
                        stems[folder].setdefault(base, entry.name)
        name = stems[folder].get(stem)
        return folder / name if name else None

    videos, missing = [], []
    for n, r in _rows(table):
        try:
            start, end = int(float(r["time_start"])), int(float(r["time_end"]))
            stem = f"{r['youtube_id']}_{start:06d}_{end:06d}"
        except ValueError as exc:
            raise SplitFileError(table, n, "time_start/time_end must be numbers") from exc
        label_name = r.get("label", "")  # none in the official test set
        if label_name and label_name not in by_name:
            raise SplitFileError(
                table, n, f"label {label_name!r} is not a class of {labelled.name}"
            )
        label = by_name.get(label_name, -1)
        base = root / subset
        folders = (
            [base / label_name, base / label_name.replace(" ", "_"), base] if label_name else [base]
        )
        path = next((p for f in folders if (p := locate(f, stem)) is not None), None)
        if path is None:
            missing.append(folders[0] / f"{stem}.mp4")
        else:
            videos.append(VideoRecord(path, label))
    return videos, classes, missing


read_kinetics = Reader(
    _read,
    subsets=("train", "val", "test"),
    optional=("test",),  # the official test.csv is not in every copy
    held_out="val",
    annotations="annotations",
)
