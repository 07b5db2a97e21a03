"""Training-time augmentations of video clips: what each does, and `Augment`, the settings.

The paper (§4.1) trains with a random crop after resizing the short side and a random
start frame. On small data sets the video field adds more (TSN, SlowFast, pytorchvideo,
mmaction2 recipes); each is an option here, off by default:

- spatial scale: `RandomResizedCrop` (`rrc_scale`: the crop's area as a fraction of the
  frame, `rrc_ratio`: its aspect range) or TSN's `MultiScaleCrop` (`msc_scales`: the crop's
  sides as fractions of the short side), resized to `crop_size` x `crop_size`;
- temporal: the clip's start is always random (sampling.random_clip); `frame_step_choices`
  also draws the frame step per clip (speed jitter);
- colour (`color_jitter`: brightness, contrast, saturation, hue), one draw per clip: every
  frame gets the same colour map, so no flicker is added that could read as motion;
- random erasing (`erase_p`, `erase_scale`): one box per clip, the same on every frame (a
  static occluder: a box moving from frame to frame would be motion);
- mixup / cutmix (`mixup_alpha`, `cutmix_alpha`, `mix_p`) on a batch, with soft targets:
  `mix_batch` (the training step calls it; cutmix's box is the same on every frame).

Clip-level draws use torch's global RNG, which the trainer seeds per training item from
(seed, epoch, index) (mrstnet.engine.seeding.SeededItems); `mix_batch` draws from the numpy
generator it is given (the trainer's is seeded by (seed, step, rank)). A resumed run thus
augments every item and every batch as an uninterrupted one. Horizontal flip is
`ClipSpec.flip`: leave it off where direction is part of the label.

Shapes: a clip is uint8 (3, L, H, W); a batch float (N, 3, L, H, W); targets (N, C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mrstnet.data.augment_spec import Augment

# random erasing's aspect range (timm's RandomErasing: 0.3 .. 1/0.3)
ERASE_RATIO = (0.3, 1 / 0.3)
_TRIES = 10  # box draws before a fallback, as torchvision's RandomResizedCrop


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def _randint(low: int, high: int) -> int:
    """An integer in [low, high], from torch's global RNG."""
    return int(torch.randint(low, high + 1, ()))


# -- spatial scale ------------------------------------------------------------------------
def rrc_box(
    h: int, w: int, scale: tuple[float, float], ratio: tuple[float, float]
) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box (top, left, height, width) in an h x w frame: area fraction
    in `scale`, aspect log-uniform in `ratio`; after 10 misses the centre crop of the
    largest box within `ratio` (torchvision's fallback)."""
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(_TRIES):
        target = area * _uniform(*scale)
        aspect = math.exp(_uniform(*log_ratio))
        bw = round(math.sqrt(target * aspect))
        bh = round(math.sqrt(target / aspect))
        if 0 < bw <= w and 0 < bh <= h:
            return _randint(0, h - bh), _randint(0, w - bw), bh, bw
    aspect = w / h
    if aspect < ratio[0]:
        bw, bh = w, round(w / ratio[0])
    elif aspect > ratio[1]:
        bh, bw = h, round(h * ratio[1])
    else:
        bh, bw = h, w
    return (h - bh) // 2, (w - bw) // 2, bh, bw


def msc_box(h: int, w: int, scales: tuple[float, ...]) -> tuple[int, int, int, int]:
    """TSN's MultiScaleCrop box (top, left, height, width): sides scales[i] and scales[j]
    of the short side with |i - j| <= 1, at a random position."""
    base = min(h, w)
    i = _randint(0, len(scales) - 1)
    j = min(max(i + _randint(-1, 1), 0), len(scales) - 1)
    bh, bw = max(1, round(base * scales[i])), max(1, round(base * scales[j]))
    return _randint(0, h - bh), _randint(0, w - bw), bh, bw


def resized_crop(video: torch.Tensor, box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """uint8 (C, T, H, W): the box of every frame, resized to size x size (bilinear,
    antialiased when it shrinks)."""
    top, left, bh, bw = box
    x = video[..., top : top + bh, left : left + bw].permute(1, 0, 2, 3)  # frames as a batch
    if (bh, bw) != (size, size):
        x = F.interpolate(
            x.contiguous(), size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return x.permute(1, 0, 2, 3)


# -- colour -------------------------------------------------------------------------------
# RGB <-> YIQ: a hue shift is a rotation of the (I, Q) plane
_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_FROM_YIQ = torch.linalg.inv(_TO_YIQ)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """Luma of float (3, ...) -> (1, ...)."""
    w = _TO_YIQ[0].view(3, *([1] * (x.dim() - 1)))
    return (x * w).sum(0, keepdim=True)


def color_jitter(video: torch.Tensor, strength: tuple[float, float, float, float]):
    """uint8 (3, T, H, W) with one random brightness, contrast, saturation and hue change
    for the whole clip (factors as torchvision's ColorJitter; contrast about the clip's mean
    grey, hue by rotating YIQ chroma). Returns uint8 of the same shape."""
    b, c, s, h = strength
    if not (b or c or s or h):
        return video
    # every factor is drawn, used or not: the draws do not depend on which are on
    fb, fc, fs = (_uniform(1 - x, 1 + x) for x in (b, c, s))
    fh = _uniform(-h, h)
    x = video.float()
    if b:
        x = (x * fb).clamp_(0, 255)
    if c:
        mean = _gray(x).mean()
        x = (mean + fc * (x - mean)).clamp_(0, 255)
    if s:
        g = _gray(x)
        x = (g + fs * (x - g)).clamp_(0, 255)
    if h:
        angle = 2 * math.pi * fh
        rot = torch.tensor(
            [
                [1, 0, 0],
                [0, math.cos(angle), -math.sin(angle)],
                [0, math.sin(angle), math.cos(angle)],
            ]
        )
        m = _FROM_YIQ @ rot @ _TO_YIQ
        x = torch.einsum("ij,j...->i...", m, x).clamp_(0, 255)
    return x.round_().to(torch.uint8)


# -- random erasing -------------------------------------------------------------------------
def erase(video: torch.Tensor, p: float, scale: tuple[float, float]) -> torch.Tensor:
    """With probability p, one box (area fraction in `scale`, aspect in ERASE_RATIO) filled
    with uniform noise, the same box and noise on every frame. uint8 (3, T, H, W) in and
    out (a copy when erased)."""
    if not p or float(torch.rand(())) >= p:
        return video
    _, _, h, w = video.shape
    log_ratio = (math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1]))
    for _ in range(_TRIES):
        target = h * w * _uniform(*scale)
        aspect = math.exp(_uniform(*log_ratio))
        eh, ew = round(math.sqrt(target / aspect)), round(math.sqrt(target * aspect))
        if 0 < eh < h and 0 < ew < w:
            top, left = _randint(0, h - eh), _randint(0, w - ew)
            noise = torch.randint(0, 256, (3, 1, eh, ew), dtype=torch.uint8)
            out = video.clone()
            out[:, :, top : top + eh, left : left + ew] = noise
            return out
    return video


# -- frame step -----------------------------------------------------------------------------
def draw_frame_step(choices: tuple[int, ...], default: int) -> int:
    """One of `choices` (uniform), or `default` when there are none (no draw then)."""
    if not choices:
        return default
    return choices[_randint(0, len(choices) - 1)]


# -- mixup / cutmix ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Mix:
    """How a batch was mixed: item i is `lam` of itself and 1 - lam of item `partner[i]`
    (the batch reversed, as timm's Mixup does)."""

    lam: float
    partner: torch.Tensor  # int64 (N,)
    kind: str  # "mixup" or "cutmix"

    def targets(self, label: torch.Tensor, num_classes: int) -> torch.Tensor:
        """Soft targets float32 (N, num_classes): lam on the item's class, 1 - lam on its
        partner's; every row sums to 1. Label smoothing, applied by the loss to these,
        composes (it is linear in the target)."""
        own = F.one_hot(label, num_classes).float()
        other = F.one_hot(label[self.partner], num_classes).float()
        return own.mul_(self.lam).add_(other, alpha=1 - self.lam)


def mix_batch(
    x: torch.Tensor, aug: Augment, rng: np.random.Generator
) -> tuple[torch.Tensor, Mix | None]:
    """Mixup or cutmix of a float batch (N, 3, L, H, W), as `aug` says, drawing from `rng`.

    With probability mix_p the batch is mixed: cutmix (when both are on, half the batches)
    pastes one box of the partner clip, the same box on every frame (lam is then the kept
    area), mixup blends whole clips. Returns the batch (a new tensor when mixed) and the
    `Mix` that makes the targets, or None when the batch is left as it is."""
    if not aug.mixes or rng.random() >= aug.mix_p:
        return x, None
    if aug.cutmix_alpha > 0 and (aug.mixup_alpha <= 0 or rng.random() < 0.5):
        kind, alpha = "cutmix", aug.cutmix_alpha
    else:
        kind, alpha = "mixup", aug.mixup_alpha
    lam = float(rng.beta(alpha, alpha))
    n = x.shape[0]
    partner = torch.arange(n - 1, -1, -1, device=x.device)
    if kind == "mixup":
        return x.mul(lam).add_(x[partner], alpha=1 - lam), Mix(lam, partner, kind)
    h, w = x.shape[-2:]
    cut = math.sqrt(1 - lam)
    ch, cw = round(h * cut), round(w * cut)
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = max(cy - ch // 2, 0), min(cy + (ch - ch // 2), h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + (cw - cw // 2), w)
    out = x.clone()
    out[..., y0:y1, x0:x1] = x[partner][..., y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually kept
    return out, Mix(lam, partner, kind)
