"""One video: a figure doing an action in a scene, with the nuisance a difficulty asks for.

Pipeline, per video: a random body and clothing -> the action's pose per frame -> forward
kinematics -> a root path (the figure's feet stay on the ground: a planted foot does not
slide, so travel follows from the stride, plus the jump's flight) -> a camera that tracks
fast movers by panning over a wide background -> the figure, a second partial figure behind
it, moving shapes and a foreground occluder composited over the panned background -> camera
jitter (per-frame shift), flicker and sensor noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .actions import ACTIONS, Motion, action_motion
from .render import Canvas, background, draw_figure, random_look
from .skeleton import Body, forward_kinematics, random_body, sole_height


@dataclass(frozen=True)
class Nuisance:
    """What a difficulty in [0, 1] sets (sizes as fractions of the frame side)."""

    height: tuple[float, float]  # figure height (standing)
    variation: float  # body proportions spread
    clutter: tuple[int, int]  # static blobs in the background (range of counts)
    texture: float  # background texture strength
    contrast: float  # least clothing-to-background colour distance
    shapes: int  # most moving shapes
    second_figure: float  # probability of another (partial) figure
    occluder: float  # probability of a foreground pole or bush
    jitter: float  # camera shake, std in pixels at a 64-pixel frame
    flicker: float  # per-frame brightness std
    noise: float  # per-pixel noise std


def nuisance(difficulty: float) -> Nuisance:
    d = float(difficulty)
    return Nuisance(
        height=(0.6 - 0.22 * d, 0.74 + 0.04 * d),
        variation=0.5 + 1.0 * d,
        clutter=(round(4 * d), 1 + round(12 * d)),
        texture=0.15 + 0.45 * d,
        contrast=0.3 - 0.22 * d,
        shapes=round(4 * d),
        # none at the easy end: a partial figure clapping behind a waving one, or a pole
        # hiding half the body, is a nuisance for the harder settings
        second_figure=float(np.clip(1.15 * (d - 0.3), 0, 0.8)),
        occluder=float(np.clip(0.75 * (d - 0.2), 0, 0.6)),
        jitter=1.2 * d,
        flicker=0.04 * d,
        noise=0.01 + 0.04 * d,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -50, 50)))


def figure_path(motion: Motion, body: Body) -> dict[str, np.ndarray]:
    """Joints (T, 2) in standing heights in the world: ground at y = 0, the root starting at
    x = 0. The lower foot is planted: the root moves so that it does not slide."""
    joints = forward_kinematics(motion.pose, body, motion.front)
    if motion.facing < 0:
        joints = {k: v * [-1.0, 1.0] for k, v in joints.items()}
    lift = motion.pose["lift"]
    y = -sole_height(joints, body) - lift
    soles = [np.maximum(joints[f"ankle_{s}"][:, 1], joints[f"toe_{s}"][:, 1]) for s in "ab"]
    w_a = _sigmoid((soles[0] - soles[1]) / 0.01)  # 1 when foot a is the lower one
    slide = w_a[1:] * np.diff(joints["ankle_a"][:, 0]) + (1 - w_a[1:]) * np.diff(
        joints["ankle_b"][:, 0]
    )
    on_ground = (lift[1:] < 1e-4) & (lift[:-1] < 1e-4)
    step = -slide * on_ground + np.diff(motion.pose["adv"]) * motion.facing
    x = np.concatenate([[0.0], np.cumsum(step)])
    root = np.stack([x, y], axis=-1)
    return {k: v + root for k, v in joints.items()}


def _children(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(int(s)) for s in rng.integers(0, 2**63 - 1, n)]


def _shapes(rng, frames: int, c: int, n: int) -> list[Canvas]:
    """n moving shapes (discs and boxes) bouncing around the frame."""
    t = np.arange(frames)
    out = []
    for _ in range(n):
        r = rng.uniform(0.03, 0.08) * c
        p0, v = rng.uniform(r, c - r, 2), rng.normal(0, 0.02 * c, 2)
        centre = np.stack(
            [_bounce(p0[1] + v[1] * t, r, c - r), _bounce(p0[0] + v[0] * t, r, c - r)], -1
        )
        lo = np.floor(centre - r - 1).astype(int)
        side = int(2 * r + 4)
        canvas = Canvas(lo[:, 0], lo[:, 1], side, side)
        colour = rng.random(3).astype(np.float32)
        if rng.random() < 0.5:
            canvas.disc(centre, r, colour)
        else:
            canvas.box(centre, r * 1.2, r * 0.8, colour)
        out.append(canvas)
    return out


def _bounce(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


def render_video(
    name: str, rng: np.random.Generator, frames: int, size: int, difficulty: float
) -> np.ndarray:
    """uint8 (frames, size, size, 3): one video of class `name` (see ACTIONS)."""
    action = ACTIONS[name]
    if action.reverse_of:  # the same video, played backwards
        return np.ascontiguousarray(
            render_video(action.reverse_of, rng, frames, size, difficulty)[::-1]
        )
    nz = nuisance(difficulty)
    r_body, r_look, r_motion, r_place, r_bg, r_extra, r_noise = _children(rng, 7)

    body = random_body(r_body, nz.variation)
    motion = action_motion(name, r_motion, frames, difficulty)
    fig = r_place.uniform(*nz.height) * size  # pixels per standing height
    world = {k: v * fig for k, v in figure_path(motion, body).items()}
    pts = np.stack(list(world.values()))  # (J, T, 2)

    # Camera: pan with a fast mover so that it crosses only part of the frame.
    travel = world["pelvis"][-1, 0] - world["pelvis"][0, 0]
    allowed = r_place.uniform(0.1, 0.4) * size
    pan_speed = (travel - math.copysign(allowed, travel)) / max(frames - 1, 1)
    pan_speed = pan_speed if abs(travel) > allowed else 0.0
    pan = np.rint(pan_speed * np.arange(frames))  # whole pixels: the background is cut
    jitter = nz.jitter * size / 64
    margin = math.ceil(3 * jitter) + 1  # the frames are cut from a canvas this much larger
    c = size + 2 * margin
    screen = pts - np.stack([pan, np.zeros(frames)], axis=-1)
    pad = (body.head + 0.03) * fig
    lo, hi = screen.min(axis=(0, 1)) - pad, screen.max(axis=(0, 1)) + pad
    ox_lo, ox_hi = margin - lo[0], c - margin - hi[0]
    oy_lo, oy_hi = margin - lo[1], c - margin - 1 - hi[1] + 0.1 * fig  # ground may be low
    u = r_place.random(2)
    ox = ox_lo + u[0] * (ox_hi - ox_lo) if ox_hi > ox_lo else (ox_lo + ox_hi) / 2
    oy = oy_lo + u[1] * (oy_hi - oy_lo) if oy_hi > oy_lo else (oy_lo + oy_hi) / 2
    joints = {k: v - np.stack([pan - ox, np.full(frames, -oy)], axis=-1) for k, v in world.items()}

    # Background: a wide scene the camera pans over; clothes keep clear of its colours.
    bg_pan = pan - pan.min()
    wide = c + int(bg_pan.max())
    horizon = oy - r_bg.uniform(0.3, 0.9) * fig
    clutter = int(r_bg.integers(nz.clutter[0], nz.clutter[1] + 1))
    scene = background(r_bg, c, wide, horizon, clutter, nz.texture)
    video = np.stack([scene[:, x : x + c] for x in bg_pan.astype(int)])  # (T, c, c, 3)

    avoid = scene.reshape(-1, 3).mean(axis=0)
    look = random_look(r_look, avoid, nz.contrast, fig / 60)

    # Another figure, smaller (further away) and half out of the frame, behind.
    if r_extra.random() < nz.second_figure:
        _second_figure(r_extra, video, frames, c, fig, pan, oy, difficulty, nz)
    draw_figure(joints, body, look, fig, motion.front, motion.facing).over(video)
    for shape in _shapes(r_extra, frames, c, int(r_extra.integers(0, nz.shapes + 1))):
        shape.over(video)
    if r_extra.random() < nz.occluder:  # a pole or a bush in front, fixed in the scene
        width = r_extra.uniform(0.03, 0.09) * c
        xs = r_extra.uniform(0, wide) - bg_pan[:, None] - np.arange(c)[None, :]  # (T, c)
        a = np.clip(width / 2 + 0.5 - np.abs(xs), 0, 1)[:, None, :, None]
        top = int(r_extra.uniform(0, 0.7) * c)
        colour = r_extra.random(3).astype(np.float32) * 0.8
        video[:, top:] += (colour - video[:, top:]) * a

    # Camera shake: each frame cut from the canvas at its own offset.
    shift = np.clip(np.rint(r_noise.normal(0, jitter, (frames, 2))), -margin, margin)
    shift = shift.astype(int) + margin
    frames_out = np.empty((frames, size, size, 3), np.float32)
    for i, (dy, dx) in enumerate(shift):
        frames_out[i] = video[i, dy : dy + size, dx : dx + size]
    # flicker, then uniform noise of std nz.noise (cheaper to draw than normal noise), in
    # place and in 0..255
    frames_out *= (1 + r_noise.normal(0, nz.flicker, (frames, 1, 1, 1)).astype(np.float32)) * 255
    noise = r_noise.random(frames_out.shape, dtype=np.float32)
    noise -= 0.5
    noise *= nz.noise * 12**0.5 * 255
    frames_out += noise
    frames_out += 0.5
    return np.clip(frames_out, 0, 255, out=frames_out).astype(np.uint8)


def _second_figure(rng, video, frames, c, fig, pan, ground, difficulty, nz):
    """A distractor: someone else doing a random action, smaller and at the frame's edge."""
    names = [n for n, a in ACTIONS.items() if not a.reverse_of]
    name = names[int(rng.integers(0, len(names)))]
    body = random_body(rng, nz.variation)
    motion = action_motion(name, rng, frames, difficulty)
    scale = fig * rng.uniform(0.5, 0.85)
    world = {k: v * scale for k, v in figure_path(motion, body).items()}
    side = rng.choice([-1.0, 1.0])
    x = c / 2 + side * (c / 2 + rng.uniform(-0.2, 0.05) * scale)  # about half of it shows
    y = ground - rng.uniform(0.05, 0.25) * fig  # further back: higher in the frame
    off = np.stack([x - pan, np.full(frames, y)], axis=-1)
    joints = {k: v + off for k, v in world.items()}
    avoid = video.reshape(-1, 3).mean(axis=0)
    look = random_look(rng, avoid, nz.contrast, scale / 60)
    draw_figure(joints, body, look, scale, motion.front, motion.facing).over(video)
