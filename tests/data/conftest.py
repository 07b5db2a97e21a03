"""Fixtures for the data tests (helpers that write the videos are in media.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .media import write_bad_videos


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    return write_bad_videos(tmp_path_factory.mktemp("bad"))
