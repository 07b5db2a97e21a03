"""`mrstnet profile`: parameters, FLOPs and size of a model, beside the paper's figures."""

from __future__ import annotations

import argparse
import json

ORDER = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile",
        help="parameters, FLOPs and fp32 size of a model, with the paper's figures",
        description="Count parameters, FLOPs (torch.utils.flop_counter on the meta device; "
        "a multiply-add counts as 2 FLOPs; convs and matmuls only) and fp32 size. "
        "GFLOPs is the paper's literal computation (impl=reference); 'GFLOPs fast' the "
        "default exact pooled implementation. 'a / b ×r' reads: ours / paper, ratio ours/paper.",
    )
    p.add_argument("model", nargs="?", help="a registered model (see --all)")
    p.add_argument("--all", action="store_true", help="every registered model")
    p.add_argument("--frames", type=int, help="clip length (default: the model's)")
    p.add_argument("--size", type=int, help="crop size (default: the model's)")
    p.add_argument("--classes", type=int, help="number of classes (default: the model's)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mrstnet.models import list_models
    from mrstnet.models.profile import format_table, profile_model

    if args.all == bool(args.model):
        raise ValueError("give a MODEL or --all")
    names = list_models() if args.all else [args.model]
    if args.model and args.model not in list_models():
        raise ValueError(f"unknown model {args.model!r}; choose from {', '.join(list_models())}")
    rows = [
        profile_model(n, frames=args.frames, size=args.size, classes=args.classes) for n in names
    ]
    print(format_table(rows))
    print("FLOPs: convs and matmuls, 1 multiply-add = 2 FLOPs, one clip.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
        print(f"wrote {args.json}")
    return 0
