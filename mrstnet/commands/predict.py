"""`mrstnet predict`: the top classes of video files, folders and globs, from a checkpoint."""

from __future__ import annotations

import argparse

from ._predictor import add_predictor_args, open_predictor

ORDER = 32

EPILOG = """\
inputs: files, folders (searched recursively for video files) and glob patterns
(quote them: 'clips/**/*.mp4'); each file is predicted once.

exit status:
  0  every file was predicted
  1  some files could not be read (their rows say why); the others were predicted
  2  a user error (bad option, no checkpoint, no input found) or no file could be read
"""


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="top classes with probabilities for video files, folders and globs",
        description="Top classes with probabilities for each video file, from a checkpoint "
        "alone; clips of several files are scored together while the next files decode.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("videos", nargs="+", metavar="INPUT", help="video file, folder or glob")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--clips", type=int, default=10, help="clips per video, scores averaged")
    p.add_argument("--crops", type=int, default=1, choices=(1, 3))
    p.add_argument("--batch-size", type=int, default=8, help="clips per model call (default 8)")
    p.add_argument("--workers", type=int, default=1, help="decoding threads (0: no overlap)")
    add_predictor_args(p)
    p.add_argument("--csv", metavar="FILE", help="one row per file, written as files finish")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: on a TTY)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from tqdm import tqdm

    from mrstnet.data.files import find_videos
    from mrstnet.engine.batch import predict_files
    from mrstnet.engine.reports import Report, top_cells, top_columns

    if args.top < 1 or args.clips < 1 or args.batch_size < 1 or args.workers < 0:
        raise ValueError("--top, --clips and --batch-size must be >= 1, --workers >= 0")

    def warn(message: str) -> None:
        print(f"mrstnet predict: warning: {message}", file=sys.stderr)

    paths = find_videos(args.videos, warn=warn)
    predictor = open_predictor(args)
    results = predict_files(
        predictor,
        paths,
        clips=args.clips,
        crops=args.crops,
        top=args.top,
        batch_size=args.batch_size,
        workers=args.workers,
    )
    bar = tqdm(
        total=len(paths),
        unit="video",
        file=sys.stderr,
        disable=args.no_progress or not sys.stderr.isatty(),
    )
    failed = 0
    report = Report(
        csv_path=args.csv,
        json_path=args.json,
        header=["video", "status", "error", *top_columns(args.top)],
        meta={"checkpoint": predictor.checkpoint, "clips": args.clips, "crops": args.crops},
    )
    with report, bar:
        for r in results:
            bar.update()
            lines = [r["video"]]
            if "error" in r:
                failed += 1
                lines.append(f"  unreadable: {r['error']}")
                row = [r["video"], "error", r["error"], *top_cells([], args.top)]
            else:
                lines += [f"  {t['prob']:7.2%}  {t['class']}" for t in r["top"]]
                row = [r["video"], "ok", "", *top_cells(r["top"], args.top)]
            bar.write("\n".join(lines), file=sys.stdout)
            report.add(r, row)
        report.finish(videos=len(paths), failed=failed)
    if failed and failed == len(paths):
        raise ValueError(f"none of the {len(paths)} video files could be read")
    return 1 if failed else 0
