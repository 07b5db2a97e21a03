"""Fixtures for the data tests (helpers that write the videos are in media.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .media import write_bad_videos


@pytest.fixture(autouse=True)
def _one_thread():
    # Decoding and tiny tensor ops gain nothing from intra-op threads on a shared 2-core box.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    return write_bad_videos(tmp_path_factory.mktemp("bad"))
