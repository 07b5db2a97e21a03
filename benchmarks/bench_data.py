"""Throughput of the training data pipeline, and the cost of seeking (run by hand, not in CI).

    python benchmarks/bench_data.py [--videos 8] [--clips 96] [--out benchmarks/results]

1. Pipeline: clips/s through a DataLoader (batch 8, `collate`) over a training
   `VideoClipDataset`: open, seek, decode 16 frames at a random start, resize the short side,
   random crop. Two geometries (16×112×112 from short side 128; 16×224×224 from 256) and 0, 1,
   2 workers. The first batch (worker start-up, first opens) is not timed.
2. Seek: one 16-frame clip at a random start, file opened each time as the dataset does, in a
   10-s and a 120-s video. With seeking the time does not grow with the length; decoding from
   the start (also timed, on fewer draws) does.

Videos are written first, at a realistic size: 320×240, 25 fps, mpeg4 in .avi at 0.8 Mbit/s
(UCF-101 is 320×240 xvid .avi), keyframe every 12 frames: a scrolling textured scene with a
moving blob and grain, so the encoder spends its bitrate. torch runs one intra-op thread per
process (DataLoader workers do too), so 0 workers and 1 worker use the same CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.data import DataLoader

# Run from a checkout: this tree's mrstnet, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mrstnet.data import ClipSpec, VideoClipDataset, VideoRecord, collate  # noqa: E402
from mrstnet.data.video import VideoReader  # noqa: E402

FPS, W, H, GOP = 25, 320, 240, 12
BIT_RATE = 800_000  # UCF-101's xvid files average roughly 0.5-1 Mbit/s
GEOMETRIES = {"16x112x112 (short side 128)": (128, 112), "16x224x224 (short side 256)": (256, 224)}
WORKERS = (0, 1, 2)


def scene(seconds: float, seed: int) -> np.ndarray:
    """uint8 (T, H, W, 3): a textured background scrolling sideways, a bright moving blob and
    per-frame grain (without grain mpeg4 compresses the scene to almost nothing)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    texture = rng.integers(0, 256, (H // 8, (W + n) // 8 + 2, 3), dtype=np.uint8)
    texture = texture.repeat(8, 0).repeat(8, 1)
    yy, xx = np.mgrid[:H, :W]
    out = np.empty((n, H, W, 3), np.uint8)
    for t in range(n):
        frame = texture[:, t : t + W].astype(np.int16)
        cx, cy = (W / 2) + 100 * np.sin(t / 20), (H / 2) + 60 * np.cos(t / 31)
        frame[(xx - cx) ** 2 + (yy - cy) ** 2 < 30**2] = 250
        frame += rng.integers(-4, 5, (H, W, 1), dtype=np.int16)
        out[t] = np.clip(frame, 0, 255)
    return out


def write(path: Path, seconds: int, seed: int) -> Path:
    """Encode `seconds` of `scene` at BIT_RATE, 10 s at a time (a 120-s video never sits in
    memory whole)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.gop_size = GOP
        s.bit_rate = BIT_RATE
        for piece in range(0, seconds, 10):
            for f in scene(min(10, seconds - piece), seed + piece):
                for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def pipeline(videos: list[Path], short_side: int, crop: int, workers: int, clips: int) -> dict:
    ds = VideoClipDataset(
        [VideoRecord(p, 0) for p in videos],
        ["x"],
        ClipSpec(frames=16, short_side=short_side, crop_size=crop, flip=True),
        train=True,
    )
    batches = clips // 8
    # Sample with replacement so the loader runs as long as we want, whatever the video count.
    sampler = torch.utils.data.RandomSampler(ds, replacement=True, num_samples=(batches + 1) * 8)
    loader = DataLoader(ds, batch_size=8, sampler=sampler, num_workers=workers, collate_fn=collate)
    it = iter(loader)
    next(it)  # worker start-up and first opens: not timed
    start = time.perf_counter()
    n = sum(len(b["label"]) for b in it)
    seconds = time.perf_counter() - start
    del it
    return {"clips": n, "seconds": round(seconds, 3), "clips_per_s": round(n / seconds, 1)}


def clip_time(path: Path, *, seek: bool, draws: int, rng: np.random.Generator) -> list[float]:
    times = []
    for _ in range(draws):
        with VideoReader(path) as r:
            start = int(rng.integers(0, r.info.num_frames - 16))
            t0 = time.perf_counter()
            if seek:
                r.read(range(start, start + 16))
            else:
                r._decode(list(range(start, start + 16)), seek=False)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=8, help="10-s videos for the pipeline")
    parser.add_argument("--clips", type=int, default=96, help="timed clips per configuration")
    parser.add_argument("--draws", type=int, default=30, help="seek: clips per video length")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        videos = [write(tmp / f"v{i}.avi", 10, i) for i in range(args.videos)]
        long = write(tmp / "long.avi", 120, 100)
        print(
            f"wrote {args.videos} x 10 s and 1 x 120 s at {W}x{H} in "
            f"{time.perf_counter() - t0:.0f} s"
        )

        results: dict = {"pipeline": {}, "seek": {}}
        for name, (short, crop) in GEOMETRIES.items():
            for w in WORKERS:
                r = pipeline(videos, short, crop, w, args.clips)
                results["pipeline"][f"{name}, {w} workers"] = {"geometry": name, "workers": w, **r}
                print(f"{name}, {w} workers: {r['clips_per_s']} clips/s")

        rng = np.random.default_rng(0)
        for label, path in (("10 s", videos[0]), ("120 s", long)):
            for seek, draws in ((True, args.draws), (False, max(3, args.draws // 6))):
                ms = [1000 * t for t in clip_time(path, seek=seek, draws=draws, rng=rng)]
                key = f"{label}, {'seek' if seek else 'from start'}"
                results["seek"][key] = {
                    "draws": draws,
                    "median_ms": round(statistics.median(ms), 1),
                    "max_ms": round(max(ms), 1),
                }
                print(f"{key}: median {statistics.median(ms):.1f} ms")
    env = {
        "torch": torch.__version__,
        "threads_per_process": 1,
        "cpus": __import__("os").cpu_count(),
        "machine": platform.machine(),
        "video": f"{W}x{H} {FPS} fps mpeg4 .avi, {BIT_RATE // 1000} kbit/s, gop {GOP}",
        "total_s": round(time.perf_counter() - t_start, 1),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.json").write_text(json.dumps({"env": env, "results": results}, indent=2))
    (out / "data.md").write_text(markdown(results, env) + "\n")
    print(markdown(results, env))
    print(f"wrote {out / 'data.json'} and .md in {env['total_s']} s")


def markdown(results: dict, env: dict) -> str:
    lines = [
        f"Training pipeline (decode + augment + collate, batch 8), {env['video']}; "
        f"{env['cpus']} CPUs, 1 torch thread per process.",
        "",
        "| clip | 0 workers | 1 worker | 2 workers |",
        "|---|---|---|---|",
    ]
    for name in GEOMETRIES:
        cells = [
            f"{results['pipeline'][f'{name}, {w} workers']['clips_per_s']} clips/s" for w in WORKERS
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "One 16-frame clip at a random start (file opened each time), median (max) ms:",
        "",
        "| video | seek (ours) | decode from the start |",
        "|---|---|---|",
    ]
    for label in ("10 s", "120 s"):
        s, f = results["seek"][f"{label}, seek"], results["seek"][f"{label}, from start"]
        lines.append(
            f"| {label} | {s['median_ms']} ({s['max_ms']}) | {f['median_ms']} ({f['max_ms']}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
