"""Is a Table 2 backbone's head dead? For each checkpoint of a `c3d*` model: how many fc6 and
fc7 units are positive for at least one of N test clips, and how much the logits vary
between clips (zero: the network gives one answer whatever it sees). Findings:
docs/ablation.md "Why the MRSTs stalled".

    python benchmarks/dead_head.py ROOT RUN_DIR/best.pt [...] [--clips 32] [--json OUT]

ROOT is the ablation's data (OUT/data of `mrstnet ablate`); each checkpoint is read with
its own clip geometry and run in eval mode.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mrstnet.data import build_dataset, normalize  # noqa: E402
from mrstnet.engine.checkpoint import clip_spec_of, load_checkpoint  # noqa: E402
from mrstnet.models import model_from_config  # noqa: E402


def probe(ckpt_path: Path, root: Path, clips: int) -> dict:
    ckpt = load_checkpoint(ckpt_path)
    model = model_from_config(ckpt["model"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    if not hasattr(model, "fc6"):
        raise SystemExit(f"{ckpt_path}: not a Table 2 backbone (no fc6)")
    ds = build_dataset("ucf101", root, clip_spec_of(ckpt), subset="test", train=False)
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:clips]
    x = normalize(torch.stack([ds[int(i)]["video"] for i in order]))
    # the model's own forward; hooks keep what fc6 reads and what its and fc7's ReLU see
    seen = {}
    for name in ("pool", "norm6", "norm7"):
        getattr(model, name).register_forward_hook(lambda m, i, o, n=name: seen.update({n: o}))
    with torch.no_grad():
        logits = model(x)
    f, h6, h7 = seen["pool"].flatten(1), seen["norm6"], seen["norm7"]
    return {
        "checkpoint": str(ckpt_path),
        "model": ckpt["model"].get("unit"),
        "fc_norm": bool(ckpt["model"].get("fc_norm", False)),
        "clips": len(order),
        "fc6_alive": int((h6 > 0).any(0).sum()),
        "fc7_alive": int((h7 > 0).any(0).sum()),
        "fc_units": h6.shape[1],
        "features_std_between_clips": round(float(f.std(0).mean()), 4),
        "logits_std_between_clips": round(float(logits.std(0).mean()), 6),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = [probe(c, args.root, args.clips) for c in args.checkpoints]
    for r in rows:
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
