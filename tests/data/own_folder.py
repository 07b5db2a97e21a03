"""Folders of your own videos for the tests: real videos (PyAV) under names as people write
them: spaces, non-ASCII letters, dots and brackets, in class folders and file names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrstnet.data.synthetic import class_video, write_video

# class folders as people name them; the synthetic motion of class i is class_video(i)
CLASSES = ["Run fast", "Walk", "café [é]", "走る"]


def clip_name(cls: str, group: int, clip: int) -> str:
    """UCF-style, but with spaces: the default group regex reads "v <cls> gNN"."""
    return f"v {cls} g{group:02d} c{clip:02d} (take 1).ü.avi"


def write_folder(
    root: Path,
    *,
    classes: list[str] = CLASSES,
    per_class: int | list[int] = 6,
    groups: int = 3,
    frames: int = 12,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """ROOT/<class>/<clip_name>: `per_class` videos a class (or one count per class), clip
    j in group j % groups + 1. Returns ROOT."""
    counts = per_class if isinstance(per_class, list) else [per_class] * len(classes)
    for label, (cls, n) in enumerate(zip(classes, counts, strict=True)):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for j in range(n):
            rng = np.random.default_rng(seed * 1000 + label * 100 + j)
            video = class_video(label, rng, frames, size)
            write_video(root / cls / clip_name(cls, j % groups + 1, j // groups + 1), video)
    return root


def touch(root: Path, *rels: str) -> None:
    """Empty files: the readers and the split never open a video."""
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
