"""`Augment`: which training-time augmentations a run uses, one frozen record (config keys of
the same names, stored in every checkpoint's `preset`). The ops are in `augment.py`.

No torch here, like `clip_spec.py`: the config layer reads it without loading torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Augment:
    """Which augmentations a training run uses (config keys of the same names; all off by
    default, which is the paper's recipe: random crop and random start)."""

    # RandomResizedCrop: area fraction range of the frame (e.g. [0.35, 1]); null = off
    rrc_scale: tuple[float, float] | None = None
    rrc_ratio: tuple[float, float] = (0.75, 4 / 3)  # its aspect (width / height) range
    # MultiScaleCrop (TSN): crop sides as fractions of the short side, e.g. [1, 0.875, 0.75,
    # 0.66]; width and height drawn apart, at most one step apart in the list; null = off
    msc_scales: tuple[float, ...] | None = None
    # the frame step drawn per clip from these (e.g. [1, 2]); empty = the clip's frame_step
    frame_step_choices: tuple[int, ...] = ()
    # brightness, contrast, saturation (factors drawn in [1 - x, 1 + x]) and hue (a shift
    # in [-x, x] turns of the colour wheel, x <= 0.5), as torchvision's ColorJitter
    color_jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    erase_p: float = 0.0  # probability of one erased box per clip
    erase_scale: tuple[float, float] = (0.02, 0.25)  # its area fraction range
    mixup_alpha: float = 0.0  # Beta(alpha, alpha) mixing weight; 0 = off
    cutmix_alpha: float = 0.0  # Beta(alpha, alpha) kept area; 0 = off
    mix_p: float = 1.0  # probability that a batch is mixed (when either alpha > 0)

    def __post_init__(self) -> None:
        def bad(key: str, what: str) -> ValueError:
            value = getattr(self, key)
            value = list(value) if isinstance(value, tuple) else value
            return ValueError(f"config key {key!r} must be {what}, not {value!r}")

        def pair(key: str, low: float, high: float, what: str) -> None:
            v = getattr(self, key)
            if v is None:
                return
            if not (len(v) == 2 and low <= v[0] <= v[1] <= high):
                raise bad(key, what)

        pair("rrc_scale", 1e-3, 1.0, "[min, max] with 0 < min <= max <= 1")
        pair("rrc_ratio", 0.1, 10.0, "[min, max] with 0.1 <= min <= max <= 10")
        pair("erase_scale", 1e-3, 1.0, "[min, max] with 0 < min <= max <= 1")
        if self.msc_scales is not None and not (
            self.msc_scales and all(0 < s <= 1 for s in self.msc_scales)
        ):
            raise bad("msc_scales", "a list of fractions in (0, 1], or null")
        if self.rrc_scale is not None and self.msc_scales is not None:
            raise ValueError("rrc_scale and msc_scales are two crops: set one of them")
        if any(s < 1 for s in self.frame_step_choices):
            raise bad("frame_step_choices", "a list of integers >= 1")
        b, c, s, h = self.color_jitter if len(self.color_jitter) == 4 else (-1,) * 4
        if not (0 <= b < 1 and 0 <= c < 1 and 0 <= s < 1 and 0 <= h <= 0.5):
            raise bad(
                "color_jitter",
                "[brightness, contrast, saturation, hue], each in [0, 1) and hue <= 0.5",
            )
        for key in ("erase_p", "mix_p"):
            if not 0 <= getattr(self, key) <= 1:
                raise bad(key, "in [0, 1]")
        for key in ("mixup_alpha", "cutmix_alpha"):
            if getattr(self, key) < 0:
                raise bad(key, "0 (off) or more")

    @property
    def mixes(self) -> bool:
        """Whether batches are mixed (mixup or cutmix on)."""
        return (self.mixup_alpha > 0 or self.cutmix_alpha > 0) and self.mix_p > 0

    def to_dict(self) -> dict:
        """Plain values (lists for the tuples), as a preset writes them."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }


FIELDS = tuple(f.name for f in dataclasses.fields(Augment))
