"""Shared fixtures: tiny real encoded videos written once per test session."""

from __future__ import annotations

import pytest
import torch

from mrstnet.data.synthetic import write_synthetic


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread per test: tiny tensors and decoding gain nothing from more on a
    shared 2-core machine, and code under test that sets the count (the trainer's
    `threads`) must not leak it into the next test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """A tiny synthetic motion set in the UCF-101 layout (ucfTrainTestlist/ inside):
    4 classes (2 time-reversal pairs), 4 videos per class in 3 groups, 16 frames of 32x32."""
    return write_synthetic(
        tmp_path_factory.mktemp("synthetic"),
        classes=4,
        videos_per_class=4,
        frames=16,
        size=32,
        seed=0,
    )
