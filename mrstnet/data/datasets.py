"""The clip dataset and thin readers for UCF-101, HMDB51, Kinetics-400 and list files.

A reader turns annotation files and a directory listing into `(videos, classes, missing)`;
it never opens a video. `VideoClipDataset` does the rest lazily: it probes a video's frame
count the first time the video is used (cached per process), samples a clip, decodes only
its frames and transforms them.

Where things are: `root` holds the class folders of videos (for Kinetics-400, the folder that
holds `train/`, `val/`, ...). `annotations` is the folder of split or CSV files; without it the
official folder name is looked up in `root`, then in `root`'s parent.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from mrstnet.data.sampling import random_clip, uniform_clip
from mrstnet.data.transforms import EvalTransform, TrainTransform, to_tensor
from mrstnet.data.video import VideoDecodeError, VideoInfo, VideoReader

log = logging.getLogger("mrstnet.data")

VIDEO_EXTENSIONS = (".avi", ".mp4", ".webm", ".mkv", ".mov", ".mpg", ".mpeg", ".m4v", ".flv")
ANNOTATION_DIRS = {
    "ucf101": "ucfTrainTestlist",
    "hmdb51": "testTrainMulti_7030_splits",
    "kinetics": "annotations",
}


class SplitFileError(ValueError):
    """A malformed annotation line; the message names the file and the line."""

    def __init__(self, path: Path | str, line_no: int | None, reason: str, line: str | None = None):
        self.path, self.line_no = str(path), line_no
        where = f"{path}:{line_no}" if line_no is not None else str(path)
        text = f" ({line!r})" if line is not None else ""
        super().__init__(f"{where}: {reason}{text}")


class TooManyBadVideosError(RuntimeError):
    """Raised in training when too many videos in a row could not be read."""


@dataclass(frozen=True)
class VideoRecord:
    path: Path
    label: int


Index = tuple[list[VideoRecord], list[str], list[Path]]  # videos, classes, missing


# -- annotation files ---------------------------------------------------------------------------
def dataset_root(root: Path | str) -> Path:
    """`root` as a Path; FileNotFoundError if it is not a folder. Checked before the split
    files, which a mistyped ROOT would still find in its parent."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root not found: {root}")
    return root


def find_annotations(root: Path | str, name: str, annotations: Path | str | None = None) -> Path:
    """`annotations` if given (a folder), else ROOT/name, else ROOT/../name."""
    if annotations is not None:
        path = Path(annotations)
        if not path.exists():
            raise FileNotFoundError(f"annotations not found: {path}")
        if not path.is_dir():
            raise NotADirectoryError(
                f"--annotations must be the folder of split files (like {name}/), "
                f"got a file: {path}"
            )
        return path
    root = Path(root)
    for candidate in (root / name, root.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"no {name}/ in {root} or {root.parent}; pass --annotations FOLDER (the folder of "
        "split or CSV files)"
    )


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines; CRLF, LF or CR endings."""
    if not path.is_file():
        raise SplitFileError(path, None, "file not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SplitFileError(path, None, f"not a UTF-8 text file ({exc.reason})") from exc
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _exists_in(root: Path) -> Callable[[Path], bool]:
    """A cached existence test: one directory listing per folder instead of a stat per file."""
    listings: dict[Path, set[str]] = {}

    def exists(path: Path) -> bool:
        folder = path.parent
        if folder not in listings:
            try:
                listings[folder] = set(os.listdir(folder))
            except OSError:
                listings[folder] = set()
        return path.name in listings[folder]

    return exists


def _split_existing(root: Path, videos: list[VideoRecord]) -> Index:
    exists = _exists_in(root)
    found = [v for v in videos if exists(v.path)]
    missing = [v.path for v in videos if not exists(v.path)]
    return found, [], missing


def read_ucf101(
    root: Path | str,
    *,
    subset: str = "train",
    split: int = 1,
    annotations: Path | str | None = None,
) -> Index:
    """UCF-101: classInd.txt ("1 ApplyEyeMakeup"), trainlist0N.txt ("Class/v.avi 1"),
    testlist0N.txt ("Class/v.avi", label from the folder)."""
    root = dataset_root(root)
    ann = find_annotations(root, ANNOTATION_DIRS["ucf101"], annotations)
    classes: list[str] = []
    ind = ann / "classInd.txt"
    for n, line in _lines(ind):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SplitFileError(ind, n, "expected '<index> <ClassName>'", line)
        if int(parts[0]) != len(classes) + 1:
            raise SplitFileError(ind, n, f"expected class index {len(classes) + 1}", line)
        classes.append(parts[1])
    if not classes:
        raise SplitFileError(ind, None, "no classes")
    by_name = {c.lower(): i for i, c in enumerate(classes)}
    if subset not in ("train", "test"):
        raise ValueError(f"UCF-101 subsets are 'train' and 'test', not {subset!r}")
    lst = ann / f"{subset}list0{split}.txt"
    videos = []
    for n, line in _lines(lst):
        parts = line.split()
        rel = parts[0]
        folder = rel.split("/")[0].lower()
        if "/" not in rel or folder not in by_name:
            raise SplitFileError(
                lst, n, "expected 'Class/video.avi' with a class of classInd.txt", line
            )
        if subset == "train":
            if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise SplitFileError(
                    lst, n, f"expected 'Class/video.avi <1..{len(classes)}>'", line
                )
            label = int(parts[1]) - 1
        else:
            if len(parts) > 2:
                raise SplitFileError(lst, n, "expected 'Class/video.avi'", line)
            label = by_name[folder]
        videos.append(VideoRecord(root / rel, label))
    found, _, missing = _split_existing(root, videos)
    return found, classes, missing


def read_hmdb51(
    root: Path | str,
    *,
    subset: str = "train",
    split: int = 1,
    annotations: Path | str | None = None,
) -> Index:
    """HMDB51: <class>_test_split{N}.txt with lines "<name>.avi <0|1|2>" (1 train, 2 test,
    0 unused); classes sorted by name."""
    root = dataset_root(root)
    ann = find_annotations(root, ANNOTATION_DIRS["hmdb51"], annotations)
    suffix = f"_test_split{split}.txt"
    files = sorted(p for p in ann.iterdir() if p.name.endswith(suffix))
    if not files:
        raise FileNotFoundError(f"no *{suffix} files in {ann}")
    classes = [p.name[: -len(suffix)] for p in files]
    want = {"train": "1", "test": "2"}.get(subset)
    if want is None:
        raise ValueError(f"HMDB51 subsets are 'train' and 'test', not {subset!r}")
    videos = []
    for label, (name, path) in enumerate(zip(classes, files, strict=True)):
        for n, line in _lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise SplitFileError(path, n, "expected '<video>.avi <0|1|2>'", line)
            if parts[1] == want:
                videos.append(VideoRecord(root / name / parts[0], label))
    found, _, missing = _split_existing(root, videos)
    return found, classes, missing


def read_kinetics(
    root: Path | str,
    *,
    subset: str = "train",
    split: int = 1,
    annotations: Path | str | None = None,
) -> Index:
    """Kinetics-400: annotations/<subset>.csv (label,youtube_id,time_start,time_end,split);
    videos at <root>/<subset>/<label>/<youtube_id>_<start:06d>_<end:06d>.<ext>. Label
    folders may use '_' for spaces and any video extension. A row without a label (or a CSV
    without the column, as the official test.csv) is unlabelled: label -1, video directly in
    <root>/<subset>/. Missing videos are returned, not raised: every real copy of Kinetics
    lacks some. Classes: sorted labels of train.csv."""
    root = dataset_root(root)
    ann = find_annotations(root, ANNOTATION_DIRS["kinetics"], annotations)
    table = ann / f"{subset}.csv"

    def rows(path: Path) -> list[tuple[int, dict[str, str]]]:
        lines = _lines(path)
        if not lines:
            raise SplitFileError(path, None, "empty CSV")
        header = next(csv.reader([lines[0][1]]))
        need = {"youtube_id", "time_start", "time_end"}  # "label" is optional: see above
        if not need <= set(header):
            raise SplitFileError(path, lines[0][0], f"header must have {sorted(need)}", lines[0][1])
        out = []
        for n, line in lines[1:]:
            values = next(csv.reader([line]))
            if len(values) != len(header):
                raise SplitFileError(path, n, f"expected {len(header)} fields", line)
            out.append((n, dict(zip(header, values, strict=True))))
        return out

    labelled = ann / "train.csv" if (ann / "train.csv").is_file() else table
    classes = sorted({r.get("label", "") for _, r in rows(labelled)} - {""})
    by_name = {c: i for i, c in enumerate(classes)}
    stems: dict[Path, dict[str, str]] = {}

    def locate(folder: Path, stem: str) -> Path | None:
        if folder not in stems:
            stems[folder] = {}
            if folder.is_dir():
                for entry in os.scandir(folder):
                    base, ext = os.path.splitext(entry.name)
                    if ext.lower() in VIDEO_EXTENSIONS:
                        stems[folder].setdefault(base, entry.name)
        name = stems[folder].get(stem)
        return folder / name if name else None

    videos, missing = [], []
    for n, r in rows(table):
        try:
            start, end = int(float(r["time_start"])), int(float(r["time_end"]))
            stem = f"{r['youtube_id']}_{start:06d}_{end:06d}"
        except ValueError as exc:
            raise SplitFileError(table, n, "time_start/time_end must be numbers") from exc
        label_name = r.get("label", "")  # none in the official test set
        if label_name and label_name not in by_name:
            raise SplitFileError(
                table, n, f"label {label_name!r} is not a class of {labelled.name}"
            )
        label = by_name.get(label_name, -1)
        base = root / subset
        folders = (
            [base / label_name, base / label_name.replace(" ", "_"), base] if label_name else [base]
        )
        path = next((p for f in folders if (p := locate(f, stem)) is not None), None)
        if path is None:
            missing.append(folders[0] / f"{stem}.mp4")
        else:
            videos.append(VideoRecord(path, label))
    return videos, classes, missing


def read_list(
    root: Path | str,
    *,
    subset: str = "train",
    split: int = 1,
    annotations: Path | str | None = None,
) -> Index:
    """mmaction2-style list file: "relative/path.ext <label>" per line, paths relative to root.

    `annotations` is the list file itself, or a folder holding `<subset>list0<split>.txt`,
    `<subset>list.txt`, `<subset>.txt` or `<subset>_list.txt` (first found). Class names come
    from `classInd.txt` ("1 Name") or `classes.txt` (one name a line) beside the list file,
    else they are the label numbers."""
    root = dataset_root(root)
    if annotations is None:
        annotations = root
    ann = Path(annotations)
    if ann.is_dir():
        names = [
            f"{subset}list0{split}.txt",
            f"{subset}list.txt",
            f"{subset}.txt",
            f"{subset}_list.txt",
        ]
        found = [ann / n for n in names if (ann / n).is_file()]
        if not found:
            raise FileNotFoundError(
                f"no list file for {subset!r} in {ann} (tried {', '.join(names)})"
            )
        ann = found[0]
    videos = []
    for n, line in _lines(ann):
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit() or int(parts[1]) < 0:
            raise SplitFileError(ann, n, "expected '<relative path> <label index>'", line)
        videos.append(VideoRecord(root / parts[0], int(parts[1])))
    num = max((v.label for v in videos), default=-1) + 1
    classes = [str(i) for i in range(num)]
    ind = ann.parent / "classInd.txt"
    if ind.is_file():
        classes = []
        for n, line in _lines(ind):
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise SplitFileError(ind, n, "expected '<index> <Name>'", line)
            classes.append(parts[1])
    elif (ann.parent / "classes.txt").is_file():
        classes = [line for _, line in _lines(ann.parent / "classes.txt")]
    if num > len(classes):
        raise SplitFileError(ann, None, f"label {num - 1} but only {len(classes)} class names")
    found, _, missing = _split_existing(root, videos)
    return found, classes, missing


def read_folder(
    root: Path | str,
    *,
    subset: str = "train",
    split: int = 1,
    annotations: Path | str | None = None,
) -> Index:
    """Any folder of class folders (<root>/<class>/*.<video ext>): every video, classes sorted.
    `subset` and `split` are ignored (there is no split information)."""
    root = dataset_root(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    videos = [
        VideoRecord(root / c / f, label)
        for label, c in enumerate(classes)
        for f in sorted(os.listdir(root / c))
        if os.path.splitext(f)[1].lower() in VIDEO_EXTENSIONS
    ]
    classes_with_videos = {v.label for v in videos}
    if not classes_with_videos:
        raise FileNotFoundError(f"no videos in class folders under {root}")
    return videos, classes, []


READERS: dict[str, Callable[..., Index]] = {
    "ucf101": read_ucf101,
    "hmdb51": read_hmdb51,
    "kinetics": read_kinetics,
    "list": read_list,
    "folder": read_folder,
}


# -- the dataset ------------------------------------------------------------------------------
class VideoClipDataset(Dataset):
    """Clips of a list of videos, as dicts {video uint8 (3, L, H, W), label, video_index,
    clip_index}.

    Training (`train=True`): item i is one random clip of video i. Test: item i is clip
    i % (num_clips * crops) of video i // (num_clips * crops); within a video, the crop index
    runs fastest.

    Unreadable videos (`skip_bad=True`): in training another random video is drawn, the path
    is logged once and counted (`bad`, per process; each training sample also carries
    `skipped`, the unreadable draws before it); `max_consecutive_failures` failures in a
    row raise `TooManyBadVideosError`. In test mode the item is None, which `collate` drops.
    With `skip_bad=False` the `VideoDecodeError` propagates.
    """

    def __init__(
        self,
        videos: list[VideoRecord],
        classes: list[str],
        *,
        train: bool,
        frames: int = 16,
        frame_step: int = 1,
        num_clips: int = 20,
        crops: int = 1,
        short_side: int = 128,
        crop_size: int = 112,
        flip: bool = False,
        skip_bad: bool = True,
        max_consecutive_failures: int = 10,
        missing: list[Path] | None = None,
    ):
        self.videos = list(videos)
        self.classes = list(classes)
        self.missing = list(missing or [])
        self.train = train
        self.frames, self.frame_step = frames, frame_step
        self.num_clips = 1 if train else num_clips
        self.crops = 1 if train else crops
        self.skip_bad = skip_bad
        self.max_consecutive_failures = max_consecutive_failures
        self.transform = (
            TrainTransform(short_side, crop_size, flip)
            if train
            else EvalTransform(short_side, crop_size, crops)
        )
        self.bad: dict[str, str] = {}  # path -> error, in this process
        self._info: dict[str, VideoInfo] = {}

    def __len__(self) -> int:
        return len(self.videos) * self.num_clips * self.crops

    def __repr__(self) -> str:
        mode = "train" if self.train else f"test, {self.num_clips} clips x {self.crops} crops"
        return (
            f"VideoClipDataset({len(self.videos)} videos, {len(self.classes)} classes, {mode}, "
            f"{self.frames} frames step {self.frame_step}, {self.transform})"
        )

    def _load(self, video_index: int, clip_index: int, crop_index: int) -> dict:
        record = self.videos[video_index]
        key = str(record.path)
        with VideoReader(record.path, self._info.get(key)) as reader:
            info = self._info[key] = reader.info
            if self.train:
                clip = random_clip(info.num_frames, self.frames, self.frame_step)
            else:
                clip = uniform_clip(
                    info.num_frames, self.frames, self.frame_step, self.num_clips, clip_index
                )
            frames = reader.read(clip.indices)
        video = to_tensor(frames)
        video = self.transform(video) if self.train else self.transform(video, crop_index)
        return {
            "video": video,
            "label": record.label,
            "video_index": video_index,
            "clip_index": clip_index * self.crops + crop_index,
        }

    def _note_bad(self, error: VideoDecodeError) -> None:
        if error.path not in self.bad:
            self.bad[error.path] = error.reason
            log.warning("skipping unreadable video %s", error)

    def __getitem__(self, i: int) -> dict | None:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        per_video = self.num_clips * self.crops
        video_index, j = divmod(i, per_video)
        clip_index, crop_index = divmod(j, self.crops)
        if not self.train:
            try:
                return self._load(video_index, clip_index, crop_index)
            except VideoDecodeError as e:
                if not self.skip_bad:
                    raise
                self._note_bad(e)
                return None
        failures = 0
        while True:
            try:
                sample = self._load(video_index, 0, 0)
                # how many unreadable videos this item drew first: DataLoader workers keep
                # their own `bad`, so the count travels with the batch to the training loop
                sample["skipped"] = failures
                return sample
            except VideoDecodeError as e:
                if not self.skip_bad:
                    raise
                self._note_bad(e)
                failures += 1
                if failures >= self.max_consecutive_failures:
                    raise TooManyBadVideosError(
                        f"{failures} unreadable videos in a row (last: {e}); "
                        f"{len(self.bad)} bad videos seen so far in this process. "
                        "Run `mrstnet data check` on the dataset."
                    ) from None
                video_index = int(torch.randint(len(self.videos), (1,)))


def collate(batch: list[dict | None]) -> dict | None:
    """Stack samples into a batch, dropping None (unreadable test videos). None if all were.
    Training samples' `skipped` counts are summed (a 0-d tensor)."""
    batch = [b for b in batch if b is not None]
    if not batch:
        return None
    out = {
        "video": torch.stack([b["video"] for b in batch]),
        "label": torch.tensor([b["label"] for b in batch], dtype=torch.int64),
        "video_index": torch.tensor([b["video_index"] for b in batch], dtype=torch.int64),
        "clip_index": torch.tensor([b["clip_index"] for b in batch], dtype=torch.int64),
    }
    if "skipped" in batch[0]:
        out["skipped"] = torch.tensor(sum(b["skipped"] for b in batch), dtype=torch.int64)
    return out


def build_dataset(
    name: str,
    root: Path | str,
    *,
    subset: str,
    split: int = 1,
    annotations: Path | str | None = None,
    train: bool,
    frames: int = 16,
    frame_step: int = 1,
    num_clips: int = 20,
    crops: int = 1,
    short_side: int = 128,
    crop_size: int = 112,
    flip: bool = False,
    skip_bad: bool = True,
) -> VideoClipDataset:
    """Index a dataset (annotation files and directory listings only; no decoding) and wrap
    it in a `VideoClipDataset`. Missing videos are left out, kept in `dataset.missing` and
    reported once in the log."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(READERS)}")
    videos, classes, missing = READERS[name](
        root, subset=subset, split=split, annotations=annotations
    )
    if missing:
        log.warning(
            "%s %s: %d of %d listed videos are missing (first: %s)",
            name,
            subset,
            len(missing),
            len(missing) + len(videos),
            missing[0],
        )
    if not videos:
        raise FileNotFoundError(
            f"{name} {subset} split {split}: no videos found under {root}"
            + (f" ({len(missing)} listed but missing)" if missing else "")
        )
    return VideoClipDataset(
        videos,
        classes,
        train=train,
        frames=frames,
        frame_step=frame_step,
        num_clips=num_clips,
        crops=crops,
        short_side=short_side,
        crop_size=crop_size,
        flip=flip,
        skip_bad=skip_bad,
        missing=missing,
    )


def load_clips(
    path: Path | str,
    *,
    frames: int = 16,
    frame_step: int = 1,
    num_clips: int = 20,
    short_side: int = 128,
    crop_size: int = 112,
    crops: int = 1,
) -> torch.Tensor:
    """The test-time clips of one file: uint8 (num_clips * crops, 3, L, H, W), decoded in one
    pass over the file. Raises VideoDecodeError."""
    from mrstnet.data.sampling import uniform_clips

    transform = EvalTransform(short_side, crop_size, crops)
    with VideoReader(path) as reader:
        clips = uniform_clips(reader.info.num_frames, frames, frame_step, num_clips)
        import numpy as np

        all_indices = np.concatenate([c.indices for c in clips])
        decoded = to_tensor(reader.read(all_indices))  # (3, K*L, H, W)
    out = []
    for k in range(num_clips):
        clip = decoded[:, k * frames : (k + 1) * frames]
        out.extend(transform(clip, c) for c in range(crops))
    return torch.stack(out)
