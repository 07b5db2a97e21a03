"""Table 2 on the synthetic set: every unit in the same backbone, same budget, 3 seeds.

The units, their labels and the paper's Table 2 figures come from the unit table
(``mrstnet.models.units``): the paper's six, and any unit registered there.

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

from mrstnet.models import UNITS, list_models


def model_for(unit: str) -> tuple[str, list[str]]:
    """The Table 2 backbone with ``unit``: its registered name (``c3d_mrst_t``) and no extra
    settings, or, for a unit without one, ``c3d`` with ``model_args.unit`` set."""
    name = "c3d" if unit == "c3d" else f"c3d_{unit}"
    return (name, []) if name in list_models() else ("c3d", [f"model_args.unit={unit}"])


def run_ablation(
    out: str | Path,
    *,
    root=None,
    seeds=(0, 1, 2),
    units=None,
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
    units = list(units or UNITS)
    unknown = [u for u in units if u not in UNITS]
    if unknown:
        raise ValueError(f"unknown unit(s) {', '.join(unknown)}; choose from {', '.join(UNITS)}")
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
            model, extra = model_for(unit)
            cfg = build_config(preset, [*(sets or []), *extra], model=model, seed=seed)
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
                f"{UNITS[unit].label:8s} seed {seed}: top1 {r['top1']:.3f}  shuffled "
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

    rows, clip = [], cfg.clip
    lines = [
        f"Synthetic motion pairs, {clip.frames}×{clip.crop_size}×{clip.crop_size} clips, "
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
            "paper": UNITS[unit].table2,  # None for a unit that is not in the paper
            "runs": rs,
        }
        rows.append(row)
        p = UNITS[unit].table2 or ("–",) * 3
        lines.append(
            f"| {UNITS[unit].label} | {top1.mean():.1f} ± {top1.std():.1f} | "
            f"{shuf.mean():.1f} ± {shuf.std():.1f} | {row['params'] / 1e6:.2f}M | "
            f"{len(rs)} | {p[0]} | {p[1]} | {p[2]} |"
        )
    return {"rows": rows, "markdown": "\n".join(lines)}
