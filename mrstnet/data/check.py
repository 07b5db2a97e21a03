"""Check a dataset before training: what is listed, what is missing, what will not decode.

`check_dataset` reads the annotation files with the same readers the dataset uses, then opens
every listed video that exists once (a video listed in two subsets is checked once): it probes
the header (`probe`'s frame count, fps and size) and decodes the last frame of that count, so
a truncated file, whose header still promises frames (or, in MKV/WebM, a duration) it no
longer holds, is caught. Decoding one frame per video, after a seek, keeps the check to a few
milliseconds a video.

The report is a JSON-able dict::

    dataset, root, split       what was checked
    note                       (only when a list file was given: it is checked as train)
    num_classes, classes
    train, test (, val)        listed videos per subset (found + missing)
    subsets                    {subset: {listed, found, missing}}
    checked                    distinct existing videos opened
    missing                    [path, ...]              listed in a split file, not on disk
    unreadable                 [{path, error}, ...]     on disk, but probe or decode failed
    frames, fps                {min, median, max} over the readable videos
    sizes                      {"WxH": count}, most common first
    duration_s                 {min, median, max, total}
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from mrstnet.data.readers import dataset_root, find_annotations, get_reader
from mrstnet.data.video import END_SLACK, VideoDecodeError, VideoInfo, VideoReader


def check_video(path: Path | str) -> VideoInfo:
    """Header info of a video after decoding its last frame. Raises VideoDecodeError.

    `VideoReader.info` falls back to counting packets when the header's frame count disagrees
    with the duration, which is what a truncated AVI looks like (its duration is estimated
    from the bytes that are left); so a header count above the packets found is reported as
    truncation. MKV and WebM store no frame count, but their duration survives a cut, so
    there the packets must reach the end of that duration. Otherwise the last frame must
    decode (a file cut inside its last frames)."""
    with VideoReader(path) as reader:
        info = reader.info
        header = reader.stream.frames
        if header > info.num_frames + END_SLACK:
            raise VideoDecodeError(
                path,
                f"truncated: the header lists {header} frames, the file holds {info.num_frames}",
            )
        duration = (reader.container.duration or 0) / 1e6
        end = _packets_end(reader) if header <= 0 and duration > 0 else None
        if end is not None:
            implied = round(duration * info.fps)
            if (duration - end) * info.fps > max(END_SLACK, 0.05 * implied):
                raise VideoDecodeError(
                    path,
                    f"truncated: the container's duration implies ~{implied} frames, "
                    f"the file holds {info.num_frames}",
                )
        reader.read([info.num_frames - 1])
    return info


def _packets_end(reader: VideoReader) -> float | None:
    """Seconds from the start to the end of the last packet of any stream (demuxing only);
    None if no packet has a timestamp.

    Every stream counts, not only the video: the duration is that of the longest stream, and
    an audio track that outlasts the video is no sign of a cut, whereas a cut ends them all."""
    container = reader.container
    end = max(
        (
            float((p.pts + (p.duration or 0)) * p.time_base)
            for p in container.demux()
            if p.pts is not None and p.time_base
        ),
        default=None,
    )
    return None if end is None else end - (container.start_time or 0) / 1e6


def _check(path: Path) -> tuple[Path, VideoInfo | None, str | None]:
    try:
        return path, check_video(path), None
    except VideoDecodeError as e:
        return path, None, e.reason
    except Exception as e:  # a bug or an odd file should be reported, not stop the check
        return path, None, f"{type(e).__name__}: {e}"


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def check_dataset(
    name: str,
    root: Path | str,
    *,
    split: int = 1,
    annotations: Path | str | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Check every subset of a dataset; see the module docstring for the report.

    Raises SplitFileError (malformed annotation line), FileNotFoundError (no annotations or
    no root), NotADirectoryError (a file given as the annotation folder) and ValueError
    (unknown dataset), as the dataset would."""
    reader = get_reader(name)
    dataset_root(root)
    subsets = reader.subsets  # those in reader.optional are skipped when their file is absent
    report: dict = {"dataset": name, "root": str(root), "split": split}
    if reader.annotations is not None:
        ann = find_annotations(root, reader.annotations, annotations)
        report["annotations"] = str(ann)
    elif annotations is not None:
        report["annotations"] = str(annotations)
        if len(subsets) > 1 and Path(annotations).is_file():
            # One list file is one subset: the reader would give the same file for "test".
            subsets = ("train",)
            report["note"] = (
                "one list file given: checked as train (give the folder of "
                "train/test lists to check both)"
            )
    classes: list[str] = []
    per_subset: dict[str, dict] = {}
    missing: list[str] = []
    to_check: dict[str, Path] = {}  # insertion-ordered, one entry per distinct file
    for subset in subsets:
        try:
            videos, names, gone = reader(root, subset=subset, split=split, annotations=annotations)
        except FileNotFoundError:
            if subset in reader.optional:
                continue
            raise
        classes = classes or names
        per_subset[subset] = {
            "listed": len(videos) + len(gone),
            "found": len(videos),
            "missing": len(gone),
        }
        missing.extend(str(p) for p in gone)
        for v in videos:
            to_check.setdefault(str(v.path), v.path)
    report["num_classes"] = len(classes)
    report["classes"] = classes
    for subset in ("train", "test", *subsets):
        report[subset] = per_subset.get(subset, {}).get("listed", 0)
    report["subsets"] = per_subset
    report["checked"] = len(to_check)
    report["missing"] = list(dict.fromkeys(missing))

    infos: list[VideoInfo] = []
    unreadable: list[dict[str, str]] = []
    for path, info, error in tqdm(
        _run(list(to_check.values()), workers),
        total=len(to_check),
        desc=f"checking {name}",
        unit="video",
        disable=not progress,
        leave=False,
    ):
        if info is None:
            unreadable.append({"path": str(path), "error": error})
        else:
            infos.append(info)
    report["unreadable"] = unreadable
    report["frames"] = _summary([i.num_frames for i in infos])
    report["fps"] = _summary([round(i.fps, 3) for i in infos])
    durations = [i.duration for i in infos]
    report["duration_s"] = _summary([round(d, 2) for d in durations])
    if report["duration_s"]:
        report["duration_s"]["total"] = round(sum(durations), 1)
    report["sizes"] = dict(Counter(f"{i.width}x{i.height}" for i in infos).most_common())
    return report


def _run(paths: list[Path], workers: int) -> Iterator[tuple[Path, VideoInfo | None, str | None]]:
    # PyAV releases the GIL while demuxing and decoding, so threads do overlap.
    if workers <= 1:
        yield from map(_check, paths)
        return
    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(_check, paths)


def format_report(report: dict, *, limit: int = 10) -> str:
    """The report as lines of text; at most `limit` missing and unreadable paths are listed."""
    lines = [f"{report['dataset']} split {report['split']} at {report['root']}"]
    if "annotations" in report:
        lines.append(f"annotations: {report['annotations']}")
    if "note" in report:
        lines.append(f"note: {report['note']}")
    lines.append(f"classes: {report['num_classes']}")
    for subset, c in report["subsets"].items():
        lines.append(
            f"{subset + ':':<6} {c['listed']} listed, {c['found']} found, {c['missing']} missing"
        )
    lines.append(
        f"checked {report['checked']} videos: {report['checked'] - len(report['unreadable'])} "
        f"readable, {len(report['unreadable'])} unreadable"
    )
    for key, unit in (("frames", ""), ("fps", ""), ("duration_s", " s")):
        s = report[key]
        if s:
            lines.append(f"{key}: min {s['min']:g}, median {s['median']:g}, max {s['max']:g}{unit}")
    if report["sizes"]:
        sizes = list(report["sizes"].items())
        text = ", ".join(f"{k} ({n})" for k, n in sizes[:5])
        more = f", and {len(sizes) - 5} other sizes" if len(sizes) > 5 else ""
        lines.append(f"sizes: {text}{more}")
    lines += _listing("missing", report["missing"], limit)
    lines += _listing(
        "unreadable", [f"{u['path']}: {u['error']}" for u in report["unreadable"]], limit
    )
    return "\n".join(lines)


def _listing(title: str, items: Iterable[str], limit: int) -> list[str]:
    items = list(items)
    if not items:
        return []
    head = f"{title} ({len(items)}" + (f", first {limit}):" if len(items) > limit else "):")
    return [head] + [f"  {x}" for x in items[:limit]]
