"""A 2-D kinematic skeleton: joint angles per frame -> joint positions by forward kinematics.

Units are the figure's standing height (head top to sole = 1); image axes, x to the right and
y down; the pelvis is the origin. An angle is a segment's direction measured from straight
down, positive towards +x: direction (sin a, cos a). A pose is a dict of (T,) angle arrays
(POSE_KEYS), written for a figure facing +x (side view) or for the limb on the image's right
(front view); limb "a" is the near one in a side view, limb "b" the far one::

    lean          torso forward from upright (a bow is ~1.4)
    tilt          head forward relative to the torso
    sh_a, sh_b    shoulder: upper arm forward (side) / outward (front), relative to the torso
    el_a, el_b    elbow flexion: forearm further forward / outward than the upper arm
    hip_a, hip_b  thigh forward (side) / outward (front), relative to vertical
    kn_a, kn_b    knee flexion: shin backwards from the thigh (side view)

In a front view limb b mirrors limb a (its angles are negated), and shoulders and hips sit
apart; in a side view both limbs hang from one point. `forward_kinematics` returns every
joint as (T, 2).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

POSE_KEYS = (
    "lean",
    "tilt",
    "sh_a",
    "el_a",
    "sh_b",
    "el_b",
    "hip_a",
    "kn_a",
    "hip_b",
    "kn_b",
)


@dataclass(frozen=True)
class Body:
    """Segment lengths and half-thicknesses, in standing heights (adult proportions)."""

    torso: float = 0.29  # pelvis to neck
    neck: float = 0.04
    head: float = 0.066  # radius
    shoulder: float = 0.095  # half shoulder width (front view)
    hip: float = 0.05  # half hip width (front view)
    upper_arm: float = 0.16
    forearm: float = 0.15  # elbow to wrist; the hand is drawn beyond it
    thigh: float = 0.245
    shin: float = 0.24  # knee to ankle
    ankle: float = 0.035  # ankle height above the sole
    foot: float = 0.075
    r_torso: float = 0.085  # half-thickness of the torso (front view: x 1.35)
    r_arm: float = 0.034
    r_forearm: float = 0.029
    r_thigh: float = 0.056
    r_shin: float = 0.043


def random_body(rng: np.random.Generator, variation: float) -> Body:
    """Body with each length scaled by ~N(1, 0.06 variation) and the thicknesses by a common
    build factor (slim .. heavy) times a small per-part factor."""
    base = Body()
    build = rng.uniform(1 - 0.25 * variation, 1 + 0.35 * variation)
    values = {}
    for f in fields(Body):
        v = getattr(base, f.name)
        if f.name.startswith("r_"):
            values[f.name] = v * build * rng.uniform(0.9, 1.1)
        else:
            values[f.name] = v * float(np.clip(rng.normal(1, 0.06 * variation), 0.8, 1.2))
    return replace(base, **values)


def _direction(angle: np.ndarray) -> np.ndarray:
    """(T,) angles from straight down -> (T, 2) unit vectors (x, y)."""
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)


def forward_kinematics(pose: dict[str, np.ndarray], body: Body, front: bool) -> dict:
    """Joint positions (T, 2) for a figure facing +x, pelvis at the origin. Keys: pelvis,
    neck, head (centre), shoulder_a/b, elbow_a/b, wrist_a/b, hand_a/b, hip_a/b, knee_a/b,
    ankle_a/b, toe_a/b."""
    lean = pose["lean"]
    pelvis = np.zeros((len(lean), 2))
    up = _direction(np.pi - lean)  # pelvis -> neck
    across = np.stack([up[:, 1] * -1, up[:, 0]], axis=-1)  # the torso's +x side (front view)
    neck = pelvis + body.torso * up
    joints = {
        "pelvis": pelvis,
        "neck": neck,
        "head": neck + (body.neck + body.head) * _direction(np.pi - lean - pose["tilt"]),
    }
    for limb, sign in (("a", 1.0), ("b", -1.0 if front else 1.0)):
        shoulder = neck - 0.03 * up + (sign * body.shoulder * across if front else 0.0)
        upper = sign * pose[f"sh_{limb}"] - lean
        fore = upper + sign * pose[f"el_{limb}"]
        elbow = shoulder + body.upper_arm * _direction(upper)
        wrist = elbow + body.forearm * _direction(fore)
        hip = pelvis + (np.array([sign * body.hip, 0.0]) if front else 0.0)
        thigh = sign * pose[f"hip_{limb}"]
        shin = thigh - (0.0 if front else pose[f"kn_{limb}"])
        knee = hip + body.thigh * _direction(thigh)
        ankle = knee + body.shin * _direction(shin)
        # the foot points forward in a side view, outwards (foreshortened) in a front view
        toe_dir = _direction(shin + (sign * np.pi / 2 if front else np.pi / 2))
        toe = ankle + (0.5 if front else 1.0) * body.foot * toe_dir
        joints |= {
            f"shoulder_{limb}": shoulder + np.zeros_like(pelvis),
            f"elbow_{limb}": elbow,
            f"wrist_{limb}": wrist,
            f"hand_{limb}": wrist + 0.045 * _direction(fore),
            f"hip_{limb}": hip + np.zeros_like(pelvis),
            f"knee_{limb}": knee,
            f"ankle_{limb}": ankle,
            f"toe_{limb}": toe,
        }
    return joints


def sole_height(joints: dict, body: Body) -> np.ndarray:
    """(T,) y of the lowest point of the feet (below the pelvis, in heights); the feet are
    drawn `body.ankle` thick."""
    feet = np.stack([joints[k][:, 1] for k in ("ankle_a", "ankle_b", "toe_a", "toe_b")])
    return feet.max(axis=0) + body.ankle
