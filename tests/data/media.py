"""Tiny real videos for the data tests, good and bad, written with PyAV (no mocks)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from mrstnet.data.synthetic import write_video


def moving_frames(n: int = 24, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 (n, h, w, 3) frames that differ a lot from one to the next, so that decoding
    the wrong frame is caught."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    shift = (np.arange(n) * 37 % 256).astype(np.uint8)
    return (base[None] + shift[:, None, None, None]).astype(np.uint8)


def write_audio_only(path: Path) -> None:
    """One second of silence, AAC, no video stream."""
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 16000), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        for p in [*a.encode(frame), *a.encode()]:
            c.mux(p)


def write_bad_videos(folder: Path) -> dict[str, Path]:
    """One file of each bad kind in `folder`, by kind (the 'missing' one is not written)."""
    folder.mkdir(parents=True, exist_ok=True)
    bad = {
        "missing": folder / "missing.avi",
        "empty": folder / "empty.avi",
        "truncated": folder / "truncated.avi",
        "audio_only": folder / "audio_only.mp4",
        "random_bytes": folder / "random_bytes.mp4",
    }
    bad["empty"].write_bytes(b"")
    write_video(bad["truncated"], moving_frames(), gop=4)
    data = bad["truncated"].read_bytes()
    bad["truncated"].write_bytes(data[: len(data) // 2])
    write_audio_only(bad["audio_only"])
    bad["random_bytes"].write_bytes(np.random.default_rng(0).bytes(4096))
    return bad
