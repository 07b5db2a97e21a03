"""What every annotation reader shares: the video record, the error for a bad line, finding
the annotation folder, reading split-file lines and testing which listed videos exist.

A reader never opens a video: it turns annotation files and directory listings into an
`Index`, `(videos, classes, missing)`. `Reader` wraps a format's read function with what
the format holds and does what every format does first: check the root, find the folder of
split files.
"""

from __future__ import annotations

import os
import unicodedata
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


def labelled(line: str) -> tuple[str, str] | None:
    """A split-file line as (path, last field), or None for a line of one field. The label
    is the LAST whitespace-separated field and the path everything before it, so that
    `Walk/v Walk g01 c01 café.avi 3` is the path `Walk/v Walk g01 c01 café.avi`, label 3."""
    parts = line.rsplit(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def is_index(text: str) -> bool:
    """Whether `text` is a whole number written in ASCII digits (str.isdigit takes "²")."""
    return text.isascii() and text.isdigit()


def is_video_name(name: str) -> bool:
    return name.lower().endswith(VIDEO_EXTENSIONS)


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _locator() -> Callable[[Path], Path | None]:
    """A cached look-up of a listed path on disk: one directory listing per folder instead
    of a stat per file. A name matches in either Unicode form: macOS writes "é" decomposed
    (NFD) where a typed split file has it composed (NFC); the path on disk is returned."""
    listings: dict[Path, dict[str, str] | None] = {}

    def listing(folder: Path) -> dict[str, str] | None:
        if folder not in listings:
            try:
                names = os.listdir(folder)
            except OSError:
                listings[folder] = None
            else:
                listings[folder] = {**{_nfc(n): n for n in names}, **{n: n for n in names}}
        return listings[folder]

    def locate(path: Path) -> Path | None:
        folder = path.parent
        names = listing(folder)
        if names is None:  # the folder itself may be spelled in the other form
            if folder == path or folder.parent == folder:
                return None
            found = locate(folder)
            names = None if found is None else listing(found)
            if names is None:
                return None
            folder = found
        name = names.get(path.name) or names.get(_nfc(path.name))
        return None if name is None else folder / name

    return locate


def split_existing(videos: list[VideoRecord]) -> tuple[list[VideoRecord], list[Path]]:
    """The listed videos that are on disk (with their paths as spelled on disk), and the
    paths of those that are not."""
    locate = _locator()
    found, missing = [], []
    for v in videos:
        path = locate(v.path)
        if path is None:
            missing.append(v.path)
        else:
            found.append(v if path == v.path else VideoRecord(path, v.label))
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
    # root -> the subset `mrstnet test` reads without --subset, where it depends on the
    # folder (your own videos: test/ when present); None: held_out, else "test"
    pick_test: Callable[[Path], str] | None = None

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

    def test_subset(self, root: Path | str) -> str:
        """The subset `mrstnet test` reads when not told (test; Kinetics: val)."""
        if self.pick_test is not None:
            return self.pick_test(dataset_root(root))
        return self.held_out or "test"
