"""Actions as parametric joint-angle functions (poses in the sense of skeleton.py).

A cyclic action maps a phase x (cycles, any real) to a pose; its video runs the phase at a
class-specific rate (frames per cycle, `period`) from a random start. A one-shot action maps
a progress s in [0, 1] (standing -> end pose) to a pose; its video holds, moves over a random
stretch of the frames with an eased profile, and holds again. Besides the angles, a pose may
carry `lift` (height of the whole figure above the ground, in standing heights: flight) and
`adv` (explicit forward travel, in heights: the part of the root's motion that no planted
foot explains, as in a jump's flight).

Motion-only pairs share the pose function and every random draw and differ only in the
timing (`period`) or in the direction of time (`reverse_of`), so the set of poses a video
shows has the same distribution for both classes of such a pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .skeleton import POSE_KEYS

Pose = dict[str, np.ndarray]


def _ease(x: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero slope at both ends (x in [0, 1])."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def keyframes(x: np.ndarray, times: list[float], values: list[float]) -> np.ndarray:
    """Periodic eased interpolation through (times[i], values[i]), times in [0, 1) rising
    from 0; the value at 1 is values[0] again."""
    t = np.append(np.asarray(times, float), 1.0)
    v = np.append(np.asarray(values, float), values[0])
    x = np.mod(x, 1.0)
    i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(times) - 1)
    w = _ease((x - t[i]) / (t[i + 1] - t[i]))
    return v[i] + (v[i + 1] - v[i]) * w


def _pose(n: int, **angles) -> Pose:
    """A full pose with zeros for the angles not given (scalars are broadcast to (n,))."""
    out = {k: np.zeros(n) for k in (*POSE_KEYS, "lift", "adv")}
    for k, v in angles.items():
        out[k] = np.broadcast_to(np.asarray(v, float), (n,)).copy()
    return out


def _pulse(x: np.ndarray, start: float, width: float) -> np.ndarray:
    """A sin^2 bump of `width` cycles starting at `start`, once per cycle."""
    y = np.mod(x - start, 1.0) / width
    return np.where(y < 1, np.sin(np.pi * np.clip(y, 0, 1)) ** 2, 0.0)


# -- cyclic actions: phase x (cycles) and amplitude factor amp -> pose --------------------
def walk(x: np.ndarray, amp: float) -> Pose:
    w = 2 * np.pi * x
    wb = w + np.pi  # the other leg half a cycle later
    return _pose(
        len(x),
        lean=0.05,
        hip_a=0.05 + 0.42 * amp * np.sin(w),
        hip_b=0.05 + 0.42 * amp * np.sin(wb),
        # the knee folds early in the swing (the leg moving forwards), nearly straight at strike
        kn_a=0.08 + 0.9 * amp * np.maximum(0, np.cos(w + 0.5)) ** 2,
        kn_b=0.08 + 0.9 * amp * np.maximum(0, np.cos(wb + 0.5)) ** 2,
        sh_a=-0.4 * amp * np.sin(w),  # arms swing against the legs of their side
        sh_b=-0.4 * amp * np.sin(wb),
        el_a=0.2 + 0.35 * np.maximum(0, -np.sin(w)),
        el_b=0.2 + 0.35 * np.maximum(0, -np.sin(wb)),
    )


def stride(x: np.ndarray, amp: float) -> Pose:
    """The jogging/running stride: bent arms, high knee fold, forward lean, a flight bounce."""
    w = 2 * np.pi * x
    wb = w + np.pi
    return _pose(
        len(x),
        lean=0.17,
        tilt=-0.1,
        hip_a=0.15 + 0.6 * amp * np.sin(w),
        hip_b=0.15 + 0.6 * amp * np.sin(wb),
        kn_a=0.3 + 1.5 * amp * np.maximum(0, np.cos(w + 0.6)) ** 1.5,
        kn_b=0.3 + 1.5 * amp * np.maximum(0, np.cos(wb + 0.6)) ** 1.5,
        sh_a=0.25 - 0.65 * amp * np.sin(w),
        sh_b=0.25 - 0.65 * amp * np.sin(wb),
        el_a=1.5 + 0.25 * np.sin(w),
        el_b=1.5 + 0.25 * np.sin(wb),
        lift=0.035 * amp * np.sin(w) ** 2,  # highest with the legs spread (mid-flight)
    )


def box(x: np.ndarray, amp: float) -> Pose:
    """Boxing stance, left lead: each fist shoots out and back once per cycle in turn."""
    pa, pb = _pulse(x, 0.0, 0.42), _pulse(x, 0.5, 0.42)
    lean = 0.15 + 0.08 * (pa + pb) * amp
    guard_sh, guard_el = 0.95, 2.1
    reach_sh = np.pi / 2 + lean  # horizontal forearm and upper arm
    return _pose(
        len(x),
        lean=lean,
        tilt=-0.15,
        hip_a=0.28,
        kn_a=0.25,
        hip_b=-0.22 + 0.04 * np.sin(2 * np.pi * x),
        kn_b=0.15,
        sh_a=guard_sh + (reach_sh - guard_sh) * pa * amp,
        el_a=guard_el - (guard_el - 0.1) * pa * amp,
        sh_b=guard_sh + (reach_sh - guard_sh) * pb * amp,
        el_b=guard_el - (guard_el - 0.1) * pb * amp,
    )


def kick(x: np.ndarray, amp: float) -> Pose:
    """A front kick with leg a (chamber, extend, retract), then a step forward onto it and the
    other foot brought alongside: the figure advances about a third of its height a kick."""
    t = [0.0, 0.18, 0.32, 0.45, 0.62, 0.8, 0.9]
    return _pose(
        len(x),
        lean=keyframes(x, t, [0.05, -0.05, -0.3 * amp, -0.15, 0.05, 0.08, 0.05]),
        hip_a=keyframes(x, t, [0.0, 1.0 * amp, 1.45 * amp, 0.9, 0.35, 0.05, 0.0]),
        kn_a=keyframes(x, t, [0.1, 1.8, 0.15, 1.0, 0.15, 0.1, 0.1]),
        hip_b=keyframes(x, t, [0.0, -0.05, -0.1, -0.1, -0.3, 0.05, 0.0]),
        kn_b=keyframes(x, t, [0.1, 0.2, 0.25, 0.15, 0.1, 0.9, 0.1]),
        sh_a=keyframes(x, t, [0.4, 0.7, 0.1, 0.3, 0.4, 0.4, 0.4]),
        el_a=keyframes(x, t, [1.4, 1.5, 1.2, 1.3, 1.4, 1.4, 1.4]),
        sh_b=keyframes(x, t, [0.4, 0.1, -0.5, -0.2, 0.3, 0.4, 0.4]),
        el_b=keyframes(x, t, [1.4, 1.2, 0.8, 1.0, 1.3, 1.4, 1.4]),
    )


def jump(x: np.ndarray, amp: float) -> Pose:
    """Two-footed forward jumps: crouch with the arms back, take off swinging them up, tuck,
    land, absorb."""
    t = [0.0, 0.24, 0.4, 0.52, 0.68, 0.82]
    hip = keyframes(x, t, [0.05, 1.0, 0.05, 0.7, 0.5, 0.9])
    knee = keyframes(x, t, [0.1, 1.8, 0.0, 1.3, 0.4, 1.5])
    arm = keyframes(x, t, [0.0, -0.8, 2.5, 1.8, 1.2, 0.5])
    flight = np.clip((np.mod(x, 1.0) - 0.4) / 0.28, 0, 1)  # take-off at 0.4, landing at 0.68
    return _pose(
        len(x),
        lean=keyframes(x, t, [0.05, 0.6, 0.12, 0.3, 0.2, 0.5]),
        hip_a=hip,
        kn_a=knee,
        hip_b=hip + 0.08,
        kn_b=knee + 0.05,
        sh_a=arm,
        sh_b=arm - 0.1,
        el_a=0.25 + 0.1 * np.sin(np.pi * flight),
        el_b=0.3 + 0.1 * np.sin(np.pi * flight),
        lift=0.3 * amp * np.sin(np.pi * flight),
        adv=0.45 * amp * (np.floor(x - 0.4) + flight),  # forward only while in the air
    )


def arms_overhead(x: np.ndarray, amp: float) -> Pose:
    """Front view, both arms on one arc: s = 0 hands together overhead, s = 1 arms out level.
    hand_clapping and hand_waving both run it (sin^2 in the phase), at different rates."""
    s = np.clip(0.04 + (0.92 * amp) * np.sin(np.pi * x) ** 2, 0, 1)
    sh, el = 3.2 - 1.6 * s, 0.7 - 0.6 * s
    return _pose(len(x), hip_a=0.08, hip_b=0.08, sh_a=sh, sh_b=sh, el_a=el, el_b=el)


# -- one-shot actions: progress s in [0, 1] -> pose ------------------------------------------
def _blend(s: np.ndarray, start: dict[str, float], end: dict[str, float]) -> Pose:
    pose = _pose(len(s))
    for k in start.keys() | end.keys():
        a, b = start.get(k, 0.0), end.get(k, 0.0)
        pose[k] = a + (b - a) * s
    return pose


STAND = dict(lean=0.03, hip_a=0.02, hip_b=0.06, kn_a=0.05, kn_b=0.08, sh_a=0.05, sh_b=0.1)
STAND |= dict(el_a=0.15, el_b=0.2)


def squat(s: np.ndarray, amp: float) -> Pose:
    """Side view: standing -> deep squat, arms raised forward for balance."""
    down = dict(lean=0.75, hip_a=1.75, hip_b=1.8, kn_a=2.35, kn_b=2.4, sh_a=2.2, sh_b=2.1)
    down |= dict(el_a=0.1, el_b=0.15, tilt=-0.4)
    return _blend(s * amp, STAND, down)


def bend(s: np.ndarray, amp: float) -> Pose:
    """Side view: standing -> bowed forward from the hips, legs nearly straight, arms hanging."""
    down = dict(lean=1.45, hip_a=-0.3, hip_b=-0.26, kn_a=0.15, kn_b=0.2, sh_a=1.55, sh_b=1.45)
    down |= dict(el_a=0.15, el_b=0.2, tilt=-0.5)
    return _blend(s * amp, STAND, down)


@dataclass(frozen=True)
class Action:
    """One class. `period` (frames per cycle, cyclic) or `span` (the share of the video the
    movement takes, one-shot) is a (low, high) range at difficulty 0 and another at 1."""

    name: str
    pose: Callable[[np.ndarray, float], Pose]
    front: bool = False  # front view (else side view)
    facing: int = 0  # +1 right, -1 left, 0 random (direction is no part of the class)
    period: tuple[tuple[float, float], tuple[float, float]] | None = None
    span: tuple[tuple[float, float], tuple[float, float]] = ((0.8, 0.95), (0.45, 0.95))
    reverse_of: str | None = None  # this class is that class's video played backwards


WALK = ((22, 30), (18, 34))
JOG = ((15, 19), (12.5, 18))
RUN = ((8.5, 11), (8.5, 12))
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action("hand_clapping", arms_overhead, front=True, period=((5, 7.5), (5, 9.5))),
        Action("hand_waving", arms_overhead, front=True, period=((14, 22), (10.5, 24))),
        Action("jog_right", stride, facing=1, period=JOG),
        Action("run_right", stride, facing=1, period=RUN),
        Action("squat_down", squat),
        Action("stand_up", squat, reverse_of="squat_down"),
        Action("walk_right", walk, facing=1, period=WALK),
        Action("walk_left", walk, facing=-1, period=WALK),
        Action("box_right", box, facing=1, period=((10, 14), (8, 18))),
        Action("box_left", box, facing=-1, period=((10, 14), (8, 18))),
        Action("jog_left", stride, facing=-1, period=JOG),
        Action("run_left", stride, facing=-1, period=RUN),
        Action("kick_right", kick, facing=1, period=((18, 24), (14, 28))),
        Action("kick_left", kick, facing=-1, period=((18, 24), (14, 28))),
        Action("bend_down", bend),
        Action("straighten_up", bend, reverse_of="bend_down"),
        Action("jump_right", jump, facing=1, period=((18, 24), (15, 28))),
        Action("jump_left", jump, facing=-1, period=((18, 24), (15, 28))),
    ]
}


def _range(ranges, difficulty: float) -> tuple[float, float]:
    (lo0, hi0), (lo1, hi1) = ranges
    return lo0 + (lo1 - lo0) * difficulty, hi0 + (hi1 - hi0) * difficulty


@dataclass(frozen=True)
class Motion:
    """What one video's figure does: the pose per frame and the drawn parameters."""

    pose: Pose  # (T,) arrays
    front: bool
    facing: int
    phase: np.ndarray  # (T,) cycles (cyclic) or progress in [0, 1] (one-shot)


def action_motion(name: str, rng: np.random.Generator, frames: int, difficulty: float) -> Motion:
    """The pose sequence of one video of `name`. Every class draws the same random numbers
    in the same order, so two classes given equal generators differ only where the classes
    differ (the pose function, the rate, the facing)."""
    action = ACTIONS[name]
    source = ACTIONS[action.reverse_of] if action.reverse_of else action
    spread = 0.12 + 0.18 * difficulty
    amp = rng.uniform(1 - spread, 1 + 0.5 * spread)
    start = rng.uniform(0, 1)
    rate = rng.uniform(0, 1)  # where in the class's range of rates
    span_u = rng.uniform(0, 1)
    facing = action.facing or int(rng.choice([-1, 1]))
    if source.period is not None:
        lo, hi = _range(source.period, difficulty)
        period = lo + (hi - lo) * rate
        phase = start + np.arange(frames) / period
    else:
        lo, hi = _range(source.span, difficulty)
        span = max((lo + (hi - lo) * span_u) * (frames - 1), 1.0)
        t0 = start * (frames - 1 - span)
        phase = _ease((np.arange(frames) - t0) / span)
    pose = source.pose(phase, amp)
    if action.reverse_of:
        pose = {k: v[::-1].copy() for k, v in pose.items()}
        phase = phase[::-1].copy()
    return Motion(pose, source.front, facing, phase)
