"""What bf16 inference costs in accuracy: scores of `mrstnet.optimize(dtype="bf16")` beside
fp32 (the original model) on a test set, run by hand.

    python benchmarks/bf16_accuracy.py RUN/best.pt DATA_ROOT [--clips 4] [--out FILE]
    python benchmarks/bf16_accuracy.py demo --synthetic 60 [--clips 3] [--out FILE]

`demo` is the shipped checkpoint (mrstnet/weights/demo.pt, trained on the synthetic motion
set); `--synthetic N` writes a fresh synthetic set (N videos per class, the demo's classes
and geometry, another seed than the demo trained on) and tests on its test split.

Without a checkpoint (`-` as RUN/best.pt) the demo model gets random weights and random
clips (a weaker check: near-uniform scores). Reports the largest and mean absolute
difference of the clip softmax scores, how often the top-1 class agrees, and the video
top-1 of both.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mrstnet.engine.hardware import cpu_name  # noqa: E402
from mrstnet.engine.optimize import optimize  # noqa: E402


def batches(args):
    if args.checkpoint == "-":
        from mrstnet.models import create_model

        torch.manual_seed(0)
        model = create_model("mrst_t_net_small", num_classes=10).eval()
        for i in range(4):
            g = torch.Generator().manual_seed(i)
            yield model, torch.randn(8, 3, 16, 64, 64, generator=g), torch.zeros(8).long(), None
        return
    from mrstnet.data import build_dataset, collate, normalize
    from mrstnet.engine.checkpoint import (
        build_model_from_checkpoint,
        clip_spec_of,
        load_checkpoint,
    )

    path = args.checkpoint
    if path == "demo":
        path = Path(__file__).resolve().parents[1] / "mrstnet" / "weights" / "demo.pt"
    ckpt = load_checkpoint(path)
    model = build_model_from_checkpoint(ckpt)
    spec = clip_spec_of(ckpt).replace(num_clips=args.clips)
    root = args.root
    if args.synthetic:
        import tempfile

        from mrstnet.data import write_synthetic
        from mrstnet.engine.demo import SYNTH

        root = write_synthetic(
            Path(tempfile.mkdtemp(prefix="bf16_synth_")),
            **dict(SYNTH, videos_per_class=args.synthetic),
            seed=args.seed,
        )
    ds = build_dataset("ucf101", root, spec, subset="test", train=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, collate_fn=collate, num_workers=2)
    for b in loader:
        if b is not None and len(b["label"]):
            yield model, normalize(b["video"]), b["label"], b["video_index"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("root", nargs="?")
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--synthetic", type=int, metavar="N", help="fresh synthetic set, N per class")
    p.add_argument("--seed", type=int, default=1, help="of the synthetic set (the demo: 0)")
    p.add_argument("--out")
    args = p.parse_args()
    fast = bf16 = None
    diffs, agree, n = [], 0, 0
    votes: dict[str, dict] = {"fp32": {}, "bf16": {}}
    labels = {}
    for model, x, y, vid in batches(args):
        if fast is None:
            fast, bf16 = optimize(model), optimize(model, dtype="bf16")
        with torch.inference_mode():
            p32 = model(x).softmax(-1)
            p16 = bf16(x).softmax(-1)
            pf = fast(x).softmax(-1)
        assert (pf - p32).abs().max() < 1e-4
        diffs.append((p16 - p32).abs())
        agree += int((p16.argmax(1) == p32.argmax(1)).sum())
        n += len(x)
        if vid is not None:
            for k, probs in (("fp32", p32), ("bf16", p16)):
                for v, pr in zip(vid.tolist(), probs, strict=True):
                    votes[k][v] = votes[k].get(v, 0) + pr
            labels.update(zip(vid.tolist(), y.tolist(), strict=True))
    d = torch.cat(diffs)
    out = {
        "checkpoint": args.checkpoint,
        "data": f"synthetic, {args.synthetic} videos per class, seed {args.seed}"
        if args.synthetic
        else args.root,
        "cpu": cpu_name(),
        "clips": n,
        "max_abs_prob_diff": float(d.max()),
        "mean_abs_prob_diff": float(d.mean()),
        "top1_agreement": agree / n,
    }
    for k, v in votes.items():
        if v:
            hits = sum(int(s.argmax()) == labels[i] for i, s in v.items())
            out[f"video_top1_{k}"] = hits / len(v)
    print(json.dumps(out, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
