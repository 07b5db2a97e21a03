"""Frames from a file, a camera or a network stream, cut into sliding clip windows on the fly.

The source is decoded once, front to back (`FrameSource`): a file, a V4L2 camera
(`/dev/video0`) or anything FFmpeg opens as a stream (rtsp://, http://, udp://, tcp://,
...), with a bounded wait on opening and on each read. Each frame the windows need is
resized (short side) and centre-cropped as it is decoded, by the same `EvalTransform` the
test clips go through, and kept in a ring buffer (`Windower`) that holds at most one
window's span of frames, (frames - 1) * frame_step + 1, so memory does not grow with the
length of the video.

A window is a clip: `frames` frames `frame_step` apart, uint8 (3, L, S, S). Window k
starts at frame k * stride. A video shorter than one window's span gives one window
whose frame indices wrap around (frames 0..n-1, 0, 1, ...), as the test clips of
`mrstnet.data.sampling` do for short videos.

`WindowReader` runs the decoding in a thread and hands windows over either all of them
through a bounded queue (the decoder waits when the model is behind: `mrstnet timeline`)
or only the newest (older ones are dropped: `mrstnet watch` on a live stream).
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import torch
from torch import Tensor

from mrstnet.data.sampling import clip_indices, clip_span
from mrstnet.data.transforms import EvalTransform, to_tensor
from mrstnet.data.video import ToRGB, VideoDecodeError


class SourceError(VideoDecodeError):
    """A source that cannot be opened or read; the message starts with the source."""


class StreamStopped(SourceError):
    """A source that failed after some frames were read (a dropped connection, a time-out,
    corrupt data); `frames` were decoded before it stopped."""

    def __init__(self, source: str, reason: str, frames: int, at: float):
        self.frames, self.at = frames, at
        super().__init__(source, f"stopped after {frames} frames ({at:.2f} s): {reason}")


def _reason(exc: BaseException, timeout: float | None = None) -> str:
    if isinstance(exc, av.error.ExitError) and timeout is not None:
        return f"no data within {timeout:g} s (timed out)"
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def is_device(source: str) -> bool:
    return source.startswith("/dev/video")


def is_url(source: str) -> bool:
    """rtsp://..., http://..., udp://...: a stream FFmpeg opens (read live, never seeked)."""
    scheme, sep, _ = source.partition("://")
    return bool(sep) and scheme.isalnum()


@dataclass
class Frame:
    index: int  # decode order, from 0
    time: float  # seconds since the first frame (presentation time)
    arrival: float  # time.monotonic() when it was decoded (after pacing, with `realtime`)


@dataclass
class Window:
    """One clip of the stream: `clip` uint8 (3, L, S, S) from frames first..last."""

    index: int
    first: int  # frame index of its first frame
    last: int  # frame index of its last frame
    start: float  # seconds: presentation time of the first frame
    end: float  # seconds: time of the last frame + frame_step frame durations
    arrival: float  # monotonic time its last frame was decoded
    clip: Tensor
    looped: bool = False  # a video shorter than the window: frames repeat


@dataclass
class StreamStats:
    frames: int = 0  # decoded
    transformed: int = 0  # resized and cropped (frames some window needs)
    decode_s: float = 0.0  # demuxing, decoding and conversion to RGB
    transform_s: float = 0.0  # resize and crop
    windows: int = 0
    seconds: float = 0.0  # stream time of the last decoded frame + one frame


class FrameSource:
    """An open video source; `frames()` yields (Frame, av.VideoFrame) in order.

    `open_timeout` bounds the wait for a source to open, `read_timeout` the wait for each
    read after that (a stream that stalls); both in seconds. `options` go to FFmpeg
    (`av.open(options=...)`, e.g. {"rtsp_transport": "tcp"}); `format` forces a demuxer
    (default "v4l2" for /dev/video*). `realtime` paces a file at its frame rate, as if
    it arrived live."""

    def __init__(
        self,
        source: str | Path,
        *,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
        options: dict | None = None,
        format: str | None = None,  # noqa: A002 - av.open's name
        realtime: bool = False,
    ):
        self.name = str(source)
        self.live = is_url(self.name) or is_device(self.name)
        self.realtime = realtime
        self.read_timeout = read_timeout
        self._reading = threading.Lock()  # held while FFmpeg reads: close() waits for it
        if not self.live:
            path = Path(self.name)
            if not path.exists():
                raise SourceError(self.name, "file not found")
            if path.is_dir():
                raise SourceError(self.name, "is a directory, not a video file")
            if path.is_char_device():
                format = format or "v4l2"  # a camera under another name
                self.live = True
            elif path.stat().st_size == 0:
                raise SourceError(self.name, "empty file (0 bytes)")
        if is_device(self.name):
            format = format or "v4l2"
        try:
            self.container = av.open(
                self.name,
                format=format,
                options=dict(options or {}),
                timeout=(open_timeout, read_timeout),
                metadata_errors="ignore",
            )
        except Exception as exc:  # PyAV raises many types (ConnectionRefused, ExitError, ...)
            raise SourceError(self.name, f"cannot open ({_reason(exc, open_timeout)})") from exc
        if not self.container.streams.video:
            self.container.close()
            raise SourceError(self.name, "no video stream in this source")
        self.stream = self.container.streams.video[0]
        # frame threads hold back a few frames each: fine for files, not for live latency
        self.stream.thread_type = "SLICE" if self.live else "AUTO"

    @property
    def fps(self) -> float:
        s = self.stream
        for rate in (s.average_rate, s.guessed_rate, s.base_rate):
            if rate and 0 < float(rate) < 1000:
                return float(rate)
        return 25.0  # no usable rate: times are nominal

    @property
    def duration(self) -> float | None:
        """Seconds, from the header (None for live streams or when unknown)."""
        s = self.stream
        if s.duration and s.time_base:
            return float(s.duration * s.time_base)
        if self.container.duration:
            return self.container.duration / 1e6
        return None

    def close(self) -> None:
        """Close the source, unless a decoding thread is still inside a read after the read
        time-out (FFmpeg must not free what it reads; the process reclaims it at exit)."""
        if self._reading.acquire(timeout=self.read_timeout + 1):
            try:
                self.container.close()
            finally:
                self._reading.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def frames(self, stats: StreamStats | None = None) -> Iterator[tuple[Frame, av.VideoFrame]]:
        """(Frame, decoded av.VideoFrame) in presentation order; raises StreamStopped."""
        stats = stats if stats is not None else StreamStats()
        fps = self.fps
        t0 = wall0 = None
        index, last = 0, 0.0
        decoded = self.container.decode(self.stream)
        while True:
            tic = time.perf_counter()
            try:
                with self._reading:
                    frame = next(decoded)
            except StopIteration:
                return
            except Exception as exc:
                reason = _reason(exc, self.read_timeout)
                raise StreamStopped(self.name, reason, index, last) from exc
            stats.decode_s += time.perf_counter() - tic
            t = frame.time
            if t is None:
                t = index / fps if t0 is None else t0 + index / fps
            if t0 is None:
                t0, wall0 = t, time.monotonic()
            if self.realtime:
                wait = wall0 + (t - t0) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            stats.frames += 1
            last = t - t0
            stats.seconds = last + 1 / fps
            yield Frame(index, last, time.monotonic()), frame
            index += 1


class Windower:
    """The ring buffer: frames in, clip windows out (see the module docstring).

    `needs(i)` says whether frame i belongs to a window (or to the first span, kept for a
    video shorter than a window); `add` takes those frames in order and returns the window
    that frame i completes, if any. At most one span of frames is held at any time."""

    def __init__(self, frames: int, frame_step: int, stride: int, fps: float):
        if frames < 1 or frame_step < 1 or stride < 1:
            raise ValueError("frames, frame_step and stride (in frames) must be >= 1")
        self.frames, self.step, self.stride, self.fps = frames, frame_step, stride, fps
        self.span = clip_span(frames, frame_step)
        self.buffer: deque[tuple[Frame, Tensor]] = deque()
        self.next_start = 0
        self.count = 0

    def needs(self, i: int) -> bool:
        if i < self.span:
            return True
        k_first = max(0, -(-(i - self.span + 1) // self.stride))
        return any(
            (i - k * self.stride) % self.step == 0 for k in range(k_first, i // self.stride + 1)
        )

    def add(self, frame: Frame, image: Tensor) -> Window | None:
        """`image`: uint8 (3, S, S), frame `frame.index` resized and cropped."""
        self.buffer.append((frame, image))
        if frame.index != self.next_start + self.span - 1:
            return None
        window = self._window(range(self.next_start, self.next_start + self.span, self.step))
        self.next_start += self.stride
        while self.buffer and self.buffer[0][0].index < self.next_start:
            self.buffer.popleft()
        return window

    def finish(self) -> Window | None:
        """At the end of the stream: the looped window of a video shorter than one window
        (None when a window was made, or nothing was decoded)."""
        if self.count or not self.buffer:
            return None
        n = self.buffer[-1][0].index + 1
        return self._window(clip_indices(n, 0, self.frames, self.step).tolist(), looped=True)

    def _window(self, indices, looped: bool = False) -> Window:
        held = {f.index: (f, image) for f, image in self.buffer}
        frames = [held[i] for i in indices]
        first, last = frames[0][0], frames[-1][0]
        # a window lasts frames * frame_step frame durations; a looped one, the whole video
        step = 1 if looped else self.step
        end = max(f.time for f, _ in frames) + step / self.fps
        window = Window(
            index=self.count,
            first=first.index,
            last=last.index,
            start=first.time if not looped else 0.0,
            end=end,
            arrival=max(f.arrival for f, _ in frames),
            clip=torch.stack([image for _, image in frames], dim=1),
            looped=looped,
        )
        self.count += 1
        return window


def iter_windows(
    source: FrameSource,
    spec,
    stride: int,
    *,
    chunk: int = 8,
    stats: StreamStats | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Window]:
    """Windows of `spec.frames` frames `spec.frame_step` apart every `stride` frames,
    resized to `spec.short_side` and centre-cropped to `spec.crop_size`. Frames are
    transformed `chunk` at a time (1 for the lowest latency)."""
    stats = stats if stats is not None else StreamStats()
    transform = EvalTransform(spec.short_side, spec.crop_size)
    windower = Windower(spec.frames, spec.frame_step, stride, source.fps)
    pending: list[tuple[Frame, np.ndarray]] = []
    rgb = ToRGB()

    def flush() -> Iterator[Window]:
        tic = time.perf_counter()
        images = transform(to_tensor(np.stack([rgb for _, rgb in pending])))  # (3, T, S, S)
        stats.transform_s += time.perf_counter() - tic
        stats.transformed += len(pending)
        for t, (frame, _) in enumerate(pending):
            window = windower.add(frame, images[:, t])
            if window is not None:
                stats.windows += 1
                yield window
        pending.clear()

    for frame, decoded in source.frames(stats):
        if stop is not None and stop.is_set():
            return
        if not windower.needs(frame.index):
            continue
        tic = time.perf_counter()
        pending.append((frame, rgb(decoded)))
        stats.decode_s += time.perf_counter() - tic
        # a window's last frame is transformed at once, so that it is not held back
        if len(pending) >= chunk or frame.index == windower.next_start + windower.span - 1:
            yield from flush()
    if pending:
        yield from flush()
    if stats.frames == 0:
        raise SourceError(source.name, "no frame could be decoded")
    window = windower.finish()
    if window is not None:
        stats.windows += 1
        yield window


@dataclass
class WindowReader:
    """Decodes windows in a background thread (see the module docstring).

    keep="all": a bounded queue of `maxsize` windows; the decoder waits for the model.
    keep="latest": one slot; a window not taken before the next one arrives is dropped
    (counted in `dropped`). `get()` returns the next window, None at the end of the
    stream, or raises the error that stopped the decoder (after the windows before it)."""

    windows: Iterator[Window]
    keep: str = "all"
    maxsize: int = 8
    stop: threading.Event = field(default_factory=threading.Event)
    dropped: int = 0

    def __post_init__(self) -> None:
        if self.keep not in ("all", "latest"):
            raise ValueError(f"keep must be 'all' or 'latest', not {self.keep!r}")
        self._queue: queue.Queue = queue.Queue(self.maxsize if self.keep == "all" else 0)
        self._latest: Window | None = None
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mrstnet-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Ctrl-C and SIGTERM are the main thread's to handle: delivered to this thread, they
        # would cut a read in progress short (EINTR) and end the stream as if it broke off
        if hasattr(signal, "pthread_sigmask"):  # not on Windows
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for window in self.windows:
                if self.stop.is_set():
                    break
                if self.keep == "latest":
                    with self._cond:
                        if self._latest is not None:
                            self.dropped += 1
                        self._latest = window
                        self._cond.notify_all()
                else:
                    while not self.stop.is_set():
                        try:
                            self._queue.put(window, timeout=0.1)
                            break
                        except queue.Full:
                            continue
        except BaseException as exc:  # handed to the consumer, in order
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()
            close = getattr(self.windows, "close", None)
            if close is not None:
                close()

    def get(self, deadline: float | None = None) -> Window | None:
        """The next window; None at the end of the stream or once time.monotonic() passes
        `deadline`. Waits in short steps, so that Ctrl-C reaches the caller at once."""

        def late() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        window = None
        if self.keep == "latest":
            with self._cond:
                while not self._cond.wait_for(
                    lambda: self._latest is not None or self._done, timeout=0.1
                ):
                    if late():
                        return None
                window, self._latest = self._latest, None
        else:
            while window is None and not late():
                try:
                    window = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._done and self._queue.empty():
                        break
        if window is None and self._done and self._error is not None:
            error, self._error = self._error, None
            raise error
        return window

    def close(self, timeout: float = 5.0) -> None:
        """Stop the decoder and wait for it (a read in progress ends within its time-out)."""
        self.stop.set()
        self._thread.join(timeout)


def stride_frames(stride_s: float | None, spec, fps: float) -> int:
    """A stride in seconds as a whole number of frames (>= 1); None: half a window."""
    if stride_s is None:
        return max(1, spec.frames * spec.frame_step // 2)
    if stride_s <= 0:
        raise ValueError(f"--stride must be positive, got {stride_s}")
    return max(1, round(stride_s * fps))


__all__ = [
    "Frame",
    "FrameSource",
    "SourceError",
    "StreamStats",
    "StreamStopped",
    "Window",
    "WindowReader",
    "Windower",
    "is_device",
    "is_url",
    "iter_windows",
    "stride_frames",
]
