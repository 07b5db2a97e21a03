"""The generic clip dataset: `VideoClipDataset` over the videos a reader listed, `collate`,
`build_dataset` (a reader of `mrstnet.data.readers` + the dataset) and `load_clips` (the test
clips of one file, for predict and visualize).

The dataset is lazy: it probes a video's frame count the first time the video is used
(cached per process), samples a clip as its `ClipSpec` says, decodes only that clip's frames
and transforms them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mrstnet.data.augment import draw_frame_step
from mrstnet.data.augment_spec import Augment
from mrstnet.data.clip_spec import ClipSpec
from mrstnet.data.readers import VideoRecord, get_reader
from mrstnet.data.sampling import random_clip, uniform_clip, uniform_clips
from mrstnet.data.transforms import EvalTransform, TrainTransform, to_tensor
from mrstnet.data.video import VideoDecodeError, VideoInfo, VideoReader

log = logging.getLogger("mrstnet.data")


class TooManyBadVideosError(RuntimeError):
    """Raised in training when too many videos in a row could not be read."""


class VideoClipDataset(Dataset):
    """Clips of a list of videos cut as `spec` says, as dicts {video uint8 (3, L, H, W),
    label, video_index, clip_index} with L = spec.frames and H = W = spec.crop_size.

    Training (`train=True`): item i is one random clip of video i (the spec's test-time
    views are not used), augmented as `augment` says (mrstnet.data.augment: the frame
    step drawn per clip, the crop, colour, erasing). Test: item i is clip
    i % (num_clips * crops) of video i // (num_clips * crops); within a video, the crop
    index runs fastest.

    Unreadable videos (`skip_bad=True`): in training another random video is drawn, the path
    is logged once and counted (`bad`, per process; each training sample also carries
    `skipped`, the unreadable draws before it); `max_consecutive_failures` failures in a
    row raise `TooManyBadVideosError`. In test mode the item is None, which `collate` drops.
    With `skip_bad=False` the `VideoDecodeError` propagates.
    """

    def __init__(
        self,
        videos: list[VideoRecord],
        classes: list[str],
        spec: ClipSpec,
        *,
        train: bool,
        skip_bad: bool = True,
        max_consecutive_failures: int = 10,
        missing: list[Path] | None = None,
        augment: Augment | None = None,
    ):
        self.videos = list(videos)
        self.classes = list(classes)
        self.missing = list(missing or [])
        self.train = train
        # what the items are: training draws one clip of one crop, whatever the views asked
        self.spec = spec.replace(num_clips=1, crops=1) if train else spec
        self.skip_bad = skip_bad
        self.max_consecutive_failures = max_consecutive_failures
        self.augment = augment or Augment()
        self.transform = (
            TrainTransform(spec.short_side, spec.crop_size, spec.flip, self.augment)
            if train
            else EvalTransform(spec.short_side, spec.crop_size, spec.crops)
        )
        self.bad: dict[str, str] = {}  # path -> error, in this process
        self._info: dict[str, VideoInfo] = {}

    def __len__(self) -> int:
        return len(self.videos) * self.spec.views

    def __repr__(self) -> str:
        s = self.spec
        mode = "train" if self.train else f"test, {s.num_clips} clips x {s.crops} crops"
        return (
            f"VideoClipDataset({len(self.videos)} videos, {len(self.classes)} classes, {mode}, "
            f"{s.frames} frames step {s.frame_step}, {self.transform})"
        )

    def _load(self, video_index: int, clip_index: int, crop_index: int) -> dict:
        record = self.videos[video_index]
        key = str(record.path)
        with VideoReader(record.path, self._info.get(key)) as reader:
            info = self._info[key] = reader.info
            s = self.spec
            if self.train:
                step = draw_frame_step(self.augment.frame_step_choices, s.frame_step)
                clip = random_clip(info.num_frames, s.frames, step)
            else:
                clip = uniform_clip(
                    info.num_frames, s.frames, s.frame_step, s.num_clips, clip_index
                )
            frames = reader.read(clip.indices)
        video = to_tensor(frames)
        video = self.transform(video) if self.train else self.transform(video, crop_index)
        return {
            "video": video,
            "label": record.label,
            "video_index": video_index,
            "clip_index": clip_index * self.spec.crops + crop_index,
        }

    def _note_bad(self, error: VideoDecodeError) -> None:
        if error.path not in self.bad:
            self.bad[error.path] = error.reason
            log.warning("skipping unreadable video %s", error)

    def __getitem__(self, i: int) -> dict | None:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        video_index, j = divmod(i, self.spec.views)
        clip_index, crop_index = divmod(j, self.spec.crops)
        if not self.train:
            try:
                return self._load(video_index, clip_index, crop_index)
            except VideoDecodeError as e:
                if not self.skip_bad:
                    raise
                self._note_bad(e)
                return None
        failures = 0
        while True:
            try:
                sample = self._load(video_index, 0, 0)
                # how many unreadable videos this item drew first: DataLoader workers keep
                # their own `bad`, so the count travels with the batch to the training loop
                sample["skipped"] = failures
                return sample
            except VideoDecodeError as e:
                if not self.skip_bad:
                    raise
                self._note_bad(e)
                failures += 1
                if failures >= self.max_consecutive_failures:
                    raise TooManyBadVideosError(
                        f"{failures} unreadable videos in a row (last: {e}); "
                        f"{len(self.bad)} bad videos seen so far in this process. "
                        "Run `mrstnet data check` on the dataset."
                    ) from None
                video_index = int(torch.randint(len(self.videos), (1,)))


def collate(batch: list[dict | None]) -> dict | None:
    """Stack samples into a batch, dropping None (unreadable test videos). None if all were.
    Training samples' `skipped` counts are summed (a 0-d tensor)."""
    batch = [b for b in batch if b is not None]
    if not batch:
        return None
    out = {
        "video": torch.stack([b["video"] for b in batch]),
        "label": torch.tensor([b["label"] for b in batch], dtype=torch.int64),
        "video_index": torch.tensor([b["video_index"] for b in batch], dtype=torch.int64),
        "clip_index": torch.tensor([b["clip_index"] for b in batch], dtype=torch.int64),
    }
    if "skipped" in batch[0]:
        out["skipped"] = torch.tensor(sum(b["skipped"] for b in batch), dtype=torch.int64)
    return out


def build_dataset(
    name: str,
    root: Path | str,
    spec: ClipSpec,
    *,
    subset: str,
    split: int = 1,
    annotations: Path | str | None = None,
    train: bool,
    skip_bad: bool = True,
    augment: Augment | None = None,
) -> VideoClipDataset:
    """Index a dataset with the reader `name` of `mrstnet.data.readers.READERS` (annotation
    files and directory listings only; no decoding) and wrap it in a `VideoClipDataset` that
    cuts clips as `spec` says. Missing videos are left out, kept in `dataset.missing` and
    reported once in the log. `augment` applies to training items only."""
    videos, classes, missing = get_reader(name)(
        root, subset=subset, split=split, annotations=annotations
    )
    if missing:
        log.warning(
            "%s %s: %d of %d listed videos are missing (first: %s)",
            name,
            subset,
            len(missing),
            len(missing) + len(videos),
            missing[0],
        )
    if not videos:
        raise FileNotFoundError(
            f"{name} {subset} split {split}: no videos found under {root}"
            + (f" ({len(missing)} listed but missing)" if missing else "")
        )
    return VideoClipDataset(
        videos,
        classes,
        spec,
        train=train,
        skip_bad=skip_bad,
        missing=missing,
        augment=augment if train else None,
    )


def load_clips(path: Path | str, spec: ClipSpec) -> torch.Tensor:
    """The test clips of one file as `spec` says: uint8 (num_clips * crops, 3, L, H, W), the
    same as a test-mode `VideoClipDataset` gives, decoded in one pass over the file. Raises
    VideoDecodeError."""
    transform = EvalTransform(spec.short_side, spec.crop_size, spec.crops)
    with VideoReader(path) as reader:
        clips = uniform_clips(reader.info.num_frames, spec.frames, spec.frame_step, spec.num_clips)
        all_indices = np.concatenate([c.indices for c in clips])
        decoded = to_tensor(reader.read(all_indices))  # (3, K*L, H, W)
    out = []
    for k in range(spec.num_clips):
        clip = decoded[:, k * spec.frames : (k + 1) * spec.frames]
        out.extend(transform(clip, c) for c in range(spec.crops))
    return torch.stack(out)
