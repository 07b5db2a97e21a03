"""PyAV decoding of the frames a clip needs, and nothing more.

`VideoReader` opens a file once; `info` gives frame count, fps and size from the stream
header (with a packet count when the header has no or an implausible frame count);
`read(indices)` seeks to the keyframe before the first wanted frame, decodes forward, keeps the
wanted frames and stops after the last one. Frame indices are computed from presentation
timestamps (pts * time_base * fps), so variable-frame-rate files give the frame shown at that
time. Every failure is raised as `VideoDecodeError`, whose message names the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

# A clip may ask for frames a little past the decodable end when the header count is off
# by a frame or two (common); further than this, the file is treated as truncated.
END_SLACK = 2


class VideoDecodeError(RuntimeError):
    """A video that cannot be opened or decoded; the message starts with the path."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


class ToRGB:
    """Decoded frames as RGB uint8 (H, W, 3), through one colour converter kept for all of
    them: `frame.to_ndarray(format="rgb24")` builds a new swscale context per frame, which on
    small frames costs over 10x the decoding itself (benchmarks/decode.py). Not thread-safe: one
    per reader."""

    def __init__(self):
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        return self._reformatter.reformat(frame, format="rgb24").to_ndarray()


class VideoReader:
    """One open video file. Use as a context manager; `info` is computed on first use."""

    def __init__(self, path: Path | str, info: VideoInfo | None = None):
        self.path = str(path)
        if not os.path.exists(self.path):
            raise VideoDecodeError(path, "file not found")
        if os.path.isdir(self.path):
            raise VideoDecodeError(path, "is a directory, not a video file")
        if os.path.getsize(self.path) == 0:
            raise VideoDecodeError(path, "empty file (0 bytes)")
        try:
            self.container = av.open(self.path, metadata_errors="ignore")
        except Exception as exc:  # PyAV raises many types (InvalidDataError, OSError, ...)
            raise VideoDecodeError(path, f"cannot open ({_describe(exc)})") from exc
        if not self.container.streams.video:
            self.container.close()
            raise VideoDecodeError(path, "no video stream in the file")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self._info = info
        self._rgb = ToRGB()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    # -- metadata ---------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        if self._info is not None:
            return self._info.fps
        s = self.stream
        for rate in (s.average_rate, s.guessed_rate, s.base_rate):
            if rate and 0 < float(rate) < 1000:
                return float(rate)
        return 25.0  # no usable rate at all: indices still work, time is just nominal

    @property
    def info(self) -> VideoInfo:
        if self._info is None:
            s = self.stream
            fps = self.fps
            count = s.frames
            if s.duration and s.time_base:
                expected = float(s.duration * s.time_base) * fps
            elif self.container.duration:
                expected = self.container.duration / 1e6 * fps
            else:
                expected = None
            plausible = count > 0 and (
                expected is None or abs(count - expected) <= max(2, 0.05 * expected)
            )
            if not plausible:
                count = self._count_packets()
            if count <= 0:
                raise VideoDecodeError(self.path, "the video stream has no frames")
            cc = s.codec_context
            self._info = VideoInfo(int(count), fps, int(cc.width), int(cc.height))
        return self._info

    def _count_packets(self) -> int:
        """Frame count by demuxing (no decoding): one packet per frame for video codecs."""
        try:
            n = sum(1 for p in self.container.demux(self.stream) if p.size > 0)
            self.container.seek(0, stream=self.stream, backward=True, any_frame=False)
        except Exception as exc:
            raise VideoDecodeError(self.path, f"cannot read packets ({_describe(exc)})") from exc
        return n

    # -- decoding ---------------------------------------------------------------------------
    def _index(self, frame: av.VideoFrame, start: int, tb: Fraction, fps: float) -> int | None:
        if frame.pts is None:
            return None
        return round(float((frame.pts - start) * tb) * fps)

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """RGB uint8 frames (len(indices), H, W, 3) for the given frame indices (any order,
        repeats allowed). A frame missing from a variable-rate stream is replaced by the
        frame shown just before it."""
        wanted = sorted({int(i) for i in indices})
        if not wanted:
            raise ValueError("no frame indices given")
        if wanted[0] < 0:
            raise ValueError(f"negative frame index {wanted[0]}")
        try:
            got = self._decode(wanted, seek=wanted[0] > 0)
        except VideoDecodeError:
            raise
        except Exception as exc:
            raise VideoDecodeError(self.path, f"decoding failed ({_describe(exc)})") from exc
        return np.stack([got[int(i)] for i in indices])

    def _decode(self, wanted: list[int], *, seek: bool) -> dict[int, np.ndarray]:
        s = self.stream
        fps = self.fps
        tb = s.time_base or Fraction(1, 90000)
        start = s.start_time or 0
        if seek:
            target = start + int(wanted[0] / fps / tb)
            self.container.seek(target, stream=s, backward=True, any_frame=False)
        else:
            self.container.seek(0, stream=s, backward=True, any_frame=False)
        got: dict[int, np.ndarray] = {}
        p = 0  # next wanted position
        prev = prev_rgb = None
        counter = -1  # fallback index when a frame has no pts (only trusted from the start)
        first = True
        for frame in self.container.decode(s):
            counter += 1
            idx = self._index(frame, start, tb, fps)
            if idx is None:
                if seek:  # cannot place frames after a seek without timestamps
                    return self._decode(wanted, seek=False)
                idx = counter
            if first and seek and idx > wanted[0]:
                # The demuxer landed after the wanted frame (bad index): decode from the start.
                return self._decode(wanted, seek=False)
            first = False
            while p < len(wanted) and wanted[p] < idx:  # skipped by a variable frame rate
                if prev is None:
                    prev = frame
                if prev_rgb is None:
                    prev_rgb = self._rgb(prev)
                got[wanted[p]] = prev_rgb
                p += 1
            if p < len(wanted) and wanted[p] == idx:
                prev_rgb = self._rgb(frame)
                got[idx] = prev_rgb
                p += 1
            else:
                prev_rgb = None
            prev = frame
            if p == len(wanted):
                return got
        # The stream ended before the last wanted frame.
        if prev is None:
            raise VideoDecodeError(self.path, "no frame could be decoded (corrupt or truncated)")
        last = self._index(prev, start, tb, fps)
        last = counter if last is None else last
        if wanted[-1] - last > END_SLACK:
            total = f" of {self._info.num_frames}" if self._info is not None else ""
            raise VideoDecodeError(
                self.path,
                f"truncated or corrupt: frame {wanted[-1]}{total} requested, "
                f"decoding stopped at frame {last}",
            )
        rgb = prev_rgb if prev_rgb is not None else self._rgb(prev)
        for w in wanted[p:]:
            got[w] = rgb
        return got


def probe(path: Path | str) -> VideoInfo:
    """Frame count, fps and size of a video, from its header (no decoding)."""
    with VideoReader(path) as reader:
        return reader.info


def read_frames(path: Path | str, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """RGB uint8 (len(indices), H, W, 3): the given frames, decoded by seeking."""
    with VideoReader(path) as reader:
        return reader.read(indices)


def read_all_frames(path: Path | str) -> np.ndarray:
    """Every frame decoded sequentially from the start (for tests and small files)."""
    with VideoReader(path) as reader:
        try:
            frames = [reader._rgb(f) for f in reader.container.decode(reader.stream)]
        except Exception as exc:
            raise VideoDecodeError(path, f"decoding failed ({_describe(exc)})") from exc
    if not frames:
        raise VideoDecodeError(path, "no frame could be decoded")
    return np.stack(frames)
