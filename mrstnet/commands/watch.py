"""`mrstnet watch SOURCE`: predictions on a camera, a network stream or a paced file, live."""

from __future__ import annotations

import argparse

from ._predictor import add_predictor_args, open_predictor, to_stderr

ORDER = 36

EPILOG = """\
SOURCE: a camera (/dev/video0, read with V4L2), a stream FFmpeg opens (rtsp://, http://,
udp://, tcp://, ...), or a video file (with --realtime: played at its frame rate).

A background thread decodes into a ring buffer of the last window; the model always takes
the newest window, one every --stride seconds. When the model is slower than the stream,
windows it could not take are dropped (never queued). Each prediction prints one line
(or one JSON object with --jsonl): the stream time of the window's end, the top classes
and the latency from the decoding of the window's last frame to the prediction. A file
read without --realtime is a recording: no window is dropped.

The watch ends at the end of the stream, after --max-seconds, or on Ctrl-C, and prints a
summary line on stderr (latency median and 95th percentile, windows and frames dropped).

exit status: 0 ended normally (end of stream, --max-seconds, Ctrl-C); 1 the stream broke
off (predictions so far are printed); 2 a user error, or the source could not be opened
or gave no frame (bad URL, no such device, refused, timed out, no video stream, empty).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "watch",
        help="live predictions on a camera, a network stream or a paced video file",
        description="Live predictions on a camera, a network stream or a video file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--stride", type=float, metavar="SECONDS", help="default: half a window")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    p.add_argument("--realtime", action="store_true", help="pace a file at its frame rate")
    p.add_argument("--max-seconds", type=float, metavar="S", help="stop after S s (wall clock)")
    p.add_argument(
        "--open-timeout", type=float, default=10.0, metavar="S", help="wait to open (10 s)"
    )
    p.add_argument(
        "--read-timeout", type=float, default=10.0, metavar="S", help="wait for data (10 s)"
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="FFmpeg option for opening the source, e.g. rtsp_transport=tcp (repeatable)",
    )
    p.add_argument("--format", metavar="NAME", help="FFmpeg input format (v4l2 for /dev/video*)")
    add_predictor_args(p)
    p.set_defaults(func=run)


def parse_options(items: list[str]) -> dict[str, str]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {item!r}: expected KEY=VALUE")
        options[key] = value
    return options


def run(args) -> int:
    import json
    import sys

    from mrstnet.data.stream import FrameSource
    from mrstnet.engine.live import BROKE_OFF, watch
    from mrstnet.engine.reports import top_text

    if args.top < 1:
        raise ValueError("--top must be >= 1")
    for name in ("max_seconds", "open_timeout", "read_timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
    options = parse_options(args.option)
    predictor = open_predictor(args, note=to_stderr)

    def show(record: dict) -> None:
        if args.jsonl:
            line = json.dumps(record, ensure_ascii=False)
        else:
            line = (
                f"{record['time']:9.2f} s  {top_text(record['top'], args.top)}  "
                f"(latency {record['latency_ms']:.0f} ms)"
            )
        print(line, flush=True)

    with FrameSource(
        args.source,
        open_timeout=args.open_timeout,
        read_timeout=args.read_timeout,
        options=options,
        format=args.format,
        realtime=args.realtime,
    ) as source:
        summary = watch(
            predictor,
            source,
            stride=args.stride,
            top=args.top,
            max_seconds=args.max_seconds,
            on_prediction=show,
        )
    print(f"mrstnet watch: {summary.line()}", file=sys.stderr, flush=True)
    return 1 if summary.ended == BROKE_OFF else 0
