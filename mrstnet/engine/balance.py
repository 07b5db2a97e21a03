"""Class imbalance: the videos per class said at the start of training, and what the config's
`balance` does about it.

    none     every video once an epoch (the default)
    sampler  each epoch draws as many items as there are videos, each draw a class first
             (all equally likely) and then one of its videos: small classes are seen as often
             as large ones, their videos more than once an epoch
    loss     every video once an epoch, cross-entropy weighted N / (C n_c) for class c
             (N videos, C classes with videos, n_c of class c): each class weighs as much
             in the loss as if the classes were equal in size

The sampler keeps what the trainer promises (mrstnet.engine.train): its draws come from a
generator seeded by (seed, epoch), the same on every process, each process taking its share
of the epoch's order as EpochSampler shards it, and a resumed run starts the same order at
the same place. A video drawn k times in an epoch is item `index + k * N` (`Repeats` reads
it as video `index`): the trainer seeds each item's random clip and crop by its item index,
so the repeats of a small class's video are different clips, not one clip k times.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

CHOICES = ("none", "sampler", "loss")


class Repeats(Dataset):
    """`dataset` with item j read as item j % len(dataset): the k-th repeat of a video in
    an epoch is its own item (and gets its own seed)."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, j: int):
        return self.dataset[j % len(self.dataset)]

    def __getattr__(self, name: str):  # classes, videos, ... of the wrapped set
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def labels_of(dataset) -> list[int]:
    """The class of each training item: `dataset.videos[i].label` (VideoClipDataset) or
    `dataset.labels`. ValueError when the dataset lists neither."""
    while isinstance(dataset, Repeats):
        dataset = dataset.dataset
    videos = getattr(dataset, "videos", None)
    if videos and all(hasattr(v, "label") for v in videos):
        labels = [int(v.label) for v in videos]
    elif getattr(dataset, "labels", None) is not None:
        labels = [int(y) for y in dataset.labels]
    else:
        raise ValueError(
            "balance needs the training set's labels: a `videos` list of records with a "
            "`label`, or a `labels` list"
        )
    if len(labels) != len(dataset):
        raise ValueError(f"balance: {len(labels)} labels for {len(dataset)} training items")
    return labels


def draw_seed(seed: int, epoch: int) -> int:
    """The seed of an epoch's class-balanced draws (mixed, as the item seeds are)."""
    entropy = (seed & (2**64 - 1), epoch, 0xBA1A)
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


class BalancedSampler(Sampler[int]):
    """Class-balanced draws with replacement, the interface of EpochSampler: seeded by
    (seed, epoch), sharded over `world` processes, started mid-epoch by `set_epoch`."""

    def __init__(self, labels: list[int], *, rank: int = 0, world: int = 1, seed: int = 0):
        self.labels, self.rank, self.world, self.seed = list(labels), rank, world, seed
        self.n = len(self.labels)
        self.per_rank = math.ceil(self.n / world)
        self.epoch, self.start = 0, 0
        count = Counter(self.labels)
        # P(video i) = 1 / (classes * n_class(i)): a class first, then one of its videos
        self.weights = torch.tensor([1.0 / count[y] for y in self.labels], dtype=torch.float64)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def order(self) -> list[int]:
        """The epoch's items: drawn videos, a repeat as index + k * n (see Repeats)."""
        g = torch.Generator().manual_seed(draw_seed(self.seed, self.epoch))
        drawn = torch.multinomial(self.weights, self.n, replacement=True, generator=g).tolist()
        seen: Counter = Counter()
        out = []
        for i in drawn:
            out.append(i + seen[i] * self.n)
            seen[i] += 1
        return out

    def __iter__(self):
        order = self.order()
        order += order[: self.per_rank * self.world - self.n]  # every rank gets as many
        return iter(order[self.rank :: self.world][self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def balanced(cfg, train_set, sampler):
    """(training set, sampler) for `cfg.balance`: with "sampler", the class-balanced draws
    (on `sampler`'s processes and seed) over the set read through `Repeats`; otherwise as
    given."""
    if cfg.balance != "sampler":
        return train_set, sampler
    labels = labels_of(train_set)
    draws = BalancedSampler(labels, rank=sampler.rank, world=sampler.world, seed=sampler.seed)
    return Repeats(train_set), draws


def class_weights(
    labels: list[int], num_classes: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """N / (C n_c) per class (C: the classes with training videos); 0 for a class with none."""
    count = Counter(labels)
    present = sum(1 for c in range(num_classes) if count[c])
    w = [len(labels) / (present * count[c]) if count[c] else 0.0 for c in range(num_classes)]
    return torch.tensor(w, dtype=torch.float32, device=device)


def loss_weights(cfg, train_set, num_classes: int, device) -> torch.Tensor | None:
    """The cross-entropy's class weights for `cfg.balance` ("loss"), else None."""
    if cfg.balance != "loss":
        return None
    labels = labels_of(train_set)
    return class_weights(labels, max(num_classes, max(labels, default=-1) + 1), device)


def _shown_width(text: str) -> int:
    """Terminal columns: wide (CJK) letters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def class_table(
    classes: list[str], train: list[int], val: list[int] | None = None, balance: str = "none"
) -> str:
    """The videos per class (train / val) as lines of text; past 40 classes, the smallest
    and largest few. Ends with a line on the imbalance when the largest class has more than
    twice the training videos of the smallest."""
    n_train, n_val = Counter(train), Counter(val or [])
    rows = [(c, n_train[i], n_val[i]) for i, c in enumerate(classes)]
    head = "videos per class (train" + (" / val)" if val is not None else ")")
    width = min(max((_shown_width(c) for c in classes), default=0), 40)

    def row(c: str, t: int, v: int) -> str:
        pad = " " * max(width - _shown_width(c), 0)
        text = f"  {c}{pad}  {t:>6}" + (f" / {v}" if val is not None else "")
        return text + ("   no training videos: never learnt" if t == 0 else "")

    if len(rows) <= 40:
        lines = [head + ":"] + [row(*r) for r in rows]
    else:
        by_size = sorted(rows, key=lambda r: (r[1], r[0]))
        lines = [f"{head}, the 5 smallest and 5 largest of {len(rows)} classes:"]
        lines += [row(*r) for r in by_size[:5]] + ["  ..."] + [row(*r) for r in by_size[-5:]]
    sizes = [t for _, t, _ in rows if t]
    if sizes and max(sizes) > 2 * min(sizes):
        what = (
            f"balance: {balance}"
            if balance != "none"
            else "--balance sampler or loss evens them out"
        )
        lines.append(
            f"imbalance: the largest class has {max(sizes) / min(sizes):.1f}x the training "
            f"videos of the smallest ({what})"
        )
    return "\n".join(lines)
