"""`mrstnet data check`: list what a dataset holds and what will not load, before training."""

from __future__ import annotations

import argparse
import json

from mrstnet.data.readers import READERS, split_numbers

ORDER = 21


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="dataset tools (check)")
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: _no_subcommand(p))

    c = sub.add_parser(
        "check",
        help="classes, videos per subset, missing and unreadable files, frame/size statistics",
        description="Read the split files, then open every listed video: probe its header and "
        "decode its last frame (catches truncated files). Exit 0, or 1 with --strict when "
        "videos are missing or unreadable, or 2 when the root or the annotations are absent or "
        "malformed.",
    )
    c.add_argument("--dataset", required=True, choices=list(READERS))
    c.add_argument(
        "--root",
        required=True,
        help="the folder of class folders (kinetics: the folder holding train/ and val/)",
    )
    c.add_argument(
        "--annotations",
        metavar="DIR",
        help="split or CSV folder (list: the list file, checked as train, or its folder); "
        "default: the official folder name in ROOT, then in ROOT's parent",
    )
    c.add_argument("--split", type=int, default=1, choices=split_numbers())
    c.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    c.add_argument(
        "--strict", action="store_true", help="exit 1 if any video is missing or unreadable"
    )
    c.add_argument("--workers", type=int, default=1, help="threads opening videos (default 1)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.set_defaults(func=run_check)


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_check(args: argparse.Namespace) -> int:
    from mrstnet.data.check import check_dataset, format_report

    # an absent root or a malformed annotation file: the CLI's user error (exit 2)
    report = check_dataset(
        args.dataset,
        args.root,
        split=args.split,
        annotations=args.annotations,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
        print(f"wrote {args.json}")
    bad = len(report["missing"]) + len(report["unreadable"])
    if args.strict and bad:
        print(f"--strict: {len(report['missing'])} missing, {len(report['unreadable'])} unreadable")
        return 1
    return 0
