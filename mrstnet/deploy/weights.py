"""Shipped weights: ``mrstnet/weights/demo.pt``, and how a training run becomes such a file.

A shipped file is a checkpoint reduced to what inference reads: ``model`` (the
model_config dict), ``state_dict``, ``classes`` and ``data`` (the ClipSpec), plus
``source`` (where it came from). Optimizer, scheduler, RNG and preset are dropped, so
it is small (the demo's mrst_t_net_small is about 1 MB) and loads with weights_only.
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEMO = WEIGHTS_DIR / "demo.pt"
KEEP = ("model", "state_dict", "classes", "data")
MAX_BYTES = 8 * 2**20  # package data should stay a few MB


def demo_checkpoint() -> Path:
    """The shipped demo weights; a clear error when this install has none."""
    if not DEMO.is_file():
        raise FileNotFoundError(
            f"no shipped demo weights at {DEMO}: give --checkpoint, or make them from a demo "
            "run with `python scripts/make_demo_weights.py RUN_DIR/best.pt`"
        )
    return DEMO


def slim_checkpoint(ckpt: dict) -> dict:
    """The inference part of a training checkpoint (see the module docstring)."""
    from mrstnet.engine.checkpoint import clip_spec_of

    missing = [k for k in KEEP if ckpt.get(k) is None]
    if missing:
        raise ValueError(f"checkpoint lacks {', '.join(missing)}: not made by mrstnet train")
    # a fresh contiguous copy: a saved view would drag its whole storage into the file
    state = {k: v.detach().clone().contiguous() for k, v in ckpt["state_dict"].items()}
    return {
        "model": dict(ckpt["model"]),
        "state_dict": state,
        "classes": list(ckpt["classes"]),
        "data": clip_spec_of(ckpt).to_dict(),
    }


def make_demo_weights(
    checkpoint: str | os.PathLike, out: str | os.PathLike = DEMO, *, source: str | None = None
) -> Path:
    """Write :func:`slim_checkpoint` of ``checkpoint`` (e.g. RUN_DIR/best.pt) to ``out``."""
    from mrstnet.engine.checkpoint import (
        build_model_from_checkpoint,
        load_checkpoint,
        save_checkpoint,
    )

    slim = slim_checkpoint(load_checkpoint(checkpoint))
    build_model_from_checkpoint(slim)  # refuse to ship a file that does not rebuild
    slim["source"] = source or Path(checkpoint).name
    path = save_checkpoint(out, slim)
    size = path.stat().st_size
    if size > MAX_BYTES:
        path.unlink()
        raise ValueError(
            f"{size / 2**20:.1f} MB is too large to ship as package data "
            f"(limit {MAX_BYTES / 2**20:.0f} MB): use a smaller model"
        )
    return path


def weights_info(path: str | os.PathLike = DEMO) -> dict:
    """What a shipped file holds, for a log line or a test."""
    from mrstnet.engine.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    n = sum(v.numel() for v in ckpt["state_dict"].values())
    return {
        "arch": ckpt["model"]["arch"],
        "unit": ckpt["model"].get("unit"),
        "classes": len(ckpt["classes"]),
        "tensors_numel": n,
        "data": ckpt["data"],
        "bytes": Path(path).stat().st_size,
    }
