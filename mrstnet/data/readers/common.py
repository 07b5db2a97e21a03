"""What every annotation reader shares: the video record, the error for a bad line, finding
the annotation folder, reading split-file lines and testing which listed videos exist.

A reader never opens a video: it turns annotation files and directory listings into an
`Index`, `(videos, classes, missing)`. `Reader` wraps a format's read function with what
the format holds and does what every format does first: check the root, find the folder of
split files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".avi", ".mp4", ".webm", ".mkv", ".mov", ".mpg", ".mpeg", ".m4v", ".flv")


class SplitFileError(ValueError):
    """A malformed annotation line; the message names the file and the line."""

    def __init__(self, path: Path | str, line_no: int | None, reason: str, line: str | None = None):
        self.path, self.line_no = str(path), line_no
        where = f"{path}:{line_no}" if line_no is not None else str(path)
        text = f" ({line!r})" if line is not None else ""
        super().__init__(f"{where}: {reason}{text}")


@dataclass(frozen=True)
class VideoRecord:
    path: Path
    label: int  # index into the classes; -1 for an unlabelled video (Kinetics' test set)


Index = tuple[list[VideoRecord], list[str], list[Path]]  # videos, classes, missing


def dataset_root(root: Path | str) -> Path:
    """`root` as a Path; FileNotFoundError if it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root not found: {root}")
    return root


def find_annotations(root: Path | str, name: str, annotations: Path | str | None = None) -> Path:
    """`annotations` if given (a folder), else ROOT/name, else ROOT/../name."""
    if annotations is not None:
        path = Path(annotations)
        if not path.exists():
            raise FileNotFoundError(f"annotations not found: {path}")
        if not path.is_dir():
            raise NotADirectoryError(
                f"--annotations must be the folder of split files (like {name}/), "
                f"got a file: {path}"
            )
        return path
    root = Path(root)
    for candidate in (root / name, root.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"no {name}/ in {root} or {root.parent}; pass --annotations FOLDER (the folder of "
        "split or CSV files)"
    )


def text_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines; CRLF, LF or CR endings."""
    if not path.is_file():
        raise SplitFileError(path, None, "file not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SplitFileError(path, None, f"not a UTF-8 text file ({exc.reason})") from exc
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _exists_in() -> Callable[[Path], bool]:
    """A cached existence test: one directory listing per folder instead of a stat per file."""
    listings: dict[Path, set[str]] = {}

    def exists(path: Path) -> bool:
        folder = path.parent
        if folder not in listings:
            try:
                listings[folder] = set(os.listdir(folder))
            except OSError:
                listings[folder] = set()
        return path.name in listings[folder]

    return exists


def split_existing(videos: list[VideoRecord]) -> tuple[list[VideoRecord], list[Path]]:
    """The listed videos that are on disk, and the paths of those that are not."""
    exists = _exists_in()
    found = [v for v in videos if exists(v.path)]
    missing = [v.path for v in videos if not exists(v.path)]
    return found, missing


@dataclass(frozen=True)
class Reader:
    """One annotation format. Calling it reads one subset: `(videos, classes, missing)`."""

    # (root, annotations, *, subset, split) -> Index, called with a root that exists and the
    # found folder of split files when the format names one, else --annotations or None
    read: Callable[..., Index]
    subsets: tuple[str, ...] = ("train", "test")  # what it lists (`mrstnet data check` reads all)
    optional: tuple[str, ...] = ()  # subsets whose annotation file may be absent
    # the labelled held-out subset when the format fixes it (Kinetics: val; its test set has
    # no labels); None: `mrstnet test` reads "test" and validation the config's val_subset
    held_out: str | None = None
    splits: int = 1  # official splits, numbered from 1 (`--split all` runs them all)
    annotations: str | None = None  # official folder of split files, looked up in ROOT, ROOT/..

    def __call__(
        self,
        root: Path | str,
        *,
        subset: str = "train",
        split: int = 1,
        annotations: Path | str | None = None,
    ) -> Index:
        """FileNotFoundError for a missing root (checked before the split files, which a
        mistyped ROOT would still find in its parent) or annotation folder; SplitFileError
        for a malformed line."""
        root = dataset_root(root)
        if self.annotations is not None:
            annotations = find_annotations(root, self.annotations, annotations)
        ann = None if annotations is None else Path(annotations)
        return self.read(root, ann, subset=subset, split=split)
