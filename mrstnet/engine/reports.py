"""Writing predictions as they come: CSV rows flushed one by one, JSON written at the end.

CSV goes through the csv module (UTF-8, fields with commas, quotes, line breaks or
brackets quoted as RFC 4180 says), so any file name survives a round trip. JSON keeps
non-ASCII letters as they are (`ensure_ascii=False`). A run stopped half-way (an error,
Ctrl-C) still leaves every row written so far in the CSV, and :class:`Report` writes the
JSON of what it has, marked `"complete": false`.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path


def write_json(path: str | Path, obj) -> Path:
    """UTF-8 JSON, non-ASCII kept; written to a temporary file then renamed over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


class CsvStream:
    """A CSV file written row by row, each row flushed to the OS at once."""

    def __init__(self, path: str | Path, header: list[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        self.row(header)

    def row(self, values) -> None:
        self.writer.writerow(values)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def top_columns(k: int) -> list[str]:
    return [name for i in range(1, k + 1) for name in (f"class_{i}", f"prob_{i}")]


def top_cells(top: list[dict], k: int) -> list:
    """`top_columns(k)` values of one prediction; empty cells where fewer classes exist."""
    cells: list = []
    for t in top[:k]:
        cells += [t["class"], f"{t['prob']:.6f}"]
    return cells + [""] * (2 * k - len(cells))


def top_text(top: list[dict], k: int = 3) -> str:
    """`MoveLeft 87.1%  MoveUp 9.0%` for a console line."""
    return "  ".join(f"{t['class']} {t['prob']:.1%}" for t in top[:k])


class Report:
    """The outputs of one command: an optional streamed CSV and an optional JSON file.

    Use as a context manager; `rows` are CSV rows, `records` go into the JSON under `key`
    with `meta` beside them. On leaving, the JSON is written whatever happened."""

    def __init__(
        self,
        *,
        csv_path=None,
        json_path=None,
        header: list[str] | None = None,
        key: str = "predictions",
        meta: dict | None = None,
    ):
        self.csv = CsvStream(csv_path, header or []) if csv_path else None
        self.json_path = json_path
        self.key = key
        self.meta = dict(meta or {})
        self.records: list[dict] = []
        self.complete = False

    def __enter__(self) -> Report:
        return self

    def add(self, record: dict, row: list | None = None) -> None:
        self.records.append(record)
        if self.csv is not None and row is not None:
            self.csv.row(row)

    def finish(self, **extra) -> None:
        """Mark the run complete (before leaving the `with`), adding `extra` to the JSON."""
        self.meta.update(extra)
        self.complete = True

    def __exit__(self, *exc) -> None:
        if self.csv is not None:
            self.csv.close()
        if self.json_path:
            write_json(
                self.json_path, {**self.meta, "complete": self.complete, self.key: self.records}
            )


__all__ = ["CsvStream", "Report", "top_cells", "top_columns", "top_text", "write_json"]
