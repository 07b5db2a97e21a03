"""Drawing in numpy, vectorised over frames: capsules (thick limbs) with clothing texture,
a whole figure, and the background scene.

Colours are float32 RGB in [0, 1]. A figure is drawn into a box that follows it (the same
box size in every frame, placed per frame), so the cost is frames x box pixels per limb
rather than frames x image pixels; the box is then composited into the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import Body

PATTERNS = ("plain", "stripes", "bands", "checks", "noise")


@dataclass(frozen=True)
class Cloth:
    """A colour, a second colour and a pattern laid out in the limb's own coordinates, so
    that it moves with the limb. `period` in pixels."""

    base: np.ndarray  # (3,)
    second: np.ndarray  # (3,)
    pattern: str = "plain"
    period: float = 4.0
    strength: float = 0.6


@dataclass(frozen=True)
class Look:
    """How a figure is dressed."""

    skin: Cloth
    hair: np.ndarray
    shirt: Cloth
    sleeves: bool  # long sleeves: forearms in the shirt, else skin
    trousers: Cloth
    shorts: bool  # shins in skin
    shoes: Cloth


def random_colour(rng: np.random.Generator, avoid: np.ndarray | None, contrast: float):
    """A random colour at least about `contrast` away from `avoid` (per channel mean)."""
    c = rng.random(3).astype(np.float32)
    if avoid is not None and np.abs(c - avoid).mean() < contrast:
        # push it to the other side of `avoid`
        c = np.where(avoid > 0.5, c * (avoid - contrast).clip(0.05, 1), 1 - (1 - c) * 0.35)
        c = c.astype(np.float32)
    return c


def random_cloth(rng: np.random.Generator, avoid, contrast: float, scale: float) -> Cloth:
    base = random_colour(rng, avoid, contrast)
    second = np.clip(base + rng.uniform(-0.5, 0.5, 3), 0, 1).astype(np.float32)
    pattern = PATTERNS[int(rng.integers(0, len(PATTERNS)))]
    period, strength = float(rng.uniform(2.5, 6) * scale), float(rng.uniform(0.4, 0.9))
    return Cloth(base, second, pattern, period, strength)


def random_look(rng: np.random.Generator, avoid, contrast: float, scale: float) -> Look:
    """`scale`: pattern size factor (about figure height / 60 px)."""
    tone = rng.uniform(0.25, 1.0)
    skin_rgb = np.array([0.95, 0.75, 0.6], np.float32) * tone + [0.05, 0.03, 0.02]
    skin = Cloth(skin_rgb.astype(np.float32), skin_rgb.astype(np.float32))
    hair = (rng.uniform(0.05, 0.6) * np.array([1.0, 0.8, 0.55]) * rng.uniform(0.7, 1.3, 3)).clip(
        0, 1
    )
    shirt = random_cloth(rng, avoid, contrast, scale)
    trousers = random_cloth(rng, avoid, contrast, scale)
    shoes_rgb = rng.uniform(0.02, 0.35) * np.ones(3, np.float32)
    return Look(
        skin=skin,
        hair=hair.astype(np.float32),
        shirt=shirt,
        sleeves=bool(rng.random() < 0.6),
        trousers=trousers,
        shorts=bool(rng.random() < 0.2),
        shoes=Cloth(shoes_rgb, shoes_rgb),
    )


def _hash(i: np.ndarray, j: np.ndarray, salt: float) -> np.ndarray:
    """A cheap deterministic pseudo-random value in [0, 1) per integer cell (i, j)."""
    v = np.sin(i * 12.9898 + j * 78.233 + salt) * 43758.5453
    return v - np.floor(v)


def _pattern(cloth: Cloth, along: np.ndarray, across: np.ndarray) -> np.ndarray:
    """Mix weight of the second colour, (T, h, w) from the limb coordinates (pixels)."""
    p = cloth.period
    if cloth.pattern == "stripes":  # across the limb, like a striped jumper
        m = np.sin(2 * np.pi * along / p) > 0
    elif cloth.pattern == "bands":  # along the limb
        m = np.sin(2 * np.pi * across / (0.7 * p)) > 0.3
    elif cloth.pattern == "checks":
        m = (np.sin(np.pi * along / p) > 0) ^ (np.sin(np.pi * across / p) > 0)
    elif cloth.pattern == "noise":
        m = _hash(np.floor(along / (0.5 * p)), np.floor(across / (0.5 * p)), p)
    else:
        return None
    return m.astype(np.float32) * cloth.strength


class Canvas:
    """A stack of frame-aligned boxes (T, h, w) that a figure is painted into: x0, y0 (T,)
    are each box's top-left corner in image pixels. Each limb is computed only over a
    smaller box around it."""

    def __init__(self, x0: np.ndarray, y0: np.ndarray, h: int, w: int):
        self.x0, self.y0 = x0.astype(int), y0.astype(int)
        # colour premultiplied by coverage, and coverage: painting a layer over it is one
        # lerp of all four channels towards (colour, 1)
        self.rgba = np.zeros((len(x0), h, w, 4), np.float32)

    def _box(self, lo: np.ndarray, hi: np.ndarray):
        """The part of the canvas that holds [lo, hi] ((T, 2) pixels) in each frame, as
        (xs (T, 1, w), ys (T, h, 1), where: (top-left corners (T, 2) in the canvas, h, w))."""
        bh, bw = self.rgba.shape[1:3]
        w, h = np.ceil(hi - np.floor(lo)).max(axis=0).astype(int) + 1
        w, h = min(int(w), bw), min(int(h), bh)
        ox = np.clip(np.floor(lo[:, 0]) - self.x0, 0, bw - w).astype(int)
        oy = np.clip(np.floor(lo[:, 1]) - self.y0, 0, bh - h).astype(int)
        xs = (self.x0 + ox)[:, None, None] + np.arange(w, dtype=np.float32)[None, None, :]
        ys = (self.y0 + oy)[:, None, None] + np.arange(h, dtype=np.float32)[None, :, None]
        return xs.astype(np.float32), ys.astype(np.float32), (np.stack([oy, ox], 1), h, w)

    def capsule(self, p0: np.ndarray, p1: np.ndarray, r: float, cloth: Cloth, shade=1.0):
        """Paint the segment p0 -> p1 ((T, 2) image pixels) r pixels thick, over what is
        there. Edges are anti-aliased over one pixel."""
        xs, ys, where = self._box(np.minimum(p0, p1) - r - 1, np.maximum(p0, p1) + r + 1)
        ex = (p1[:, 0] - p0[:, 0]).astype(np.float32)[:, None, None]
        ey = (p1[:, 1] - p0[:, 1]).astype(np.float32)[:, None, None]
        dx = xs - p0[:, 0].astype(np.float32)[:, None, None]  # (T, 1, w)
        dy = ys - p0[:, 1].astype(np.float32)[:, None, None]  # (T, h, 1)
        length = np.sqrt(ex * ex + ey * ey)
        unit_x = np.where(length > 1e-3, ex / np.maximum(length, 1e-3), 0.0)
        unit_y = np.where(length > 1e-3, ey / np.maximum(length, 1e-3), 1.0)
        along = dx * unit_x + dy * unit_y  # pixels along the axis
        across = dx * unit_y - dy * unit_x  # signed pixels from the axis
        u = np.clip(along, 0, length)
        dist = np.sqrt((along - u) ** 2 + across**2)
        a = np.clip(r + 0.5 - dist, 0, 1)
        m = _pattern(cloth, along, across)
        # rounded shading across the limb gives it volume
        light = shade * (1.0 - 0.35 * np.clip(across / (r + 0.5), -1, 1) ** 2)
        if m is None:
            colour = cloth.base * light[..., None]
        else:
            colour = (cloth.base + (cloth.second - cloth.base) * m[..., None]) * light[..., None]
        self.paint(a, colour, where)

    def over(self, video: np.ndarray) -> None:
        """Composite the boxes over `video` (T, H, W, 3) in place; what falls outside it is
        dropped."""
        bh, bw = self.rgba.shape[1:3]
        height, width = video.shape[1:3]
        for i, (x0, y0) in enumerate(zip(self.x0, self.y0, strict=True)):
            xa, ya = max(x0, 0), max(y0, 0)
            xb, yb = min(x0 + bw, width), min(y0 + bh, height)
            if xb > xa and yb > ya:
                rgba = self.rgba[i, ya - y0 : yb - y0, xa - x0 : xb - x0]
                region = video[i, ya:yb, xa:xb]
                region *= 1 - rgba[..., 3:]
                region += rgba[..., :3]

    def paint(self, a: np.ndarray, colour: np.ndarray, where) -> None:
        """Paint `colour` ((T, h, w, 3) or (3,)) with coverage `a` ((T, h, w)) into the
        boxes `where` (from _box)."""
        corners, h, w = where
        target = np.empty((*a.shape, 4), np.float32)
        target[..., :3] = colour
        target[..., 3] = 1.0
        for i, (y, x) in enumerate(corners):  # slices: faster than a fancy-indexed gather
            region = self.rgba[i, y : y + h, x : x + w]
            region += (target[i] - region) * a[i, :, :, None]

    def disc(self, c: np.ndarray, r: float, colour: np.ndarray):
        """Paint a disc of centre c (T, 2); return (dx, dy, a, where) for painting more."""
        xs, ys, where = self._box(c - r - 1, c + r + 1)
        dx = xs - c[:, 0].astype(np.float32)[:, None, None]
        dy = ys - c[:, 1].astype(np.float32)[:, None, None]
        d = np.sqrt(dx * dx + dy * dy)
        a = np.clip(r + 0.5 - d, 0, 1)
        light = 1.0 - 0.3 * np.clip(d / (r + 0.5), 0, 1) ** 2
        self.paint(a, colour * light[..., None], where)
        return dx, dy, a, where

    def box(self, c: np.ndarray, half_w: float, half_h: float, colour: np.ndarray) -> None:
        """Paint an axis-aligned box of centre c (T, 2), anti-aliased edges."""
        half = np.array([half_w, half_h])
        xs, ys, where = self._box(c - half - 1, c + half + 1)
        ax = np.clip(half_w + 0.5 - np.abs(xs - c[:, 0, None, None]), 0, 1)
        ay = np.clip(half_h + 0.5 - np.abs(ys - c[:, 1, None, None]), 0, 1)
        self.paint((ax * ay).astype(np.float32), colour, where)


def draw_figure(
    joints: dict[str, np.ndarray],
    body: Body,
    look: Look,
    scale: float,
    front: bool,
    facing: int,
) -> Canvas:
    """Paint a figure whose joints are in image pixels ((T, 2) each; `scale` px per standing
    height) into a canvas that follows it (Canvas.over puts it into frames)."""
    pts = np.stack(list(joints.values()))  # (J, T, 2)
    pad = 0.12 * scale + 2
    lo = np.floor(pts.min(axis=0) - pad)  # (T, 2)
    hi = np.ceil(pts.max(axis=0) + pad)
    bw, bh = (hi - lo).max(axis=0).astype(int)
    canvas = Canvas(lo[:, 0], lo[:, 1], int(bh), int(bw))

    def r(v: float) -> float:
        return max(v * scale, 0.7)

    j = joints
    far = 1.0 if front else 0.72

    def arm(limb: str, shade: float) -> None:
        fore = look.shirt if look.sleeves else look.skin
        canvas.capsule(j[f"shoulder_{limb}"], j[f"elbow_{limb}"], r(body.r_arm), look.shirt, shade)
        canvas.capsule(j[f"elbow_{limb}"], j[f"wrist_{limb}"], r(body.r_forearm), fore, shade)
        canvas.capsule(j[f"wrist_{limb}"], j[f"hand_{limb}"], r(body.r_forearm * 1.1), look.skin)

    def leg(limb: str, shade: float) -> None:
        shin = look.skin if look.shorts else look.trousers
        canvas.capsule(j[f"hip_{limb}"], j[f"knee_{limb}"], r(body.r_thigh), look.trousers, shade)
        canvas.capsule(j[f"knee_{limb}"], j[f"ankle_{limb}"], r(body.r_shin), shin, shade)
        canvas.capsule(j[f"ankle_{limb}"], j[f"toe_{limb}"], r(body.ankle), look.shoes, shade)

    def torso() -> None:
        wide = 1.35 if front else 1.0
        # the rounded top of the torso ends at the shoulders, not above them
        rt = r(body.r_torso * wide)
        up = j["neck"] - j["pelvis"]
        up_len = np.linalg.norm(up, axis=1, keepdims=True) + 1e-6
        top = j["neck"] - up / up_len * min(0.6 * rt, 0.3 * float(up_len.mean()))
        canvas.capsule(j["pelvis"], top, rt, look.shirt)
        if front:  # trousers up to the waist
            canvas.capsule(j["hip_b"], j["hip_a"], r(body.r_thigh * 1.25), look.trousers)
        else:
            canvas.disc(j["pelvis"], r(body.r_thigh * 1.3), look.trousers.base)
        canvas.capsule(j["neck"], j["head"], r(0.025), look.skin)

    def head() -> None:
        rad = r(body.head)
        dx, dy, a, where = canvas.disc(j["head"], rad, look.skin.base)
        # hair on top (and at the back of the head in a side view)
        hair = (dy < -0.25 * rad) & (dx < np.inf)
        if not front:
            hair |= (dx * facing < -0.35 * rad) & (dy < 0.35 * rad)
        canvas.paint(a * hair, look.hair, where)

    if front:
        leg("b", far)
        leg("a", 1.0)
        torso()
        head()
        arm("b", far)
        arm("a", 1.0)
    else:
        arm("b", far)
        leg("b", far)
        torso()
        head()
        leg("a", 1.0)
        arm("a", 1.0)
    return canvas


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """(h, w) smooth random field in [0, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = max(2, cells), max(2, round(cells * w / h))
    coarse = rng.random((gh, gw), dtype=np.float32)
    y = np.linspace(0, gh - 1, h, dtype=np.float32)
    x = np.linspace(0, gw - 1, w, dtype=np.float32)
    y0, x0 = np.minimum(y.astype(int), gh - 2), np.minimum(x.astype(int), gw - 2)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    c = coarse
    top = c[y0][:, x0] * (1 - fx) + c[y0][:, x0 + 1] * fx
    bottom = c[y0 + 1][:, x0] * (1 - fx) + c[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def background(
    rng: np.random.Generator, h: int, w: int, horizon: float, clutter: int, texture: float
) -> np.ndarray:
    """A scene (h, w, 3): a wall or sky above the horizon row, ground below, each a smooth
    texture of strength `texture`, then `clutter` static blobs (ellipses and boxes, plain or
    striped)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((h, w, 3), np.float32)
    for part, rows in (("sky", yy < horizon), ("ground", yy >= horizon)):
        base = rng.uniform(0.2, 0.85, 3).astype(np.float32)
        if part == "ground":
            base = base * rng.uniform(0.6, 1.0)
        field = smooth_noise(rng, h, w, int(rng.integers(3, 10)))
        grain = smooth_noise(rng, h, w, max(4, h // 3))
        tex = base + ((field - 0.5) * texture + (grain - 0.5) * 0.4 * texture)[..., None] * (
            rng.uniform(0.6, 1.4, 3)
        )
        out[rows] = tex[rows]
    for _ in range(clutter):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.04, 0.18) * h, rng.uniform(0.03, 0.15) * h
        # work on the blob's bounding box only
        y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 1, h)
        x0, x1 = max(int(cx - rx), 0), min(int(cx + rx) + 1, w)
        by, bx = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        if rng.random() < 0.5:
            inside = ((by - cy) / ry) ** 2 + ((bx - cx) / rx) ** 2 < 1
        else:
            inside = (np.abs(by - cy) < ry) & (np.abs(bx - cx) < rx)
        colour = rng.random(3).astype(np.float32)
        if rng.random() < 0.5:  # striped
            second = rng.random(3).astype(np.float32)
            period = rng.uniform(2, 7)
            m = (np.sin(2 * np.pi * (bx if rng.random() < 0.5 else by) / period) > 0)[..., None]
            paint = np.where(m, colour, second)
        else:
            paint = np.broadcast_to(colour, (*by.shape, 3))
        region = out[y0:y1, x0:x1]
        region[inside] = paint[inside]
    return np.clip(out, 0, 1)
