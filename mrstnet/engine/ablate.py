"""Table 2 on the synthetic set: the six units in the same backbone, same budget, 3 seeds.

The paper's numbers are Kinetics-pre-trained C3D-sized models on UCF-101 / HMDB51; ours
are narrow models trained from scratch on motion-pair synthetic videos. They answer a
smaller question (does the unit help the temporal path at equal budget?) and are shown
beside the paper's, not as a reproduction of them.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

# torch, numpy and the runner are imported where they are used: `mrstnet --help` reads
# UNITS, and must start without them
UNITS = ("c3d", "std", "std_stf", "mrst_p", "mrst_s", "mrst_t")
MODEL = {"c3d": "c3d", **{u: f"c3d_{u}" for u in UNITS[1:]}}
LABEL = {
    "c3d": "C3D",
    "std": "STD",
    "std_stf": "STD+STF",
    "mrst_p": "MRST-P",
    "mrst_s": "MRST-S",
    "mrst_t": "MRST-T",
}
# Table 2 of the paper: top-1 UCF101, HMDB51, size (MB)
PAPER = {
    "c3d": (85.3, 58.5, 321),
    "std": (86.9, 60.8, 209),
    "std_stf": (88.8, 63.8, 213),
    "mrst_p": (91.2, 67.2, 211),
    "mrst_s": (90.8, 66.4, 211),
    "mrst_t": (92.2, 68.9, 211),
}


def run_ablation(
    out: str | Path,
    *,
    root=None,
    seeds=(0, 1, 2),
    units=UNITS,
    preset: str = "ablation",
    sets: list[str] | None = None,
    test_clips: int = 3,
    videos_per_class: int = 150,
    progress: bool = False,
    log=print,
) -> dict:
    from .config import build_config
    from .runner import test_run, train_run

    out = Path(out)
    if root is None:
        from mrstnet.data import write_synthetic

        root = out / "data"
        if not (root / "ucfTrainTestlist").exists():
            log(f"writing the synthetic set to {root} ...")
            from .demo import SYNTH

            synth = {**SYNTH, "videos_per_class": videos_per_class}
            root = write_synthetic(root, seed=0, **synth)
    results: dict[str, list[dict]] = {u: [] for u in units}
    for seed in seeds:
        for unit in units:
            run_dir = out / "runs" / f"{unit}_seed{seed}"
            done = run_dir / "result.json"
            if done.exists():  # finished earlier: ablate is resumable run by run
                results[unit].append(json.loads(done.read_text()))
                continue
            cfg = build_config(preset, sets, model=MODEL[unit], seed=seed)
            t0 = time.perf_counter()
            summary = train_run(
                cfg,
                dataset="ucf101",
                root=root,
                out=run_dir,
                resume=True,  # a run stopped half-way continues from its last.pt
                device="cpu",
                progress=progress,
                log=lambda *a: None,
            )
            test = partial(
                test_run,
                run_dir / "best.pt",
                dataset="ucf101",
                root=root,
                clips=test_clips,
                num_workers=cfg.num_workers,
                device="cpu",
                progress=progress,
                log=lambda *a: None,
            )
            m, shuffled = test(), test(shuffle_frames=True)
            r = {
                "unit": unit,
                "seed": seed,
                "top1": m["top1"],
                "clip_top1": m["clip_top1"],
                "shuffled_top1": shuffled["top1"],
                "train_loss": summary.get("loss"),
                "steps": summary["steps"],
                "seconds": round(time.perf_counter() - t0, 1),
                "params": _params(run_dir / "best.pt"),
            }
            done.write_text(json.dumps(r) + "\n")
            results[unit].append(r)
            log(
                f"{LABEL[unit]:8s} seed {seed}: top1 {r['top1']:.3f}  shuffled "
                f"{r['shuffled_top1']:.3f}  ({r['seconds']:.0f} s)"
            )
    table = summarize(results, build_config(preset, sets))
    (out / "ablation.json").write_text(json.dumps(table, indent=1) + "\n")
    (out / "ablation.md").write_text(table["markdown"] + "\n")
    log(table["markdown"])
    return table


def _params(path: Path) -> int:
    from .checkpoint import load_checkpoint

    return int(
        sum(
            t.numel() for t in load_checkpoint(path)["state_dict"].values() if t.is_floating_point()
        )
    )


def summarize(results: dict[str, list[dict]], cfg) -> dict:
    import numpy as np

    rows = []
    lines = [
        f"Synthetic motion pairs, {cfg.frames}×{cfg.crop_size}×{cfg.crop_size} clips, "
        f"{cfg.max_steps or cfg.epochs} {'steps' if cfg.max_steps else 'epochs'} of batch "
        f"{cfg.batch_size}, backbone {cfg.model_args}; mean ± std over seeds.",
        "",
        "| unit | ours top-1 (%) | ours shuffled-frames top-1 (%) | params | seeds "
        "| paper UCF101 | paper HMDB51 | paper size MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for unit, rs in results.items():
        if not rs:
            continue
        top1 = np.array([r["top1"] for r in rs]) * 100
        shuf = np.array([r["shuffled_top1"] for r in rs]) * 100
        row = {
            "unit": unit,
            "top1_mean": float(top1.mean()),
            "top1_std": float(top1.std()),
            "shuffled_mean": float(shuf.mean()),
            "shuffled_std": float(shuf.std()),
            "params": rs[0]["params"],
            "seeds": len(rs),
            "paper": PAPER[unit],
            "runs": rs,
        }
        rows.append(row)
        p = PAPER[unit]
        lines.append(
            f"| {LABEL[unit]} | {top1.mean():.1f} ± {top1.std():.1f} | "
            f"{shuf.mean():.1f} ± {shuf.std():.1f} | {row['params'] / 1e6:.2f}M | "
            f"{len(rs)} | {p[0]} | {p[1]} | {p[2]} |"
        )
    return {"rows": rows, "markdown": "\n".join(lines)}
