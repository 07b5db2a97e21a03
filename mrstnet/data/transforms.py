"""Video transforms on uint8 tensors (C, T, H, W), functional ops and the train/eval presets.

Frames stay uint8 through the pipeline (4x less to copy between DataLoader workers and to the
device); `normalize` turns a batch into float32 as late as possible, ideally on the device.
Presets follow the paper (short side 256, crop 224) and take smaller sizes for small models
(short side 128, crop 112). Horizontal flip is off by default: on direction-sensitive classes
(the synthetic set, Something-Something) it changes the label. The training transform's
other augmentations (scale, colour, erasing) are in augment.py, chosen by `Augment`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mrstnet.data.augment import color_jitter, erase, msc_box, resized_crop, rrc_box
from mrstnet.data.augment_spec import Augment

MEAN = (0.485, 0.456, 0.406)  # ImageNet, RGB
STD = (0.229, 0.224, 0.225)

PRESETS = {"paper": (256, 224), "small": (128, 112)}  # name -> (short_side, crop_size)


def to_tensor(frames) -> torch.Tensor:
    """uint8 numpy (T, H, W, 3) from the decoder -> uint8 tensor (3, T, H, W)."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2)


def resize_short_side(video: torch.Tensor, size: int) -> torch.Tensor:
    """Scale (C, T, H, W) uint8 so that min(H, W) == size (bilinear, antialiased)."""
    c, t, h, w = video.shape
    if min(h, w) == size:
        return video
    if h <= w:
        new_h, new_w = size, max(1, round(w * size / h))
    else:
        new_h, new_w = max(1, round(h * size / w)), size
    x = video.permute(1, 0, 2, 3)  # (T, C, H, W): frames as a batch
    # uint8 in, uint8 out: torch's uint8 antialiased bilinear kernel is ~3x faster than a
    # float round trip and rounds the same way (within 1 grey level).
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    return x.permute(1, 0, 2, 3)


def crop(video: torch.Tensor, top: int, left: int, size: int) -> torch.Tensor:
    return video[..., top : top + size, left : left + size]


def _check(video: torch.Tensor, size: int) -> tuple[int, int]:
    h, w = video.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"crop {size} larger than the frames ({h}x{w}); resize first")
    return h, w


def random_crop(
    video: torch.Tensor, size: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    h, w = _check(video, size)
    top = int(torch.randint(h - size + 1, (1,), generator=generator))
    left = int(torch.randint(w - size + 1, (1,), generator=generator))
    return crop(video, top, left, size)


def center_crop(video: torch.Tensor, size: int) -> torch.Tensor:
    h, w = _check(video, size)
    return crop(video, (h - size) // 2, (w - size) // 2, size)


def three_crop(video: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Start, centre and end crops along the longer side (the usual 3-crop test)."""
    h, w = _check(video, size)
    if w >= h:
        return [crop(video, (h - size) // 2, left, size) for left in (0, (w - size) // 2, w - size)]
    return [crop(video, top, (w - size) // 2, size) for top in (0, (h - size) // 2, h - size)]


def hflip(video: torch.Tensor) -> torch.Tensor:
    return video.flip(-1)


def normalize(video: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, L, H, W) (or (3, L, H, W)) on any device -> float32 (x/255 - MEAN) / STD.

    Works in place on the float copy, so a channels_last_3d input stays channels_last_3d."""
    if video.dtype != torch.uint8:
        raise TypeError(f"normalize expects uint8 video, got {video.dtype}")
    shape = (3, 1, 1, 1) if video.dim() == 4 else (1, 3, 1, 1, 1)
    mean = torch.tensor(MEAN, device=video.device).view(shape) * 255
    scale = 1 / (torch.tensor(STD, device=video.device).view(shape) * 255)
    return video.to(torch.float32).sub_(mean).mul_(scale)


class TrainTransform:
    """The training clip: a crop of crop_size x crop_size, then the clip-level augmentations.

    The crop is the paper's (§4.1: resize the short side to `short_side`, then a random
    square crop) unless `augment` asks for a RandomResizedCrop (`rrc_scale`) or a
    MultiScaleCrop (`msc_scales`), taken on the decoded frames and resized to the crop size.
    Then an optional horizontal flip (p = 0.5), colour jitter and random erasing, each
    drawn once for the whole clip (mrstnet.data.augment). uint8 (3, T, H, W) in and out."""

    def __init__(
        self,
        short_side: int = 128,
        crop_size: int = 112,
        flip: bool = False,
        augment: Augment | None = None,
    ):
        self.short_side, self.crop_size, self.flip = short_side, crop_size, flip
        self.augment = augment or Augment()

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        a = self.augment
        h, w = video.shape[-2:]
        if a.rrc_scale is not None:
            video = resized_crop(video, rrc_box(h, w, a.rrc_scale, a.rrc_ratio), self.crop_size)
        elif a.msc_scales is not None:
            video = resized_crop(video, msc_box(h, w, a.msc_scales), self.crop_size)
        else:
            video = random_crop(resize_short_side(video, self.short_side), self.crop_size)
        if self.flip and torch.rand(()) < 0.5:
            video = hflip(video)
        video = color_jitter(video, a.color_jitter)
        video = erase(video, a.erase_p, a.erase_scale)
        return video.contiguous()

    def __repr__(self) -> str:
        on = {k: v for k, v in self.augment.to_dict().items() if v != Augment().to_dict()[k]}
        extra = "".join(f", {k}={v}" for k, v in on.items())
        return (
            f"TrainTransform(short_side={self.short_side}, crop_size={self.crop_size}, "
            f"flip={self.flip}{extra})"
        )


class EvalTransform:
    """Short-side resize, then the centre crop (crops=1) or crop `crop_index` of three."""

    def __init__(self, short_side: int = 128, crop_size: int = 112, crops: int = 1):
        if crops not in (1, 3):
            raise ValueError(f"crops must be 1 or 3, got {crops}")
        self.short_side, self.crop_size, self.crops = short_side, crop_size, crops

    def __call__(self, video: torch.Tensor, crop_index: int = 0) -> torch.Tensor:
        video = resize_short_side(video, self.short_side)
        if self.crops == 1:
            return center_crop(video, self.crop_size).contiguous()
        return three_crop(video, self.crop_size)[crop_index].contiguous()

    def __repr__(self) -> str:
        return (
            f"EvalTransform(short_side={self.short_side}, crop_size={self.crop_size}, "
            f"crops={self.crops})"
        )


def train_transform(
    preset: str = "small", *, flip: bool = False, augment: Augment | None = None
) -> TrainTransform:
    return TrainTransform(*PRESETS[preset], flip=flip, augment=augment)


def eval_transform(preset: str = "small", *, crops: int = 1) -> EvalTransform:
    return EvalTransform(*PRESETS[preset], crops=crops)
