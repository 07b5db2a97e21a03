"""Synthetic human actions: an articulated 2-D figure doing KTH-style actions, as real videos.

A body (head, torso, upper and lower arms and legs, feet; random proportions) is posed per
frame by an action's joint-angle function (actions.py), placed by forward kinematics
(skeleton.py), drawn as thick textured limbs with clothing (render.py) and filmed in a
cluttered scene with other moving things and a shaking, panning camera (scene.py).

Classes, in pairs (`--classes N` takes the first N; even N keeps pairs whole)::

    hand_clapping  hand_waving     motion only: one arm arc (hands together overhead <->
                                   arms level); clapping runs it ~3x faster
    jog_right      run_right       motion only: one stride (same poses); running has a
                                   faster cadence, hence more travel per frame
    squat_down     stand_up        motion only: one video played forwards / backwards
    walk_right     walk_left       direction (side view, facing and travel)
    box_right      box_left        direction
    jog_left       run_left        motion only, as jog_right / run_right
    kick_right     kick_left       direction (a kick, then a step forward)
    bend_down      straighten_up   motion only: one video played forwards / backwards
    jump_right     jump_left       direction (two-footed forward jumps)

In a motion-only pair both classes draw every random number alike and show the same
distribution of poses (and of everything else) in a frame: a model that ignores frame order
is at chance within such a pair. Facing is random in squat and bend, where it is no part of
the class.

Difficulty, a float in [0, 1] or easy (0.2), medium (0.5), hard (0.8), sets the nuisance
(scene.nuisance): figure size range, body proportion spread, background texture and static
clutter, clothing-to-background contrast, moving shapes, a second partial figure, a
foreground occluder, camera shake, flicker and noise; and the intra-class variation of the
actions: the amplitude spread and each class's range of rates (actions.Action.period,
.span), which widen towards their pair partner's as difficulty grows (they never overlap).
Some nuisance is always there: random proportions, clothing, scale, position, speed, phase.

Each video has its own generator, seeded from (seed, class index, video index), so a video
does not depend on how many classes or videos are written, and two seeds give disjoint sets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrstnet.data.layouts import write_dataset

from .actions import ACTIONS, action_motion
from .scene import nuisance, render_video

CLASSES: list[str] = list(ACTIONS)
NUM_CLASSES = len(CLASSES)
PAIRS: list[tuple[str, str]] = [(CLASSES[i], CLASSES[i + 1]) for i in range(0, len(CLASSES), 2)]
# Pairs whose classes differ only in motion (same poses, another order or rate).
MOTION_ONLY: list[tuple[str, str]] = [
    ("hand_clapping", "hand_waving"),
    ("jog_right", "run_right"),
    ("squat_down", "stand_up"),
    ("jog_left", "run_left"),
    ("bend_down", "straighten_up"),
]
DIFFICULTIES = {"easy": 0.2, "medium": 0.5, "hard": 0.8}
MIN_FRAMES = 8  # a clap cycle is 5-10 frames
MIN_SIZE = 32  # the figure's limbs are 1-3 pixels thick at this size


def parse_difficulty(value: str | float) -> float:
    """'easy', 'medium', 'hard' or a number in [0, 1] -> a float."""
    if isinstance(value, str) and value in DIFFICULTIES:
        return DIFFICULTIES[value]
    try:
        d = float(value)
    except ValueError:
        d = float("nan")
    if not 0 <= d <= 1:
        raise ValueError(
            f"difficulty must be easy, medium, hard or a number in [0, 1], got {value!r}"
        )
    return d


def class_names(num_classes: int) -> list[str]:
    if not 2 <= num_classes <= len(CLASSES):
        raise ValueError(f"classes must be between 2 and {len(CLASSES)}, got {num_classes}")
    return CLASSES[:num_classes]


def video_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """The generator of video `index` of class `name`."""
    return np.random.default_rng([seed, CLASSES.index(name), index])


def _checked_names(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; classes: {', '.join(CLASSES)}")
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"classes must be 2 or more distinct names, got {names}")
    return list(names)


def class_video(
    name: str, rng: np.random.Generator, frames: int, size: int, difficulty: float = 0.2
) -> np.ndarray:
    """uint8 (frames, size, size, 3): a video of class `name`."""
    if name not in ACTIONS:
        raise ValueError(f"unknown class {name!r}; classes: {', '.join(CLASSES)}")
    return render_video(name, rng, frames, size, difficulty)


def write_humans(
    out: Path | str,
    *,
    classes: int | list[str] = NUM_CLASSES,
    videos_per_class: int = 30,
    frames: int = 32,
    size: int = 112,
    difficulty: str | float = "medium",
    seed: int = 0,
    layout: str = "ucf101",
) -> Path:
    """Write the human-actions set to `out` (created) in `layout` (mrstnet.data.layouts)
    and return `out`. `classes`: the first N classes, or a list of class names (e.g. the
    actions a pre-training set left out). Deterministic in `seed`; a video's frames do not
    depend on which other classes are written."""
    d = parse_difficulty(difficulty)
    if frames < MIN_FRAMES:
        raise ValueError(f"frames must be at least {MIN_FRAMES}, got {frames}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, got {size}")
    names = class_names(classes) if isinstance(classes, int) else _checked_names(classes)

    def video(label: int, j: int) -> np.ndarray:
        name = names[label]
        return class_video(name, video_rng(seed, name, j), frames, size, d)

    return write_dataset(out, names, videos_per_class, video, layout=layout)


__all__ = [
    "CLASSES",
    "DIFFICULTIES",
    "MOTION_ONLY",
    "PAIRS",
    "action_motion",
    "class_names",
    "class_video",
    "nuisance",
    "parse_difficulty",
    "video_rng",
    "write_humans",
]
