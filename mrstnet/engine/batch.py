"""Predictions for many video files: clips of several files in one batch, decoding ahead.

Each file gives `clips x crops` test clips, uint8 (V, 3, L, S, S), cut as `mrstnet test`
cuts them (`load_clips`: uniformly spaced clips, centre or three crops); the file's
scores are the mean of its clips' softmax probabilities (paper §4.3).

Decoding runs in a small thread pool (`workers` threads; PyAV and torch's resize release
the GIL) at most `prefetch` files ahead of the model, so memory stays bounded by about
`prefetch` files' clips. The model takes batches of exactly `batch_size` clips, which can
hold the last clips of one file and the first of the next: small files do not leave the
batch half empty. Results come back in the order of `paths`, each as soon as its last
clip is scored; an unreadable file gives a row with `error` and the others go on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from mrstnet.data.clip_spec import ClipSpec

from .inference import Predictor


def load_file_clips(path: Path | str, spec: ClipSpec, clips: int, crops: int) -> Tensor:
    """The test clips of one file, uint8 (clips * crops, 3, L, S, S); raises on bad files."""
    from mrstnet.data import load_clips

    return load_clips(path, spec.replace(num_clips=clips, crops=crops))


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip() or type(e).__name__}"


@dataclass
class _File:
    """One file on its way through: its clips' probabilities add up as batches are scored."""

    path: Path | str
    views: int = 0
    scored: int = 0
    total: Tensor | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.error is not None or (self.views > 0 and self.scored == self.views)


@dataclass
class _Batcher:
    """Clips waiting for the model: (file, clips) pieces adding up to at most a batch."""

    size: int
    pieces: list[tuple[_File, Tensor]] = field(default_factory=list)
    count: int = 0

    def add(self, f: _File, clips: Tensor) -> None:
        self.pieces.append((f, clips))
        self.count += len(clips)

    def take(self) -> list[tuple[_File, Tensor]]:
        """Pieces holding exactly `size` clips (or all, when fewer wait)."""
        out, n = [], 0
        while self.pieces and n < self.size:
            f, clips = self.pieces.pop(0)
            room = self.size - n
            if len(clips) > room:
                self.pieces.insert(0, (f, clips[room:]))
                clips = clips[:room]
            out.append((f, clips))
            n += len(clips)
        self.count -= n
        return out


def predict_files(
    predictor: Predictor,
    paths: Iterable[Path | str],
    *,
    clips: int = 10,
    crops: int = 1,
    top: int = 5,
    batch_size: int = 8,
    workers: int = 1,
    prefetch: int = 4,
) -> Iterator[dict]:
    """Yield `{"video", "top": [{"class", "index", "prob"}, ...]}` or `{"video", "error"}`
    for each path, in order (see the module docstring). `workers=0` decodes in the calling
    thread (no overlap with the model)."""
    if batch_size < 1 or clips < 1 or prefetch < 1 or workers < 0:
        raise ValueError("batch_size, clips and prefetch must be >= 1, workers >= 0")
    spec = predictor.spec
    pool = ThreadPoolExecutor(workers, thread_name_prefix="decode") if workers else None

    def load(path):
        try:
            return load_file_clips(path, spec, clips, crops)
        except Exception as e:  # an unreadable file is reported in its row, the others go on
            return e

    source = iter(paths)
    ahead: deque = deque()  # (path, future or result), at most `prefetch`

    def fill() -> None:
        while len(ahead) < prefetch:
            path = next(source, None)
            if path is None:
                return
            ahead.append((path, pool.submit(load, path) if pool else None))

    order: deque[_File] = deque()  # files not yet yielded, in input order
    batcher = _Batcher(batch_size)

    def score(pieces) -> None:
        p = predictor.probs(torch.cat([c for _, c in pieces]))
        start = 0
        for f, c in pieces:
            part = p[start : start + len(c)].sum(0)
            f.total = part if f.total is None else f.total + part
            f.scored += len(c)
            start += len(c)

    def finished() -> Iterator[dict]:
        while order and order[0].done:
            f = order.popleft()
            if f.error is not None:
                yield {"video": str(f.path), "error": f.error}
            else:
                yield {"video": str(f.path), "top": predictor.top(f.total / f.views, top)}

    try:
        fill()
        while ahead:
            path, job = ahead.popleft()
            fill()  # keep the decoders busy while this file waits for the model
            got = job.result() if job is not None else load(path)
            f = _File(path)
            order.append(f)
            if isinstance(got, BaseException):
                f.error = _error_text(got)
            else:
                f.views = len(got)
                batcher.add(f, got)
                while batcher.count >= batch_size:
                    score(batcher.take())
            yield from finished()
        while batcher.count:
            score(batcher.take())
        yield from finished()
    finally:
        if pool is not None:
            for _, job in ahead:
                job.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["load_file_clips", "predict_files"]
