"""What makes a training run replayable: seeds, the epoch order, per-item and per-batch
randomness.

A run stopped at any step (even by SIGKILL) and resumed from its checkpoint draws the same
batches, in the same order, augmented the same way, as a run that was never stopped, with
any number of DataLoader workers and on one process or many.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class EpochSampler(Sampler[int]):
    """Shuffle with a generator seeded by (seed, epoch), shard over processes like
    DistributedSampler, and start mid-epoch: a resumed run replays the same order."""

    def __init__(
        self, n: int, *, rank: int = 0, world: int = 1, seed: int = 0, shuffle: bool = True
    ) -> None:
        self.n, self.rank, self.world, self.seed, self.shuffle = n, rank, world, seed, shuffle
        self.per_rank = math.ceil(n / world)
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        order += order[: self.per_rank * self.world - self.n]  # pad so every rank gets as many
        return iter(order[self.rank :: self.world][self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 64-bit seed for one training item, well mixed (numpy's SeedSequence)."""
    entropy = (seed & (2**64 - 1), epoch, index)
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


class SeededItems(Dataset):
    """The training set with each item's randomness a function of (seed, epoch, index).

    Random clip starts, crops, flips and the redraw after an unreadable video use the
    global RNGs of the process that loads the item. A DataLoader worker's stream depends on
    which batches it was given, and that changes when a resumed run's sampler skips ahead
    or the number of workers or processes changes; so torch, numpy and `random` are seeded
    per item here. Every process uses the same seed: the same item is augmented the same
    way whatever the world size. The loading process's own streams are restored afterwards
    (with num_workers=0 that process is the training loop: dropout draws from them).
    """

    def __init__(self, dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        s = item_seed(self.seed, self.epoch, i)
        saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
        torch.manual_seed(s)
        np.random.seed(s % 2**32)
        random.seed(s)
        try:
            return self.dataset[i]
        finally:
            torch.set_rng_state(saved[0])
            np.random.set_state(saved[1])
            random.setstate(saved[2])


def loader_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of an epoch's DataLoader generator, from which its workers' seeds come (not
    from the global stream, which the model's dropout advances): replayable."""
    return seed * 1_000_003 + epoch * 1009 + rank


# tells a batch's stream apart from an item's (item_seed's entropy has three words too)
_BATCH = 0x6D6978  # "mix"


def batch_rng(seed: int, step: int, rank: int) -> np.random.Generator:
    """The generator of one training step's batch-level draws (mixup / cutmix): a function
    of (seed, step, rank) alone, so a resumed run mixes its batches as an uninterrupted
    one did."""
    return np.random.default_rng(np.random.SeedSequence((seed & (2**64 - 1), step, rank, _BATCH)))
