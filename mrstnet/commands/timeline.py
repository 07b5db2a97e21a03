"""`mrstnet timeline VIDEO`: what happens when in a long video, window by window."""

from __future__ import annotations

import argparse

from ._predictor import add_predictor_args, open_predictor

ORDER = 32

EPILOG = """\
The video is decoded once, front to back, keeping one window of frames in memory. A
window is the checkpoint's clip (frames x frame_step frames); one starts every --stride
seconds (default: half a window). A video shorter than one window gets one window whose
frames loop, as test clips do.

Segments: window probabilities are averaged over --smooth consecutive windows (centred
moving average); a window's label is its most probable class when that smoothed
probability is >= --threshold, else "uncertain"; consecutive windows with the same label
form a segment, each window standing for the time nearest its centre.

exit status: 0 done; 1 the video broke off part-way (the windows before it are kept) or
the picture needs matplotlib; 2 a user error (bad option, unreadable video).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "timeline",
        help="score sliding windows of a long video and merge them into segments",
        description="Score sliding windows of a long video in batches and merge them into "
        "segments of one class; write the windows as CSV/JSON and a timeline picture.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--stride", type=float, metavar="SECONDS", help="default: half a window")
    p.add_argument("--top", type=int, default=3, help="classes per window in the outputs")
    p.add_argument("--smooth", type=int, default=3, help="windows averaged, odd (1: none)")
    p.add_argument("--threshold", type=float, default=0.5, help="smoothed probability needed")
    p.add_argument(
        "--batch-size",
        type=int,
        help="windows per model call (default: 16 clips of 16x64x64, fewer for bigger clips)",
    )
    p.add_argument("--csv", metavar="FILE", help="one row per window, written as scored")
    p.add_argument("--json", metavar="FILE", help="windows, segments and settings")
    p.add_argument("--png", metavar="FILE", help="timeline picture (needs matplotlib)")
    add_predictor_args(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: on a TTY)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from tqdm import tqdm

    from mrstnet.engine.reports import Report, top_cells, top_columns
    from mrstnet.engine.timeline import MISSING_PLOT, plot_timeline, summarize, timeline

    if args.top < 1 or (args.batch_size is not None and args.batch_size < 1):
        raise ValueError("--top and --batch-size must be >= 1")
    if not 0 <= args.threshold <= 1:
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.smooth < 1 or args.smooth % 2 == 0:
        raise ValueError(f"--smooth must be an odd number of windows >= 1, got {args.smooth}")
    if args.png:
        try:
            import matplotlib  # noqa: F401 - fail now, not after the whole video
        except ImportError:
            print(f"mrstnet timeline: error: {MISSING_PLOT}", file=sys.stderr)
            return 1
    predictor = open_predictor(args)
    header = ["window", "start", "end", "looped", *top_columns(args.top)]
    bar = tqdm(
        unit="s",
        desc="video seconds",
        file=sys.stderr,
        bar_format="{desc}: {n:.1f} [{elapsed}, {rate_fmt}]",
        disable=args.no_progress or not sys.stderr.isatty(),
    )
    report = Report(csv_path=args.csv, json_path=args.json, header=header, key="windows")

    def on_window(w) -> None:
        top = predictor.top(w.probs, args.top)
        row = [w.index, f"{w.start:.3f}", f"{w.end:.3f}", int(w.looped), *top_cells(top, args.top)]
        report.add({"index": w.index, "start": w.start, "end": w.end, "top": top}, row)
        bar.update(max(0.0, w.end - bar.n))

    with report, bar:
        run_ = timeline(
            predictor, args.video, stride=args.stride, batch_size=args.batch_size,
            on_window=on_window,
        )  # fmt: skip
        result, smoothed = summarize(
            run_, predictor, args.video, smooth=args.smooth, threshold=args.threshold,
            top=args.top,
        )  # fmt: skip
        report.records = result.pop("windows")
        report.meta.update(result)
        report.finish()
    for s in result["segments"]:
        name = s["class"] if s["class"] is not None else "(uncertain)"
        print(f"{s['start']:9.2f} - {s['end']:9.2f} s  {name}  {s['prob']:.1%}")
    speed = run_.video_seconds / run_.wall_s if run_.wall_s else float("inf")
    print(
        f"{len(run_.windows)} windows of {result['window']['seconds']} s every "
        f"{result['stride']['seconds']} s over {run_.video_seconds:.1f} s of video in "
        f"{run_.wall_s:.1f} s ({speed:.1f}x real time)"
    )
    if args.png:
        plot_timeline({**result, "windows": report.records}, predictor.classes, smoothed, args.png)
        print(f"wrote {args.png}")
    if run_.error:
        print(f"mrstnet timeline: error: {run_.error}", file=sys.stderr)
        return 1
    return 0
