"""`ClipSpec`: how clips are cut from a video, the one place the clip geometry is defined.

A clip is `frames` frames taken every `frame_step` frames, resized so that the short side is
`short_side` and cropped to `crop_size` x `crop_size`: uint8 (3, frames, crop_size,
crop_size). Training takes one clip at a random start with a random crop (and a random
horizontal flip when `flip`); testing takes `num_clips` clips spread evenly over the video,
each as `crops` crops, and averages their scores (paper §4.1, §4.3: 20 clips of
16 x 224 x 224).

The training recipe sets the geometry (`TrainConfig.clip`), every checkpoint stores it
(`data` key, `to_dict`) and test, predict and visualize read it back (`from_dict`),
choosing only the test-time views: `spec.replace(num_clips=20, crops=3)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# the fields a test chooses (`--clips`, `--crops`); a training recipe sets the others
TEST_TIME = ("num_clips", "crops")


@dataclass(frozen=True)
class ClipSpec:
    frames: int = 16  # L, frames per clip (paper §4.3: 16)
    frame_step: int = 1  # temporal stride between the sampled frames
    short_side: int = 128  # resize the short side to this before cropping (paper: 256)
    crop_size: int = 112  # square crop fed to the model (paper: 224; 112 for small models)
    num_clips: int = 1  # clips per video at test time (paper §4.3: 20); training draws one
    crops: int = 1  # crops per test clip: 1 (centre) or 3 (start, centre, end)
    # random horizontal flip in training; off by default, as it swaps the labels of
    # direction-sensitive classes ("moving left" becomes "moving right")
    flip: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"clip spec {f.name!r} must be true or false, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"clip spec {f.name!r} must be an integer >= 1, not {value!r}")
        if self.crops not in (1, 3):
            raise ValueError(f"clip spec 'crops' must be 1 or 3, not {self.crops!r}")
        if self.crop_size > self.short_side:
            raise ValueError(
                f"crop_size {self.crop_size} is larger than short_side {self.short_side}: "
                "the crop is taken after resizing the short side"
            )

    @property
    def views(self) -> int:
        """Test items per video: num_clips x crops."""
        return self.num_clips * self.crops

    def replace(self, **changes) -> ClipSpec:
        """A copy with some fields changed (checked again), e.g. the test-time views."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown clip spec keys {unknown}; known: {', '.join(FIELDS)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain values, for a checkpoint's `data` key or a YAML file."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ClipSpec:
        """The inverse of `to_dict`. Absent keys take their defaults, so a checkpoint that
        stored only frames, frame_step, short_side and crop_size (before the test-time views
        and flip were stored) still loads; an unknown key is a ValueError."""
        if not isinstance(values, dict):
            raise ValueError(f"a clip spec is a mapping of {', '.join(FIELDS)}, not {values!r}")
        return cls().replace(**values)


FIELDS = tuple(f.name for f in dataclasses.fields(ClipSpec))
