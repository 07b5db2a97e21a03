"""What every command that runs a checkpoint on videos shares (predict, timeline, watch):
its options, and loading the model once through `engine.inference.load_predictor`.

Not a command itself: the CLI skips modules whose name starts with an underscore.
"""

from __future__ import annotations

import argparse
import sys


def add_predictor_args(p: argparse.ArgumentParser) -> None:
    """--checkpoint (default: the shipped demo weights), --threads, --device, --no-amp."""
    p.add_argument(
        "--checkpoint",
        metavar="CKPT",
        help="default: the shipped demo weights (mrstnet/weights/demo.pt)",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch threads for the model (default: torch's less one, for decoding)",
    )
    p.add_argument("--device")
    p.add_argument(
        "--no-amp", action="store_true", help="fp32 even where bf16 pays (CUDA, AMX CPUs)"
    )


def open_predictor(args: argparse.Namespace, *, note=None):
    """The model of ``args.checkpoint`` (or the shipped demo weights, said through ``note``,
    stdout by default) ready for inference, with the model's torch threads set."""
    from mrstnet.deploy.weights import demo_checkpoint
    from mrstnet.engine.inference import load_predictor, set_model_threads

    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = demo_checkpoint()  # FileNotFoundError (exit 2) when not shipped
        (note or print)(f"using the shipped demo weights {checkpoint}")
    set_model_threads(args.threads)
    return load_predictor(checkpoint, device=args.device, amp=not args.no_amp)


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr)
