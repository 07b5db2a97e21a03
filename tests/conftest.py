"""Shared fixtures: tiny real encoded videos written once per test session."""

from __future__ import annotations

import pytest

from mrstnet.data.synthetic import write_synthetic


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
