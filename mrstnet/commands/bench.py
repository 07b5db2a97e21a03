"""`mrstnet bench`: whole-network speed, ours beside the literal baseline and the hardware."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ORDER = 11


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="time inference, training steps and the Table 2 backbone against baselines",
        description="Time mrst_t_net inference (16x224x224, batch 1), a mrst_t_net training "
        "step (16x112x112, batch 4), a demo-model training step (16x64x64, batch 16): 'ours' "
        "(mrstnet.optimize / the trainer's path) beside 'literal' (impl=reference, default "
        "layout); and the Table 2 backbone's forward+backward (16x112x112, batch 2) as "
        "create_model gives it, MRST-P and MRST-T beside STD. With a 3x3x3 channels_last_3d "
        "Conv3d in fp32 and bf16 (practical peaks), the CPU's model, flags and oneDNN ISA; "
        "interleaved in one process, medians over --rounds, each row as a ratio to its "
        "case's baseline. GFLOP/s use the literal formulation's FLOPs; a training step and "
        "a forward+backward count 3x the forward FLOPs.",
    )
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per variant (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per variant first")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, seconds)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument(
        "--dtype",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="bf16 rows beside 'ours': auto = where bf16 pays (AMX CPUs, CUDA); the "
        "baselines stay fp32",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile 'ours'")
    p.add_argument(
        "--ablate", action="store_true", help="also time the fast path one step at a time"
    )
    p.add_argument(
        "--no-tune-allocator",
        action="store_true",
        help="leave glibc malloc at its defaults (the tuning is process-wide)",
    )
    p.add_argument("--only", nargs="+", metavar="WORD", help="only cases whose name has WORD")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from mrstnet.engine.bench import format_table, run_bench
    from mrstnet.engine.distributed import device_of

    device_of(args.device)  # a bad --device: the CLI's one-line user error
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_bench(
        rounds=args.rounds,
        warmup=args.warmup,
        quick=args.quick,
        device=args.device,
        dtype=args.dtype,
        compile=args.compile,
        ablate=args.ablate,
        tune_allocator=not args.no_tune_allocator,
        only=args.only,
    )
    print(format_table(result))
    for path, text in (
        (args.json, json.dumps(result, indent=1) + "\n"),
        (args.markdown, format_table(result, markdown=True) + "\n"),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
            print(f"wrote {path}")
    return 0
