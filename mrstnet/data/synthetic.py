"""A procedural motion dataset written as real encoded videos in the UCF-101 layout.

Classes come in time-reversal pairs: a video of the second class of a pair is a video of the
first class played backwards. So, within a pair, the set of frames a clip can show has the
same distribution for both classes, and a model that ignores frame order can do no better
than chance within a pair; only the direction of motion tells them apart.

Everything else is random per video: shape, colour, size, background texture, speed, start
position, and one or two distractor blobs that drift and bounce independently of the class.

Layout written (the official UCF-101 formats, CRLF line endings)::

    OUT/<Class>/v_<Class>_gXX_cYY.avi
    OUT/ucfTrainTestlist/classInd.txt           "1 MoveLeft"
    OUT/ucfTrainTestlist/trainlist0{1,2,3}.txt  "MoveLeft/v_MoveLeft_g01_c01.avi 1"
    OUT/ucfTrainTestlist/testlist0{1,2,3}.txt   "MoveLeft/v_MoveLeft_g02_c01.avi"

Videos are grouped (gXX) as in UCF-101; split s tests on the groups g with (g - 1) % 3 == s - 1
and trains on the others, so train and test never share a group.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrstnet.data.layouts import FPS, write_dataset, write_video  # noqa: F401 (re-exported)

# Pairs (forward, reversed). The reversed class is rendered by reversing the forward video.
PAIRS: list[tuple[str, str]] = [
    ("MoveLeft", "MoveRight"),
    ("MoveUp", "MoveDown"),
    ("RotateClockwise", "RotateAnticlockwise"),
    ("Grow", "Shrink"),
    ("MoveUpLeft", "MoveDownRight"),
    ("MoveUpRight", "MoveDownLeft"),
    ("OrbitClockwise", "OrbitAnticlockwise"),
    ("FadeIn", "FadeOut"),
]
CLASSES: list[str] = [name for pair in PAIRS for name in pair]
MIN_FRAMES = 2  # a direction of motion needs two frames; one frame is its own reversal
# The actor's half-size is 0.09-0.15 of the frame (down to a third of that in Grow): below
# 16 pixels it covers no pixel in a good share of frames (at 16, in a few frames of Grow).
MIN_SIZE = 16


def class_names(num_classes: int) -> list[str]:
    if not 2 <= num_classes <= len(CLASSES):
        raise ValueError(f"classes must be between 2 and {len(CLASSES)}, got {num_classes}")
    return CLASSES[:num_classes]


def class_video(label: int, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    """A video of class CLASSES[label]: pair label // 2, played backwards for odd labels."""
    video = render(label // 2, rng, frames, size)
    return np.ascontiguousarray(video[::-1] if label % 2 else video)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random background (size, size, 3) in [0, 1], plus a little fine grain."""
    cells = int(rng.integers(3, 9))
    coarse = rng.random((cells, cells, 3), dtype=np.float32)
    # Bilinear upsampling of the coarse grid, written with numpy only.
    pos = np.linspace(0, cells - 1, size, dtype=np.float32)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, cells - 1)
    w = (pos - i0)[:, None, None]
    rows = coarse[i0] * (1 - w) + coarse[i1] * w
    w = (pos - i0)[None, :, None]
    tex = rows[:, i0] * (1 - w) + rows[:, i1] * w
    base = rng.uniform(0.15, 0.85, 3).astype(np.float32)
    tex = base + (tex - 0.5) * rng.uniform(0.2, 0.5)
    tex += rng.normal(0, 0.03, tex.shape).astype(np.float32)
    return np.clip(tex, 0, 1)


def _bounce(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold positions into [lo, hi] as a ball bouncing off the walls (a triangle wave)."""
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


def render(kind: int, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    """One forward video of pair `kind` as uint8 (frames, size, size, 3)."""
    t = np.arange(frames, dtype=np.float32)[:, None, None]  # (T, 1, 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)  # (H, W)
    bg = _texture(rng, size)
    video = np.broadcast_to(bg, (frames, size, size, 3)).copy()

    # Distractors: small discs drifting at a random velocity and bouncing.
    for _ in range(int(rng.integers(1, 3))):
        r = rng.uniform(0.04, 0.07) * size
        p0 = rng.uniform(r, size - r, 2)
        v = rng.normal(0, 0.025 * size, 2)
        cy = _bounce(p0[0] + v[0] * t, r, size - r)
        cx = _bounce(p0[1] + v[1] * t, r, size - r)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        video[mask] = rng.random(3, dtype=np.float32)

    # The actor: a random shape; its motion is what the class is about.
    half = rng.uniform(0.09, 0.15) * size  # half-size in pixels
    margin = half * 1.2
    speed = rng.uniform(0.6, 1.0) * (size - 2 * margin) / max(frames - 1, 1)  # px / frame
    angle0 = rng.uniform(0, 2 * np.pi)
    spin = 0.0
    scale = np.ones_like(t)
    alpha = np.ones_like(t)
    cy = np.full_like(t, size / 2)
    cx = np.full_like(t, size / 2)
    name = PAIRS[kind][0]
    if name in ("MoveLeft", "MoveUp", "MoveUpLeft", "MoveUpRight"):
        dy = {"MoveLeft": 0, "MoveUp": -1, "MoveUpLeft": -1, "MoveUpRight": -1}[name]
        dx = {"MoveLeft": -1, "MoveUp": 0, "MoveUpLeft": -1, "MoveUpRight": 1}[name]
        norm = np.hypot(dy, dx)
        travel = speed * (frames - 1) / norm
        # Start anywhere the whole path stays inside the frame.
        sy = rng.uniform(
            margin + (travel if dy < 0 else 0), size - margin - (travel if dy > 0 else 0)
        )
        sx = rng.uniform(
            margin + (travel if dx < 0 else 0), size - margin - (travel if dx > 0 else 0)
        )
        cy = sy + dy * speed / norm * t
        cx = sx + dx * speed / norm * t
    elif name == "RotateClockwise":
        spin = rng.uniform(0.06, 0.14)  # rad / frame; image y points down, so + is clockwise
        cy = np.full_like(t, rng.uniform(margin * 1.3, size - margin * 1.3))
        cx = np.full_like(t, rng.uniform(margin * 1.3, size - margin * 1.3))
    elif name == "Grow":
        lo, hi = rng.uniform(0.35, 0.55), rng.uniform(1.1, 1.4)
        scale = lo * (hi / lo) ** (t / max(frames - 1, 1))
        m = half * hi * 1.2
        cy = np.full_like(t, rng.uniform(m, size - m))
        cx = np.full_like(t, rng.uniform(m, size - m))
    elif name == "OrbitClockwise":
        radius = rng.uniform(0.18, 0.3) * size
        omega = rng.uniform(0.1, 0.2)
        phase = rng.uniform(0, 2 * np.pi)
        oy = rng.uniform(radius + margin, size - radius - margin)
        ox = rng.uniform(radius + margin, size - radius - margin)
        cy = oy + radius * np.sin(phase + omega * t)
        cx = ox + radius * np.cos(phase + omega * t)
    elif name == "FadeIn":
        alpha = np.clip(t / max(frames - 1, 1) * rng.uniform(1.0, 1.5), 0, 1)
        cy = np.full_like(t, rng.uniform(margin, size - margin))
        cx = np.full_like(t, rng.uniform(margin, size - margin))
    else:  # pragma: no cover - PAIRS and this chain are kept in step
        raise AssertionError(name)

    theta = angle0 + spin * t
    u = ((xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)) / (half * scale)
    w = (-(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)) / (half * scale)
    shape = int(rng.integers(0, 3))
    if shape == 0:  # a bar
        mask = (np.abs(u) < 1) & (np.abs(w) < 0.45)
    elif shape == 1:  # a triangle
        mask = (w > -0.6) & (w < 0.9) & (np.abs(u) < (0.9 - w) * 0.67)
    else:  # an "L"
        mask = ((np.abs(u) < 1) & (w > 0.3) & (w < 1)) | ((u > -1) & (u < -0.3) & (np.abs(w) < 1))
    colour = rng.random(3, dtype=np.float32)
    # Keep the actor visible: push its colour away from the background's mean.
    mean = bg.mean(axis=(0, 1))
    colour = np.where(
        np.abs(colour - mean) < 0.35, np.where(mean > 0.5, colour * 0.3, 0.7 + colour * 0.3), colour
    )
    a = (mask * alpha)[..., None]
    video = video * (1 - a) + colour * a
    return (np.clip(video, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_synthetic(
    out: Path | str,
    *,
    classes: int = 10,
    videos_per_class: int = 30,
    frames: int = 32,
    size: int = 64,
    seed: int = 0,
    layout: str = "ucf101",
) -> Path:
    """Write the synthetic motion set to `out` (created) in `layout` (mrstnet.data.layouts)
    and return `out`.

    Deterministic in `seed`; about a second or two per hundred 32x64x64 videos on one core.
    """
    if videos_per_class < 3:
        raise ValueError("videos_per_class must be at least 3 (three splits by group)")
    if frames < MIN_FRAMES:
        raise ValueError(f"frames must be at least {MIN_FRAMES} (motion needs two), got {frames}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, got {size}")
    names = class_names(classes)
    seeds = np.random.default_rng(seed).integers(0, 2**63 - 1, size=(classes, videos_per_class))

    def video(label: int, j: int) -> np.ndarray:
        return class_video(label, np.random.default_rng(int(seeds[label, j])), frames, size)

    return write_dataset(out, names, videos_per_class, video, layout=layout)
