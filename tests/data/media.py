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


def write_with_audio(path: Path, frames: np.ndarray | None, seconds: float = 1.0) -> None:
    """`frames` (if any) as libx264 at 25 fps, and `seconds` of silence as AAC."""
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=16000)  # every stream is added before the first mux
        if frames is not None:
            v = c.add_stream("libx264", rate=25)
            v.height, v.width = frames.shape[1:3]
            v.pix_fmt = "yuv420p"
            images = [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames]
            for p in [p for image in images for p in v.encode(image)] + v.encode():
                c.mux(p)
        silence = np.zeros((1, round(16000 * seconds)), np.float32)
        frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for p in [*a.encode(frame), *a.encode()]:
            c.mux(p)


def write_audio_only(path: Path) -> None:
    """One second of silence, AAC, no video stream."""
    write_with_audio(path, None)


def cut(path: Path, fraction: float = 0.5) -> Path:
    """Keep the first `fraction` of the bytes of `path`, as an interrupted download does."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


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
    cut(bad["truncated"])
    write_audio_only(bad["audio_only"])
    bad["random_bytes"].write_bytes(np.random.default_rng(0).bytes(4096))
    return bad
