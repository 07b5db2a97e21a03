"""A motion dataset unlike `mrstnet synth`, to check that the demo preset is not tuned to
one generator, run by hand:

    python benchmarks/alt_motion_set.py DIR && mrstnet demo --root DIR --out RUN

UCF-101 layout (class folders, ucfTrainTestlist/ with classInd and three splits by group,
CRLF), 40 videos a class of 48 frames, 320×240 mpeg4 .avi at 25 fps, like UCF-101's own
files. Six classes in time-reversal pairs, all whole-frame motion of a random blocky
texture (no moving object as in synth): rotate_cw/rotate_ccw (turning about a random
centre), zoom_in/zoom_out (scaling), fill_up/drain_down (a tinted level rising or
falling over the texture); per-pixel noise on every frame.
"""

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLASSES = ["rotate_cw", "rotate_ccw", "zoom_in", "zoom_out", "fill_up", "drain_down"]
W, H, T = 320, 240, 48


def texture(rng, size=512):
    base = rng.integers(0, 255, (size // 32, size // 32, 3)).astype(np.uint8)
    tex = np.kron(base, np.ones((32, 32, 1), np.uint8))
    noise = rng.integers(0, 40, tex.shape).astype(np.uint8)
    return tex // 2 + noise


def frames_for(cls, rng):
    tex = texture(rng)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    cy, cx = H / 2 + rng.uniform(-30, 30), W / 2 + rng.uniform(-40, 40)
    speed = rng.uniform(0.6, 1.4)
    out = []
    for t in range(T):
        tt = t if cls in ("rotate_cw", "zoom_in", "fill_up") else T - 1 - t
        if cls.startswith("rotate"):
            a = 0.05 * speed * tt
            u = np.cos(a) * (xs - cx) - np.sin(a) * (ys - cy) + 256
            v = np.sin(a) * (xs - cx) + np.cos(a) * (ys - cy) + 256
        elif cls.startswith("zoom"):
            s = 1.0 / (1 + 0.02 * speed * tt)
            u = (xs - cx) * s + 256
            v = (ys - cy) * s + 256
        else:
            u, v = xs + 50, ys + 50
        img = tex[np.clip(v, 0, 511).astype(int), np.clip(u, 0, 511).astype(int)].copy()
        if cls in ("fill_up", "drain_down"):
            level = int(H * (1 - (0.1 + 0.8 * tt / (T - 1))))
            img[level:] = (img[level:] // 3 + np.array([20, 80, 200], np.uint8)).astype(np.uint8)
        img = img.astype(np.int16) + rng.integers(-10, 10, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def write(path, frames):
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=Fraction(25))
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.bit_rate = 1_500_000
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def main(root: str, per_class: int = 40, seed: int = 7) -> None:
    root = Path(root)
    rng = np.random.default_rng(seed)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(CLASSES)))
    names = {k: ([], []) for k in (1, 2, 3)}
    for ci, cls in enumerate(CLASSES):
        d = root / cls
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            g = i // 4 + 1
            name = f"v_{cls}_g{g:02d}_c{i % 4 + 1:02d}.avi"
            write(d / name, frames_for(cls, rng))
            for k in (1, 2, 3):
                test = (g - 1) % 5 == (k - 1)  # groups 1,6 / 2,7 / 3,8 test
                names[k][test].append(f"{cls}/{name}" + ("" if test else f" {ci + 1}"))
    for k, (train, test) in names.items():
        (lists / f"trainlist0{k}.txt").write_text("".join(n + "\r\n" for n in train))
        (lists / f"testlist0{k}.txt").write_text("".join(n + "\r\n" for n in test))


if __name__ == "__main__":
    main(sys.argv[1])
