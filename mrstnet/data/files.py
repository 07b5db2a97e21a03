"""The video files a command line names: files, folders (searched recursively) and globs.

`find_videos(["a.mp4", "clips/", "day*/*.avi"])` keeps the order given: a file as named
(whatever its extension: the user chose it), a folder's videos (the extensions in
`VIDEO_EXTENSIONS`, hidden folders skipped) sorted by path, a glob's matches sorted
(`**` matches any depth; only video files, unless the pattern names its own extension, as
in `*.ts`). A name that exists is never read as a glob, so a file called
`take [1].mp4` is that file. A path that does not exist is kept: predicting it reports
"file not found" in its row, as for any other unreadable file.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from mrstnet.data.readers import VIDEO_EXTENSIONS

GLOB_CHARS = set("*?[")


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def videos_in_folder(folder: Path) -> list[Path]:
    """Every video file under `folder`, at any depth, sorted by path."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(top) / f for f in files if is_video_name(f) and not f.startswith("."))
    return sorted(found)


def find_videos(inputs: list[str], warn=None) -> list[Path]:
    """Expand `inputs` into video paths (see the module docstring), each once.

    `warn(message)` is told about a folder or glob that holds no video. Raises ValueError
    when nothing at all is found."""
    out: list[Path] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            out.append(path)

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = videos_in_folder(path)
            if not found and warn:
                exts = " ".join(VIDEO_EXTENSIONS)
                warn(f"{item}: no video files in this folder (looked for {exts})")
        elif path.exists() or not GLOB_CHARS & set(item):
            found = [path]
        else:
            # `*.ts` names its own extension; `clips/*` keeps only the video files
            ext = os.path.splitext(item)[1]
            chosen = bool(ext) and not GLOB_CHARS & set(ext)
            found = []
            for m in sorted(glob.glob(item, recursive=True)):
                if os.path.isdir(m):
                    found.extend(videos_in_folder(Path(m)))
                elif chosen or is_video_name(m):
                    found.append(Path(m))
            if not found and warn:
                warn(f"{item}: no file matches this pattern")
        for p in found:
            add(p)
    if not out:
        raise ValueError(f"no video files found in {', '.join(inputs)}")
    return out


__all__ = ["find_videos", "is_video_name", "videos_in_folder"]
