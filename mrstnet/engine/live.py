"""Live prediction: the newest window of a stream, scored as fast as the model allows.

A decoding thread reads the source (a camera, a network stream, or a file paced at its
frame rate) into the ring buffer of `mrstnet.data.stream` and offers each new window
(one every `stride` frames); the model thread always takes the newest one. When the
model is slower than the stream, windows it has not taken are replaced by newer ones
(dropped): the lag never builds up and nothing queues without bound. A file read
without pacing is a recording, not a live source: then no window is dropped and the
decoder waits for the model.

Each prediction reports the stream time (seconds since the first frame) and its
latency: wall-clock time from the decoding of the window's last frame to the scores.
`frames_dropped` counts the frames that were in some window but in no scored one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .inference import Predictor

END, INTERRUPTED = "end of stream", "interrupted (Ctrl-C)"
MAX_SECONDS, BROKE_OFF = "stopped at --max-seconds", "stream broke off"


class Coverage:
    """Frames covered by a run of windows coming in stream order (first..last each)."""

    def __init__(self) -> None:
        self.frames = 0
        self.last = -1

    def add(self, first: int, last: int) -> None:
        self.frames += max(0, last - max(first - 1, self.last))
        self.last = max(self.last, last)


@dataclass
class WatchSummary:
    predictions: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    frames: int = 0  # decoded
    windows: int = 0  # made by the decoder
    windows_dropped: int = 0
    frames_windowed: int = 0  # in at least one window
    frames_scored: int = 0  # in at least one scored window
    stream_seconds: float = 0.0
    wall_s: float = 0.0
    ended: str = END  # or INTERRUPTED, MAX_SECONDS, BROKE_OFF
    error: str | None = None

    @property
    def frames_dropped(self) -> int:
        return max(0, self.frames_windowed - self.frames_scored)

    @property
    def dropped_share(self) -> float:
        return self.frames_dropped / self.frames_windowed if self.frames_windowed else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        s = sorted(self.latencies_ms)
        return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]

    def as_dict(self) -> dict:
        return {
            "ended": self.ended,
            "error": self.error,
            "predictions": self.predictions,
            "stream_seconds": round(self.stream_seconds, 3),
            "wall_seconds": round(self.wall_s, 3),
            "frames": self.frames,
            "windows": self.windows,
            "windows_dropped": self.windows_dropped,
            "frames_dropped": self.frames_dropped,
            "dropped_share": round(self.dropped_share, 4),
            "latency_ms_median": _round(self.percentile(50)),
            "latency_ms_p95": _round(self.percentile(95)),
        }

    def line(self) -> str:
        """One line: how the watch ended, then what it did."""
        med, p95 = self.percentile(50), self.percentile(95)
        latency = f"; latency median {med:.0f} ms, p95 {p95:.0f} ms" if med is not None else ""
        return (
            f"{self.ended}{': ' + self.error if self.error else ''}. {self.predictions} "
            f"predictions over {self.stream_seconds:.1f} s of stream ({self.wall_s:.1f} s "
            f"wall){latency}; {self.windows_dropped} of {self.windows} windows dropped "
            f"({self.dropped_share:.1%} of frames unseen)"
        )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def watch(
    predictor: Predictor,
    source,
    *,
    stride: float | None = None,
    top: int = 3,
    max_seconds: float | None = None,
    on_prediction: Callable[[dict], None] | None = None,
) -> WatchSummary:
    """Predict on `source` (an open mrstnet.data.stream.FrameSource) until it ends, Ctrl-C,
    or `max_seconds` of wall-clock time; returns what happened. A source that fails
    part-way ends the watch with `ended=BROKE_OFF` (predictions made are kept)."""
    from mrstnet.data.stream import (
        SourceError,
        StreamStats,
        WindowReader,
        iter_windows,
        stride_frames,
    )

    summary = WatchSummary()
    stats = StreamStats()
    step = stride_frames(stride, predictor.spec, source.fps)
    keep = "latest" if source.live or source.realtime else "all"
    made, scored = Coverage(), Coverage()

    def counted(windows):
        for w in windows:
            made.add(w.first, w.last)
            yield w

    # oneDNN builds its kernels on the first call: do it before the first window waits
    spec = predictor.spec
    size = spec.crop_size
    predictor.probs(torch.zeros(1, 3, spec.frames, size, size, dtype=torch.uint8))
    windows = iter_windows(source, spec, step, chunk=1, stats=stats)
    reader = WindowReader(counted(windows), keep=keep, maxsize=2)
    start = time.monotonic()
    deadline = start + max_seconds if max_seconds else None
    try:
        while True:
            w = reader.get(deadline=deadline)
            if deadline is not None and time.monotonic() >= deadline:
                summary.ended = MAX_SECONDS
                break
            if w is None:
                break
            p = predictor.probs(w.clip.unsqueeze(0))[0]
            latency = (time.monotonic() - w.arrival) * 1000
            scored.add(w.first, w.last)
            summary.predictions += 1
            summary.latencies_ms.append(latency)
            record = {
                "time": round(w.end, 3),
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "top": predictor.top(p, top),
                "latency_ms": round(latency, 1),
                "windows_dropped": reader.dropped,
            }
            if on_prediction is not None:
                on_prediction(record)
    except KeyboardInterrupt:
        summary.ended = INTERRUPTED
    except SourceError as e:
        summary.ended, summary.error = BROKE_OFF, str(e)
        if summary.predictions == 0 and stats.frames == 0:
            raise  # nothing came through at all: as if it could not be opened
    finally:
        reader.close()
    summary.wall_s = time.monotonic() - start
    summary.frames, summary.windows = stats.frames, stats.windows
    summary.windows_dropped = reader.dropped
    summary.frames_windowed, summary.frames_scored = made.frames, scored.frames
    summary.stream_seconds = stats.seconds
    return summary


__all__ = ["BROKE_OFF", "END", "INTERRUPTED", "MAX_SECONDS", "Coverage", "WatchSummary", "watch"]
