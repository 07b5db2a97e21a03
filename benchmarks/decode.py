"""What turning decoded frames into RGB costs, per frame (run by hand, not in CI).

    python benchmarks/decode.py [--rounds 7] [--out benchmarks/results]

PyAV's `frame.to_ndarray(format="rgb24")` converts through a swscale context that belongs to
the frame, so a new one is built for every frame; `mrstnet.data.video.ToRGB` keeps one for
all the frames of a file, as the library's readers now do. For each frame size (the
ablation's 40x40, 112x112, UCF-101's 320x240, 640x480), one mpeg4 .avi of 48 frames is
written as the synthetic sets are (`mrstnet.data.layouts.write_video`), and each round
decodes it three ways in turn, in one process: decoding only, decoding +
`to_ndarray(format="rgb24")`, decoding + `ToRGB`. Per-frame times are the medians over the
rounds; the ratio is taken within each round and its median reported. The two RGB arrays
are checked to be identical. Figures go to OUT/decode.{json,md} with the CPU, its flags and
the versions beside them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

# Run from a checkout: this tree's mrstnet, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mrstnet.data.layouts import write_video  # noqa: E402
from mrstnet.data.video import ToRGB  # noqa: E402
from mrstnet.engine.hardware import cpu_words  # noqa: E402

SIZES = ((40, 40), (112, 112), (320, 240), (640, 480))
FRAMES = 48


def scene(width: int, height: int) -> np.ndarray:
    """uint8 (FRAMES, H, W, 3): a random texture scrolling sideways."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height, width + FRAMES, 3), dtype=np.uint8)
    return np.stack([texture[:, t : t + width] for t in range(FRAMES)])


def decode(path: Path, convert) -> tuple[float, list]:
    """Seconds per frame to decode the file (and convert each frame when `convert`)."""
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        frames = [convert(f) if convert else f for f in c.decode(video=0)]
    return (time.perf_counter() - t0) / len(frames), frames


def measure(path: Path, rounds: int) -> dict:
    per_frame = lambda f: f.to_ndarray(format="rgb24")  # noqa: E731 (PyAV's default use)
    times = {"decode": [], "to_ndarray": [], "ToRGB": []}
    ratios = []
    decode(path, ToRGB())  # warm-up: file cache, codec set-up
    for _ in range(rounds):
        times["decode"].append(decode(path, None)[0])
        a, old = decode(path, per_frame)
        b, new = decode(path, ToRGB())
        times["to_ndarray"].append(a)
        times["ToRGB"].append(b)
        ratios.append(a / b)
    identical = all(np.array_equal(x, y) for x, y in zip(old, new, strict=True))
    return {
        **{f"{k}_us": round(1e6 * statistics.median(v), 1) for k, v in times.items()},
        "speedup": round(statistics.median(ratios), 2),
        "identical": identical,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in SIZES:
            path = Path(tmp) / f"v{w}x{h}.avi"
            write_video(path, scene(w, h))
            rows.append({"size": f"{w}x{h}", **measure(path, args.rounds)})
            print(rows[-1], flush=True)
    meta = {
        "cpu": cpu_words(),
        "av": av.__version__,
        "libswscale": av.library_versions.get("libswscale"),
        "rounds": args.rounds,
        "frames": FRAMES,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "decode.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
    lines = [
        f"RGB conversion of decoded mpeg4 frames, µs a frame (median of {args.rounds} rounds, "
        f"{FRAMES} frames a file); {meta['cpu']}; PyAV {meta['av']}, libswscale "
        f"{'.'.join(map(str, meta['libswscale'] or ()))}.",
        "",
        "| frame | decode only | + to_ndarray(rgb24), a context a frame | + ToRGB, one "
        "context a file | speed-up of decode+convert | pixels identical |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['decode_us']} | {r['to_ndarray_us']} | {r['ToRGB_us']} | "
            f"{r['speedup']}x | {'yes' if r['identical'] else 'NO'} |"
        )
    (out / "decode.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
