"""Own videos, measured: timeline speed, memory over long videos, live latency, folder
throughput. Run by hand; writes benchmarks/results/own_videos.{json,md}.

    python benchmarks/bench_own_videos.py [--quick]   # --quick: a smoke run, results in /tmp

What is timed (every figure beside the CPU model and the load average of the machine):

* timeline real-time factor (seconds of video per second of wall clock) of the shipped
  demo model (16x64x64 clips from a short side of 72) on 340x256 25 fps videos, and of a
  full-width MRST-T-Net (random weights, 16 frames every 2nd, 224 crops from a short side
  of 256) on a short one; decoding (demux + decode + RGB), resize/crop and model time
  apart (decoding runs in its own thread, so the parts overlap in wall-clock time);
* peak resident memory of a timeline over a 1-minute and a 10-minute video, each in a
  fresh process;
* live input: a 340x256 H.264 MPEG-TS stream served over HTTP on the loopback at the rate
  it plays, watched by `mrstnet watch --jsonl` in another process: latency (last frame of
  a window decoded -> prediction) median / p95 and the share of frames dropped;
* `mrstnet predict` over a folder: videos/s batched across files with decoding ahead vs
  one file at a time (decode, then score, as before this change).

Inputs are synthetic motion clips (mrstnet.data.synthetic) at 256x256 centred in a
340x256 textured frame, 20 s rendered once and repeated for longer videos.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mrstnet.engine.hardware import cpu_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's mrstnet, not an installed one
sys.path.insert(0, str(ROOT / "tests" / "engine"))  # the loopback HTTP server of the tests

OUT = ROOT / "benchmarks" / "results"
W, H, FPS = 340, 256, 25


def load() -> float:
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- inputs
def frames_340x256(seconds: float, seed: int = 0):
    """uint8 (T, 256, 340, 3): motion clips of 2 s each, 256x256 in the middle."""
    import numpy as np

    from mrstnet.data.synthetic import class_video

    rng = np.random.default_rng(seed)
    n = round(seconds * FPS)
    clips = [class_video(k % 4, rng, 2 * FPS, H) for k in range(-(-n // (2 * FPS)))]
    square = np.concatenate(clips)[:n]
    out = np.empty((n, H, W, 3), np.uint8)
    out[:] = (np.linspace(60, 180, W, dtype=np.float32)[None, None, :, None]).astype(np.uint8)
    left = (W - H) // 2
    out[:, :, left : left + H] = square
    return out


def encode(path: Path, frames, repeat: int = 1, codec: str = "libx264", fmt=None) -> Path:
    import av

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        if codec == "libx264":
            s.options = {"preset": "veryfast", "g": str(2 * FPS), "bf": "0"}
        else:  # mpeg4 .avi as UCF-101 ships it, ~1 Mbit/s
            s.bit_rate = 1_000_000
            s.codec_context.gop_size = 12
        images = [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames]
        for _ in range(repeat):
            for image in images:
                image.pts = None
                for p in s.encode(image):
                    c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def mrst_t_net_checkpoint(path: Path) -> Path:
    """MRST-T-Net at full width (random weights, 101 classes) with the paper's clips."""
    import mrstnet
    from mrstnet.engine.checkpoint import save_checkpoint
    from mrstnet.models import model_config

    model = mrstnet.create_model("mrst_t_net", num_classes=101).eval()
    data = {"frames": 16, "frame_step": 2, "short_side": 256, "crop_size": 224}
    state = {
        "model": model_config(model),
        "state_dict": model.state_dict(),
        "classes": [f"class{i}" for i in range(101)],
        "data": data,
    }
    return save_checkpoint(path, state)


# --------------------------------------------------------------------------- children
def child_timeline(video: str, ckpt: str, threads: int, batch: int) -> dict:
    import torch

    from mrstnet.engine.inference import load_predictor
    from mrstnet.engine.timeline import default_batch, timeline

    torch.set_num_threads(threads)
    predictor = load_predictor(ckpt, device="cpu")
    run = timeline(predictor, video, batch_size=batch or None)  # 0: the default
    return {
        "video_s": round(run.video_seconds, 2),
        "wall_s": round(run.wall_s, 2),
        "rtf": round(run.video_seconds / run.wall_s, 2),
        "decode_s": round(run.decode_s, 2),
        "transform_s": round(run.transform_s, 2),
        "model_s": round(run.model_s, 2),
        "windows": len(run.windows),
        "batch": batch or default_batch(predictor.spec),
        "frames": run.frames,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def child_folder(folder: str, ckpt: str, threads: int, mode: str) -> dict:
    import torch

    from mrstnet.data.files import find_videos
    from mrstnet.engine.batch import load_file_clips, predict_files
    from mrstnet.engine.inference import load_predictor

    torch.set_num_threads(threads)
    predictor = load_predictor(ckpt, device="cpu")
    paths = find_videos([folder])
    # warm-up: oneDNN kernels for both batch shapes
    predictor.probs(load_file_clips(paths[0], predictor.spec, 10, 1))
    tic = time.perf_counter()
    if mode == "one at a time":
        for p in paths:  # what `mrstnet predict` did before: decode a file, then score it
            x = load_file_clips(p, predictor.spec, 10, 1)
            for chunk in x.split(8):
                predictor.probs(chunk)
    else:
        for _ in predict_files(predictor, paths, clips=10, batch_size=16, workers=1, prefetch=4):
            pass
    wall = time.perf_counter() - tic
    return {"videos": len(paths), "wall_s": round(wall, 2), "videos_per_s": len(paths) / wall}


def run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- live
def live(video_ts: Path, seconds: float, ckpt: str, stride: str | None) -> dict:
    """`mrstnet watch` with its default threads (torch's less one) on a paced stream."""
    from streams import serve

    cmd = [sys.executable, "-m", "mrstnet", "watch", "--jsonl", "--checkpoint", ckpt]
    cmd += ["--stride", stride] if stride else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with serve(video_ts, seconds=seconds) as url:
        out = subprocess.run(
            [*cmd, url], capture_output=True, text=True, env=env, cwd=ROOT, check=False
        )
    if out.returncode != 0:
        raise RuntimeError(f"watch failed:\n{out.stderr[-3000:]}")
    records = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    lat = sorted(r["latency_ms"] for r in records)
    summary = out.stderr.strip().splitlines()[-1]
    share = float(summary.rsplit("(", 1)[1].split("%")[0]) / 100
    return {
        "predictions": len(records),
        "latency_ms_median": lat[len(lat) // 2],
        "latency_ms_p95": lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))],
        "windows_dropped": records[-1]["windows_dropped"],
        "frames_dropped_share": share,
        "summary": summary,
    }


# --------------------------------------------------------------------------- report
def markdown(res: dict) -> str:
    cpu = res["env"]["cpu"]
    lines = [
        "# Own videos: timeline, memory, live input, folders",
        "",
        f"Machine: {cpu}, {res['env']['cores']} cores shared with other jobs "
        f"(load average during each run in the tables); torch {res['env']['torch']}, "
        f"PyAV {res['env']['av']}. Videos: 340x256, 25 fps, synthetic motion "
        "(benchmarks/bench_own_videos.py). Decoding runs in its own thread beside the "
        "model, so decode + resize + model can exceed the wall time.",
        "",
        "## Timeline real-time factor",
        "",
        "| model | video | torch threads | batch | RTF (video s / wall s) | wall s | decode s | "
        "resize+crop s | model s | windows | load | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["timeline"]:
        lines.append(
            f"| {r['model']} | {r['video']} | {r['threads']} | {r['batch']} | "
            f"**{r['rtf']:.1f}x** | "
            f"{r['wall_s']} | {r['decode_s']} | {r['transform_s']} | {r['model_s']} | "
            f"{r['windows']} | {r['load']} | {cpu} |"
        )
    lines += [
        "",
        "## Peak memory (RSS) of a timeline, fresh process each",
        "",
        "| video | peak RSS MB | frames decoded | load | CPU |",
        "|---|---|---|---|---|",
    ]
    for r in res["memory"]:
        lines.append(f"| {r['video']} | {r['peak_rss_mb']} | {r['frames']} | {r['load']} | {cpu} |")
    m = res["memory"]
    if len(m) == 2:
        ratio = m[1]["peak_rss_mb"] / m[0]["peak_rss_mb"]
        lines += ["", f"Peak RSS, {m[1]['video']} / {m[0]['video']}: {ratio:.3f}"]
    lines += [
        "",
        "## Live input (HTTP MPEG-TS on the loopback, at the stream's rate)",
        "",
        "`mrstnet watch --jsonl` in its own process with its default model threads "
        "(torch's less one: 1 here); latency from the decoding of a window's last frame "
        "to its prediction; frames dropped: in some window but in no scored one.",
        "",
        "| model | stream | stride | predictions | latency median ms | latency p95 ms | "
        "windows dropped | frames dropped | load | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["live"]:
        lines.append(
            f"| {r['model']} | {r['stream']} | {r['stride']} | {r['predictions']} | "
            f"{r['latency_ms_median']:.0f} | {r['latency_ms_p95']:.0f} | "
            f"{r['windows_dropped']} | {r['frames_dropped_share']:.1%} | {r['load']} | {cpu} |"
        )
    lines += [
        "",
        "## `mrstnet predict` over a folder (10 clips per video, demo model)",
        "",
        "| mode | videos | wall s | videos/s | load | CPU |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["folder"]:
        lines.append(
            f"| {r['mode']} | {r['videos']} | {r['wall_s']} | {r['videos_per_s']:.2f} | "
            f"{r['load']} | {cpu} |"
        )
    if res.get("notes"):
        lines += ["", *res["notes"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter inputs (a smoke run)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "timeline":
            video, ckpt, threads, batch = rest
            print(json.dumps(child_timeline(video, ckpt, int(threads), int(batch))))
        else:
            folder, ckpt, threads, mode = rest
            print(json.dumps(child_folder(folder, ckpt, int(threads), mode)))
        return 0

    import av
    import torch

    from mrstnet.deploy.weights import DEMO

    demo = str(DEMO)
    quick = args.quick
    res: dict = {
        "env": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "av": av.__version__,
            "python": platform.python_version(),
        },
        "timeline": [],
        "memory": [],
        "live": [],
        "folder": [],
        "notes": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench_own_videos_"))
    tic = time.time()
    base = frames_340x256(4 if quick else 20)
    reps_1min = 60 * FPS // len(base)
    one_min = encode(tmp / "1min.mp4", base, repeat=reps_1min)
    ten_min = encode(tmp / "10min.mp4", base, repeat=(1 if quick else 10) * reps_1min)
    one_min_avi = encode(tmp / "1min.avi", base, repeat=reps_1min, codec="mpeg4")
    short = encode(tmp / "3s.mp4", base[: 3 * FPS])
    live_reps = 1 if quick else 2
    live_s = round(live_reps * len(base) / FPS)
    stream = encode(tmp / "live.ts", base, repeat=live_reps, fmt="mpegts")
    stream_224 = encode(tmp / "live10.ts", base[: 10 * FPS], fmt="mpegts")
    folder = tmp / "folder"
    folder.mkdir()
    for k in range(6 if quick else 16):
        encode(folder / f"v{k:02d}.avi", base[k * 10 % 100 :][: 4 * FPS], codec="mpeg4")
    ckpt_224 = str(mrst_t_net_checkpoint(tmp / "mrst_t_net_224.pt"))
    print(f"inputs ready in {time.time() - tic:.0f} s", flush=True)

    def timeline_row(model, ckpt, video, name, threads, batch=0):
        before = load()
        r = run_child("timeline", str(video), ckpt, str(threads), str(batch))
        r.update(model=model, video=name, threads=threads, load=max(before, load()))
        print(r, flush=True)
        return r

    demo_name = "demo (mrst_t_net_small, 16x64x64)"
    first = timeline_row(demo_name, demo, one_min, "1 min H.264 .mp4", 1)
    res["timeline"].append(first)
    res["timeline"].append(timeline_row(demo_name, demo, one_min, "1 min H.264 .mp4", 2))
    res["timeline"].append(timeline_row(demo_name, demo, one_min, "1 min H.264 .mp4", 1, 8))
    res["timeline"].append(timeline_row(demo_name, demo, one_min_avi, "1 min mpeg4 .avi", 1))
    name_224 = "MRST-T-Net (16x224x224, step 2)"
    res["timeline"].append(timeline_row(name_224, ckpt_224, short, "3 s H.264 .mp4", 1))
    last = timeline_row(demo_name, demo, ten_min, "10 min H.264 .mp4", 1)
    res["timeline"].append(last)
    res["memory"] = [first, last]

    for model, ckpt, ts, seconds in (
        (demo_name, demo, stream, live_s),
        (name_224, ckpt_224, stream_224, 10),
    ):
        before = load()
        r = live(ts, seconds, ckpt, stride=None)
        r.update(model=model, stream=f"{seconds} s H.264 TS", load=max(before, load()))
        r["stride"] = "half a window"
        print(r, flush=True)
        res["live"].append(r)

    for mode in ("one at a time", "batched across files"):
        before = load()
        r = run_child("folder", str(folder), demo, "1", mode)
        r.update(mode=mode, load=max(before, load()))
        print(r, flush=True)
        res["folder"].append(r)

    if quick:
        res["notes"].append("A --quick smoke run: inputs shortened; not the published figures.")
    else:
        res["notes"].append(
            "Inputs at full length (1- and 10-minute videos, a 40 s live stream); only the "
            "MRST-T-Net 224 runs are short (3 s file, 10 s stream). Timings on a shared "
            "machine move with its load (column `load`): the same 1-minute demo timeline "
            "measured 6.6x at load 13 and 17.9x at load 3.4 in earlier runs."
        )
    res["total_s"] = round(time.time() - tic, 1)
    out = tmp if quick else OUT  # a smoke run does not replace the published figures
    out.mkdir(parents=True, exist_ok=True)
    (out / "own_videos.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "own_videos.md").write_text(markdown(res))
    print(f"wrote {out / 'own_videos.md'}")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
