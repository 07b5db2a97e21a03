"""A timeline of a long video: clip windows scored in batches, smoothed, merged into segments.

Windows come from `mrstnet.data.stream` (one pass over the file, a bounded ring buffer),
decoded in a background thread while the model scores the previous batch. Each window
gets the softmax probabilities of the checkpoint's classes, P (N windows, K classes).

Smoothing and segments:

* smoothed probabilities are the moving average of P over `smooth` consecutive windows,
  centred (window i averages windows i - smooth//2 .. i + smooth//2 that exist; `smooth=1`
  is no smoothing): a single odd window inside a long action does not cut it in two;
* window i's label is the class of its highest smoothed probability when that probability
  is at least `threshold`, else no class ("uncertain");
* consecutive windows with the same label form a segment. Windows overlap (a stride
  shorter than a window), so each window stands for the time nearest its centre: the
  boundary between windows i and i + 1 is the midpoint of their centres, the first
  window starts at the start of the video and the last ends at its end. Segments so tile
  the video without overlap. A segment's `prob` is the mean smoothed probability of its
  class over its windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .inference import Predictor

MISSING_PLOT = (
    "the timeline picture needs matplotlib: pip install 'mrstnet[plot]' (or pip install matplotlib)"
)


@dataclass
class Scored:
    """One scored window: its place in the video and its class probabilities (K,)."""

    index: int
    start: float
    end: float
    probs: Tensor
    looped: bool = False


@dataclass
class TimelineRun:
    """What `timeline` measured while it ran (seconds; decode and model overlap)."""

    windows: list[Scored] = field(default_factory=list)
    video_seconds: float = 0.0  # time of the last decoded frame + one frame
    wall_s: float = 0.0
    model_s: float = 0.0
    decode_s: float = 0.0  # decoding + RGB conversion, in the decoding thread
    transform_s: float = 0.0  # resize + crop, in the decoding thread
    frames: int = 0
    fps: float = 0.0
    stride_frames: int = 0
    error: str | None = None  # why the video stopped early, if it did


def score_windows(
    predictor: Predictor, windows: Iterator, batch_size: int, run: TimelineRun
) -> Iterator[Scored]:
    """Score `windows` (mrstnet.data.stream.Window) `batch_size` at a time, in order."""
    batch: list = []

    def flush() -> Iterator[Scored]:
        tic = time.perf_counter()
        p = predictor.probs(torch.stack([w.clip for w in batch]))
        run.model_s += time.perf_counter() - tic
        for w, row in zip(batch, p, strict=True):
            yield Scored(w.index, w.start, w.end, row, w.looped)
        batch.clear()

    for w in windows:
        batch.append(w)
        if len(batch) == batch_size:
            yield from flush()
    if batch:
        yield from flush()


def default_batch(spec) -> int:
    """Windows per model call: 16 of the demo's 16x64x64 clips (the demo timeline ran
    1.5x faster with batches of 16 than of 8 on the development CPU,
    benchmarks/results/own_videos.md), fewer for bigger clips, so that a batch holds
    about the same number of pixels (1 for 16x224x224)."""
    pixels = spec.frames * spec.crop_size**2
    return max(1, min(16, round(16 * 16 * 64 * 64 / pixels)))


def smooth_probs(p: Tensor, k: int) -> Tensor:
    """Centred moving average of (N, K) probabilities over k windows (odd k; the ends
    average over the windows that exist)."""
    if k < 1 or k % 2 == 0:
        raise ValueError(f"--smooth must be an odd number of windows >= 1, got {k}")
    if k == 1 or len(p) < 2:
        return p.clone()
    half = k // 2
    c = torch.cat([torch.zeros(1, p.shape[1], dtype=p.dtype), p.cumsum(0)])
    i = torch.arange(len(p))
    lo, hi = (i - half).clamp(min=0), (i + half + 1).clamp(max=len(p))
    return (c[hi] - c[lo]) / (hi - lo).unsqueeze(1).to(p.dtype)


def segments(
    scored: list[Scored],
    smoothed: Tensor,
    classes: list[str],
    *,
    threshold: float,
    duration: float,
) -> list[dict]:
    """Merge consecutive windows with the same label (see the module docstring)."""
    if not scored:
        return []
    best, label = smoothed.max(1)
    labels = [int(c) if b >= threshold else None for b, c in zip(best, label, strict=True)]
    centres = [(w.start + w.end) / 2 for w in scored]
    bounds = [0.0, *((a + b) / 2 for a, b in zip(centres, centres[1:], strict=False))]
    bounds.append(max(duration, centres[-1]))
    out: list[dict] = []
    first = 0
    for i in range(1, len(scored) + 1):
        if i < len(scored) and labels[i] == labels[first]:
            continue
        c = labels[first]
        prob = smoothed[first:i, c].mean() if c is not None else best[first:i].mean()
        out.append(
            {
                "start": round(bounds[first], 3),
                "end": round(bounds[i], 3),
                "class": classes[c] if c is not None else None,
                "prob": round(float(prob), 4),
                "windows": i - first,
            }
        )
        first = i
    return out


def timeline(
    predictor: Predictor,
    video: str,
    *,
    stride: float | None = None,
    batch_size: int | None = None,
    on_window: Callable[[Scored], None] | None = None,
    source_options: dict | None = None,
) -> TimelineRun:
    """Score every window of `video` (a file, decoded once); `stride` in seconds (None:
    half a window); `batch_size` windows per model call (None: `default_batch`).
    `on_window(scored)` is called as each window is scored. Raises SourceError when the
    file cannot be opened or gives no frame; a video that breaks off half-way keeps the
    windows before and says why in `run.error`."""
    from mrstnet.data.stream import (
        FrameSource,
        StreamStats,
        StreamStopped,
        WindowReader,
        iter_windows,
        stride_frames,
    )

    batch_size = batch_size or default_batch(predictor.spec)
    run = TimelineRun()
    stats = StreamStats()
    tic = time.perf_counter()
    with FrameSource(video, **(source_options or {})) as source:
        step = stride_frames(stride, predictor.spec, source.fps)
        windows = iter_windows(source, predictor.spec, step, stats=stats)
        reader = WindowReader(windows, keep="all", maxsize=2 * batch_size)

        stopped: list[StreamStopped] = []

        def taken() -> Iterator:
            try:
                while (w := reader.get()) is not None:
                    yield w
            except StreamStopped as e:  # score the windows before it, then say why
                stopped.append(e)

        try:
            for s in score_windows(predictor, taken(), batch_size, run):
                run.windows.append(s)
                if on_window is not None:
                    on_window(s)
        finally:
            reader.close()
        if stopped:
            if not run.windows:
                raise stopped[0]
            run.error = str(stopped[0])
        run.stride_frames, run.fps = step, source.fps
    run.wall_s = time.perf_counter() - tic
    run.decode_s, run.transform_s, run.frames = stats.decode_s, stats.transform_s, stats.frames
    last_end = max((w.end for w in run.windows), default=0.0)
    run.video_seconds = max(last_end, stats.seconds)
    return run


def summarize(
    run: TimelineRun,
    predictor: Predictor,
    video: str,
    *,
    smooth: int = 3,
    threshold: float = 0.5,
    top: int = 3,
) -> tuple[dict, Tensor]:
    """The timeline as plain data (the `--json` file) and the smoothed probabilities
    (N, K): windows with their top classes, segments, and how they were made."""
    spec = predictor.spec
    p = torch.stack([w.probs for w in run.windows]) if run.windows else torch.zeros(0, 1)
    smoothed = smooth_probs(p, smooth) if run.windows else p
    result = {
        "video": str(video),
        "checkpoint": predictor.checkpoint,
        "fps": run.fps,
        "duration": round(run.video_seconds, 3),
        "frames": run.frames,
        "window": {
            "frames": spec.frames,
            "frame_step": spec.frame_step,
            "seconds": round(spec.frames * spec.frame_step / run.fps, 3) if run.fps else None,
        },
        "stride": {
            "frames": run.stride_frames,
            "seconds": round(run.stride_frames / run.fps, 3) if run.fps else None,
        },
        "smooth": smooth,
        "threshold": threshold,
        "windows": [window_record(w, predictor, top) for w in run.windows],
        "segments": segments(
            run.windows,
            smoothed,
            predictor.classes,
            threshold=threshold,
            duration=run.video_seconds,
        ),  # fmt: skip
    }
    if run.error:
        result["error"] = run.error
    return result, smoothed


def window_record(w: Scored, predictor: Predictor, top: int) -> dict:
    record = {"index": w.index, "start": round(w.start, 3), "end": round(w.end, 3)}
    if w.looped:
        record["looped"] = True
    record["top"] = predictor.top(w.probs, top)
    return record


def plot_timeline(
    result: dict, classes: list[str], smoothed: Tensor, out, *, max_classes: int = 8
) -> None:
    """The timeline picture: smoothed probabilities of the classes that label segments
    (top) and the segments as coloured bars (bottom)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(MISSING_PLOT) from None
    segs = result["segments"]
    wins = result["windows"]
    time_in: dict[str, float] = {}
    for s in segs:
        if s["class"] is not None:
            time_in[s["class"]] = time_in.get(s["class"], 0.0) + s["end"] - s["start"]
    shown = sorted(time_in, key=time_in.get, reverse=True)[:max_classes]
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(shown)}
    duration = result["duration"]
    fig, (ax, bar) = plt.subplots(
        2, 1, figsize=(12, 4.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    centres = [(w["start"] + w["end"]) / 2 for w in wins]
    for c in shown:
        ax.plot(centres, smoothed[:, classes.index(c)].tolist(), color=colours[c], label=c)
    ax.axhline(result["threshold"], color="grey", ls="--", lw=0.8, label="threshold")
    ax.set_ylim(0, 1)
    ax.set_ylabel("smoothed prob.")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", ncol=min(len(shown) + 1, 5))
    for s in segs:
        colour = colours.get(s["class"], (0.85, 0.85, 0.85, 1.0))
        bar.broken_barh([(s["start"], s["end"] - s["start"])], (0, 1), color=colour)
        if s["class"] is not None and (s["end"] - s["start"]) > duration / 25:
            bar.text((s["start"] + s["end"]) / 2, 0.5, s["class"], ha="center", va="center",
                     fontsize=7, clip_on=True)  # fmt: skip
    bar.set_yticks([])
    bar.set_xlim(0, duration)
    bar.set_xlabel("time (s)")
    fig.suptitle(result["video"], fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


__all__ = [
    "MISSING_PLOT",
    "Scored",
    "TimelineRun",
    "plot_timeline",
    "default_batch",
    "score_windows",
    "segments",
    "smooth_probs",
    "summarize",
    "timeline",
    "window_record",
]
