"""Write a generated, labelled video set to disk in any layout the library's readers accept.

A generator gives `video(label, j) -> uint8 (T, H, W, 3)` for class `label` and video `j`;
`write_dataset` encodes every video once (mpeg4 .avi) and writes the annotation files of one
layout around them. Videos are grouped as in UCF-101: video j of a class is in group
g = j % groups + 1 (groups = 9 from 9 videos a class, else 3), clip c = j // groups + 1, and
split s (1, 2, 3) tests on the groups with (g - 1) % 3 == s - 1 and trains on the others, so
train and test never share a group. Layouts (`--dataset` name = layout name)::

    ucf101    OUT/<Class>/v_<Class>_gXX_cYY.avi
              OUT/ucfTrainTestlist/classInd.txt "1 Class", trainlist0{1,2,3}.txt
              "Class/v_....avi 1", testlist0{1,2,3}.txt "Class/v_....avi" (CRLF)
    hmdb51    OUT/<Class>/v_....avi
              OUT/testTrainMulti_7030_splits/<Class>_test_split{1,2,3}.txt "v_....avi 1|2"
    list      OUT/<Class>/v_....avi
              OUT/trainlist0{1,2,3}.txt, OUT/testlist0{1,2,3}.txt "Class/v_....avi <0-based>",
              OUT/classInd.txt "1 Class"
    kinetics  OUT/{train,val}/<Class>/<id>_000000_<end:06d>.avi (split 1: train / test groups)
              OUT/annotations/{train,val}.csv "label,youtube_id,time_start,time_end,split"
    folder    OUT/<Class>/v_....avi only (no split: every video is read as train)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

FPS = 25
LAYOUTS = ("ucf101", "hmdb51", "list", "kinetics", "folder")
SPLITS = (1, 2, 3)


def write_video(
    path: Path | str,
    video: np.ndarray,
    *,
    fps: int = FPS,
    codec: str = "mpeg4",
    gop: int = 12,
    quality: int = 3,
    pix_fmt: str = "yuv420p",
) -> None:
    """Encode uint8 (T, H, W, 3) frames. `quality` is the mpeg4 qmax (1 best, 31 worst)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = video.shape[1:3]
        stream.pix_fmt = pix_fmt
        stream.codec_context.gop_size = gop
        if codec == "mpeg4":
            stream.bit_rate = 8_000_000
            stream.codec_context.options = {"qmin": "1", "qmax": str(quality)}
        for frame in video:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _text(path: Path, lines: list[str], newline: str = "\n") -> None:
    path.write_bytes("".join(line + newline for line in lines).encode())


def write_dataset(
    out: Path | str,
    names: list[str],
    videos_per_class: int,
    video: Callable[[int, int], np.ndarray],
    *,
    layout: str = "ucf101",
) -> Path:
    """Write `videos_per_class` videos of each class in `names` to `out` (created) in
    `layout` (one of LAYOUTS, see the module docstring) and return `out`."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if videos_per_class < 3:
        raise ValueError("videos_per_class must be at least 3 (three splits by group)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups = 9 if videos_per_class >= 9 else 3

    def is_test(g: int, s: int) -> bool:
        return (g - 1) % 3 == s - 1

    # (class, group, file name, frames) of every video, in writing order
    written: list[tuple[int, int, str, int]] = []
    for label, name in enumerate(names):
        for j in range(videos_per_class):
            frames = video(label, j)
            g, c = j % groups + 1, j // groups + 1
            if layout == "kinetics":
                subset = "val" if is_test(g, 1) else "train"
                end = max(1, math.ceil(len(frames) / FPS))
                file = f"{name}_g{g:02d}_c{c:02d}_000000_{end:06d}.avi"
                path = out / subset / name / file
            else:
                file = f"v_{name}_g{g:02d}_c{c:02d}.avi"
                path = out / name / file
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, frames)
            written.append((label, g, file, len(frames)))

    if layout == "ucf101":
        lists = out / "ucfTrainTestlist"
        lists.mkdir(exist_ok=True)
        _text(lists / "classInd.txt", [f"{i + 1} {n}" for i, n in enumerate(names)], "\r\n")
        for s in SPLITS:
            rows = [(names[k], f, k, g) for k, g, f, _ in written]
            train = [f"{n}/{f} {k + 1}" for n, f, k, g in rows if not is_test(g, s)]
            test = [f"{n}/{f}" for n, f, k, g in rows if is_test(g, s)]
            _text(lists / f"trainlist0{s}.txt", train, "\r\n")
            _text(lists / f"testlist0{s}.txt", test, "\r\n")
    elif layout == "hmdb51":
        lists = out / "testTrainMulti_7030_splits"
        lists.mkdir(exist_ok=True)
        for label, name in enumerate(names):
            for s in SPLITS:
                rows = [f"{f} {2 if is_test(g, s) else 1}" for k, g, f, _ in written if k == label]
                _text(lists / f"{name}_test_split{s}.txt", rows)
    elif layout == "list":
        _text(out / "classInd.txt", [f"{i + 1} {n}" for i, n in enumerate(names)])
        for s in SPLITS:
            for subset, want in (("train", False), ("test", True)):
                rows = [f"{names[k]}/{f} {k}" for k, g, f, _ in written if is_test(g, s) == want]
                _text(out / f"{subset}list0{s}.txt", rows)
    elif layout == "kinetics":
        (out / "annotations").mkdir(exist_ok=True)
        header = "label,youtube_id,time_start,time_end,split"
        for subset in ("train", "val"):
            rows = []
            for k, g, f, _ in written:
                if (subset == "val") == is_test(g, 1):
                    ytid, _, times = f[: -len(".avi")].rpartition("_000000_")
                    rows.append(f"{names[k]},{ytid},0,{int(times)},{subset}")
            _text(out / "annotations" / f"{subset}.csv", [header, *rows])
    return out
