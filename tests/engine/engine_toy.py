"""A tiny model and dataset that meet the layer contracts, for engine tests.

Run as a script it trains one (used by the SIGKILL-resume and torchrun tests):
    python tests/engine/engine_toy.py RUN_DIR [--resume] [--set key=value ...]
        [--kill-after STEPS] [--norm group|batch] [--progress]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, when run as a script

from mrstnet.data.augment_spec import Augment  # noqa: E402
from mrstnet.data.transforms import TrainTransform  # noqa: E402
from mrstnet.engine.config import build_config  # noqa: E402
from mrstnet.engine.train import fit, seed_everything  # noqa: E402

# every augmentation on: scale crop, colour, erasing per clip (seeded per item), mixup and
# cutmix per batch (seeded per step); the tests' override list for it
AUGMENT = [
    "rrc_scale=[0.5,1]",
    "color_jitter=[0.3,0.3,0.3,0.05]",
    "erase_p=0.5",
    "mixup_alpha=0.4",
    "cutmix_alpha=1.0",
    "mix_p=0.8",
]


class ToyVideos(Dataset):
    """Clips of a bright bar moving right (label 0) or left (label 1) over noise.

    Training items take a random start column from the global torch RNG (like a random
    crop does): the trainer must make that draw the same in a resumed run, with any
    number of workers or processes. `transform` (e.g. the real TrainTransform with the
    run's augmentations) is applied to training items. In test mode (`clips` > 0) item i
    is clip i % clips of video i // clips, with a fixed start.
    """

    classes = ["right", "left"]

    def __init__(
        self,
        n: int = 32,
        *,
        frames: int = 4,
        size: int = 12,
        clips: int = 0,
        seed: int = 0,
        transform=None,
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        shape = (n, 3, frames, size, size)
        self.noise = torch.randint(0, 60, shape, generator=g, dtype=torch.uint8)
        self.labels = [i % 2 for i in range(n)]
        self.videos = [(f"toy{i}", y) for i, y in enumerate(self.labels)]
        self.frames, self.size, self.clips = frames, size, clips
        self.transform = transform  # training items only: e.g. the real TrainTransform

    def __len__(self) -> int:
        return len(self.videos) * (self.clips or 1)

    def __getitem__(self, i: int) -> dict:
        v, c = (i // self.clips, i % self.clips) if self.clips else (i, 0)
        start = c if self.clips else int(torch.randint(0, 3, ()))
        video = self.noise[v].clone()
        step = 1 if self.labels[v] == 0 else -1
        for t in range(self.frames):
            col = (start + step * t) % self.size
            video[:, t, :, col] = 255
        if self.transform is not None and not self.clips:
            video = self.transform(video)
        return {"video": video, "label": self.labels[v], "video_index": v, "clip_index": c}


class ToyNet(nn.Module):
    """Conv3d (3×3×3 sees motion), a norm, a 1×1×1 conv (its channels_last_3d weight is
    the case of DDP's bucket-stride warning), optional dropout. GroupNorm has no batch
    statistics, so the split over processes does not change the maths; BatchNorm's
    running statistics differ between processes."""

    def __init__(self, num_classes: int = 2, dropout: float = 0.0, norm: str = "group") -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv3d(3, 8, 3, padding=1),
            nn.GroupNorm(2, 8) if norm == "group" else nn.BatchNorm3d(8),
            nn.ReLU(),
            nn.Conv3d(8, 8, 1),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x)))


def normalize(video: torch.Tensor) -> torch.Tensor:
    return video.float() / 127.5 - 1


class Stopped(Exception):
    """Raised by `run(stop_after=N)` where a crash would happen."""


def stopping(after: int | None, kill: bool):
    """`normalize` that lets `after` batches through, then SIGKILLs the process (or raises
    Stopped): with ckpt_every=1, last.pt then holds step `after` exactly. Validation
    batches count too, so after an epoch's last step it stops in the validation."""
    calls = 0

    def norm(video: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if after is not None and calls > after:
            if kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise Stopped(f"stopped after {after} batches")
        return normalize(video)

    return norm


def run(
    out: str | None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    overrides=(),
    n: int = 32,
    norm: str = "group",
    stop_after: int | None = None,
    kill: bool = False,
    classes: list[str] | None = None,
    init: str | None = None,
    log=None,
    progress: bool = False,
):
    cfg = build_config(None, ["num_workers=0", "threads=1", *overrides])
    seed_everything(cfg.seed)
    model = ToyNet(dropout=cfg.dropout or 0.0, norm=norm)
    # the run's clip-level augmentations (scale, colour, erasing) on the toy's 12x12 frames
    augmented = cfg.augment != Augment()
    data = ToyVideos(
        n, transform=TrainTransform(12, 10, augment=cfg.augment) if augmented else None
    )
    val = ToyVideos(8, clips=2, seed=1)
    summary = fit(
        cfg,
        model,
        data,
        val,
        out_dir=out,
        classes=classes,
        resume=resume,
        overwrite=overwrite,
        init=init,
        collate_fn=default_collate,
        normalize=stopping(stop_after, kill),
        progress=progress,
        log=log or (lambda *a: print(*a, flush=True)),
    )
    return summary, model


def report_buffers(model: nn.Module) -> None:
    """Under torchrun: say whether every process ends with rank 0's buffers (BatchNorm
    running statistics), i.e. whether the validated models were the saved one."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    mine = [b.detach().clone() for b in model.buffers()]
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    same = all(torch.equal(a, b) for other in every for a, b in zip(every[0], other, strict=True))
    if dist.get_rank() == 0:
        print(f"buffers equal across ranks: {same}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--set", nargs="*", default=[])
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--norm", choices=("group", "batch"), default="group")
    p.add_argument("--kill-after", type=int, help="SIGKILL itself after this many batches")
    p.add_argument("--progress", action="store_true", help="progress bars (on a terminal)")
    a = p.parse_args()
    _, trained = run(
        a.out,
        resume=a.resume,
        overrides=a.set,
        n=a.n,
        norm=a.norm,
        stop_after=a.kill_after,
        kill=True,
        progress=a.progress,
    )
    report_buffers(trained)
    from mrstnet.cli import exit_now, process_group

    if (dist := process_group()) is not None:  # as `mrstnet train` leaves
        dist.destroy_process_group()
        exit_now(0)
