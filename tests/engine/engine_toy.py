"""A tiny model and dataset that meet the layer contracts, for engine tests.

Run as a script it trains one (used by the SIGKILL-resume and torchrun tests):
    python tests/engine/engine_toy.py RUN_DIR [--resume] [--set key=value ...] [--slow S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, when run as a script

from mrstnet.engine.config import build_config  # noqa: E402
from mrstnet.engine.train import fit, seed_everything  # noqa: E402


class ToyVideos(Dataset):
    """Clips of a bright bar moving right (label 0) or left (label 1) over noise.

    Training items take a random start column from the global torch RNG (like a random
    crop does), so resuming must restore that stream too. In test mode (`clips` > 0) item
    i is clip i % clips of video i // clips, with a fixed start.
    """

    classes = ["right", "left"]

    def __init__(
        self,
        n: int = 32,
        *,
        frames: int = 4,
        size: int = 12,
        clips: int = 0,
        slow: float = 0.0,
        seed: int = 0,
        random_start: bool = True,
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        shape = (n, 3, frames, size, size)
        self.noise = torch.randint(0, 60, shape, generator=g, dtype=torch.uint8)
        self.labels = [i % 2 for i in range(n)]
        self.videos = [(f"toy{i}", y) for i, y in enumerate(self.labels)]
        self.frames, self.size, self.clips, self.slow = frames, size, clips, slow
        self.random_start = random_start

    def __len__(self) -> int:
        return len(self.videos) * (self.clips or 1)

    def __getitem__(self, i: int) -> dict:
        if self.slow:
            time.sleep(self.slow)
        v, c = (i // self.clips, i % self.clips) if self.clips else (i, 0)
        start = int(torch.randint(0, 3, ())) if self.random_start and not self.clips else c
        video = self.noise[v].clone()
        step = 1 if self.labels[v] == 0 else -1
        for t in range(self.frames):
            col = (start + step * t) % self.size
            video[:, t, :, col] = 255
        return {"video": video, "label": self.labels[v], "video_index": v, "clip_index": c}


class ToyNet(nn.Module):
    """Conv3d (3×3×3 sees motion) + GroupNorm (no batch statistics: the split over
    processes does not change the maths) + optional dropout."""

    def __init__(self, num_classes: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv3d(3, 8, 3, padding=1),
            nn.GroupNorm(2, 8),
            nn.ReLU(),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x)))


def normalize(video: torch.Tensor) -> torch.Tensor:
    return video.float() / 127.5 - 1


def run(
    out: str | None,
    *,
    resume: bool = False,
    overrides=(),
    slow: float = 0.0,
    n: int = 32,
    fixed: bool = False,
    progress: bool = False,
) -> dict:
    cfg = build_config(None, list(overrides) + ["num_workers=0", "threads=1"])
    seed_everything(cfg.seed)
    model = ToyNet(dropout=cfg.dropout or 0.0)
    data = ToyVideos(n, slow=slow, random_start=not fixed)
    val = ToyVideos(8, clips=2, seed=1)
    return fit(
        cfg,
        model,
        data,
        val,
        out_dir=out,
        resume=resume,
        collate_fn=default_collate,
        normalize=normalize,
        progress=progress,
        log=lambda *a: print(*a, flush=True),
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--set", nargs="*", default=[])
    p.add_argument("--slow", type=float, default=0.0)
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--fixed", action="store_true", help="no random augmentation (DDP test)")
    a = p.parse_args()
    run(a.out, resume=a.resume, overrides=a.set, slow=a.slow, n=a.n, fixed=a.fixed)
