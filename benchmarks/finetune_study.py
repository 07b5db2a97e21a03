"""Pre-train -> fine-tune in miniature on `mrstnet synth --kind humans` sets, against training
the same small target from scratch with the same step budget (docs/training.md "Pre-train,
then fine-tune"). Run by hand, stage by stage or all at once:

    python benchmarks/finetune_study.py data       # the two small targets
    python benchmarks/finetune_study.py pretrain   # `mrstnet pretrain humans`, then tested
    python benchmarks/finetune_study.py runs --target seen unseen --arms scratch finetune_aug
    python benchmarks/finetune_study.py report     # results/finetune.{json,md}, the curves
    python benchmarks/finetune_study.py all --smoke   # every stage, tiny, in about 2 minutes

Every step is the documented command sequence, run as `mrstnet` subprocesses: `synth`,
`pretrain humans`, `train --preset ... [--init PRETRAINED]`, `test --clips 3` on the last
checkpoint (no checkpoint is picked on the test videos). The pre-training set is
`mrstnet pretrain humans`'s (mrstnet.engine.pretrained.RECIPES: 10 actions x 360 videos,
seed 1000); target `seen`: 8 of those actions, 45 videos a class (30 to train on, 15 to
test; seed 2000); target `unseen`: the 8 actions the pre-training left out (seed 3000). An
arm is a recipe (ARMS: from scratch or fine-tuned, with or without the augmentations, or
fine-tuned leaving one out); each (target, arm, seed) is one run. All arms train the same
number of steps on a cosine schedule, without patience or time budget, so that an arm pair
differs in one thing; they validate on the test list every few steps for the learning
curve only (nothing is chosen by it: the figure is last.pt's).

Resumable: every finished run is one JSON line in WORK/runs.jsonl (with its curve), written
as it ends; a run already there is skipped unless --again. `report` reads it and writes
RESULTS/finetune.json (summary and runs) and finetune.md: video top-1 per arm as mean ±
95% t-interval over seeds, and the gains (pre-training, the augmentations, each left out) as
paired differences by seed with their intervals (mrstnet.engine.stats). Timing per run:
CPU seconds of the training process and its loader workers (getrusage), wall seconds and
seconds per step, with the load average at its start, since the machine may be shared.

--smoke: a tiny network (width x1/8, 8-frame 32-pixel clips), tiny sets, 3 arms, 2 steps, 2 seeds,
under WORK=/tmp/mrstnet-finetune-smoke with its results there too: it proves the stages
run end to end, and its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.cli_run import run_mrstnet as mrstnet  # noqa: E402
from mrstnet.data.humans import CLASSES  # noqa: E402
from mrstnet.engine import stats  # noqa: E402
from mrstnet.engine.hardware import cpu_words, onednn_isa  # noqa: E402
from mrstnet.engine.pretrained import recipe  # noqa: E402

PRETRAIN = recipe("humans")
TARGETS = {
    "seen": {"actions": list(PRETRAIN.actions[:8]), "videos_per_class": 45, "seed": 2000},
    "unseen": {
        "actions": [c for c in CLASSES if c not in PRETRAIN.actions],
        "videos_per_class": 45,
        "seed": 3000,
    },
}
VIDEO = {"frames": PRETRAIN.frames, "size": PRETRAIN.size, "difficulty": PRETRAIN.difficulty}

# the augmentations of `humans_finetune` off, and each left out
AUG_OFF = ["rrc_scale=null", "color_jitter=[0,0,0,0]", "erase_p=0", "mixup_alpha=0"]
AUG_OFF += ["cutmix_alpha=0"]
LEAVE_OUT = {
    "rrc": ["rrc_scale=null"],
    "color": ["color_jitter=[0,0,0,0]"],
    "erase": ["erase_p=0"],
    "mix": ["mixup_alpha=0", "cutmix_alpha=0"],
}
# arm -> (preset, fine-tuned from the pre-trained weights, --set pairs; None: the
# fine-tuning preset's augmentations, so that scratch_aug differs from finetune_aug only in
# the start and the optimiser)
ARMS = {
    "scratch": ("humans_pretrain", False, AUG_OFF),
    "scratch_aug": ("humans_pretrain", False, None),
    "finetune": ("humans_finetune", True, AUG_OFF),
    "finetune_aug": ("humans_finetune", True, []),
    **{f"finetune_aug-{k}": ("humans_finetune", True, v) for k, v in LEAVE_OUT.items()},
}
MAIN_ARMS = ["scratch", "scratch_aug", "finetune", "finetune_aug"]
# the same budget for every arm, no early end, no choice made on the test videos
FIXED = ["schedule=cosine", "patience=0", "time_budget=0", "val_every=0", "val_clips=1"]

# --smoke: the tiny network of the test suite, tiny sets
SMOKE_SETS = [
    "model_args={width_mult: 0.125, depths: [1, 1, 1, 1, 1], head: avg}",
    "frames=8",
    "short_side=40",
    "crop_size=32",
    "batch_size=4",
    "num_workers=0",
    "threads=1",
    "log_every=1",
]
SMOKE = {"videos_per_class": 9, "steps": 2, "val_every_steps": 1, "seeds": [0, 1]}


def aug_on() -> list[str]:
    """The fine-tuning preset's augmentation keys as --set pairs."""
    from mrstnet.engine.config import build_config

    keys = build_config("humans_finetune").augment.to_dict()
    return [f"{k}={json.dumps(v)}" for k, v in keys.items()]


# -- the record ----------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSONL file; a run recorded twice: its last row."""
    if not path.exists():
        return []
    rows: dict[tuple, dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[(r["target"], r["arm"], r["seed"], r["steps"])] = r
    return list(rows.values())


def append_jsonl(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]


def curves(lines: list[dict]) -> dict:
    train = [x for x in lines if x["kind"] == "train"]
    val = [x for x in lines if x["kind"] == "val"]
    return {
        "step": [x["step"] for x in train],
        "loss": [round(x["loss"], 4) for x in train],
        "acc": [round(x["acc"], 4) for x in train],
        "val_step": [x["step"] for x in val],
        "val_top1": [round(x["val_top1"], 4) for x in val],
        "val_loss": [round(x["val_loss"], 4) for x in val],
    }


def seconds_per_step(lines: list[dict], batch: int) -> float | None:
    """The median of the logged windows' seconds per step (data wait included)."""
    rates = [x["clips_per_s"] for x in lines if x["kind"] == "train" and x.get("clips_per_s")]
    return round(batch / statistics.median(rates), 3) if rates else None


def steps_done(lines: list[dict]) -> int:
    return next(x["step"] for x in reversed(lines) if x["kind"] == "stop")


def test(run_dir: Path, root: Path, clips: int = 3) -> dict:
    report = run_dir / "test.json"
    args = ["test", "--checkpoint", str(run_dir / "last.pt"), "--dataset", "ucf101"]
    args += ["--root", str(root), "--clips", str(clips), "--workers", "1", "--no-progress"]
    timing = mrstnet(*args, "--json", str(report), log=run_dir / "test.log")
    m = json.loads(report.read_text())
    return {"top1": m["top1"], "mean_class_acc": m["mean_class_acc"], "test": timing}


# -- stages ---------------------------------------------------------------------------------
def stage_data(args) -> None:
    for name, s in TARGETS.items():
        root = args.work / "data" / name
        if (root / "ucfTrainTestlist").exists():
            print(f"{root}: there")
            continue
        n = SMOKE["videos_per_class"] if args.smoke else s["videos_per_class"]
        actions = s["actions"][:2] if args.smoke else s["actions"]
        t = mrstnet(
            "synth",
            str(root),
            "--kind",
            "humans",
            "--actions",
            ",".join(actions),
            "--videos-per-class",
            str(n),
            "--frames",
            str(VIDEO["frames"]),
            "--size",
            str(VIDEO["size"]),
            "--difficulty",
            VIDEO["difficulty"],
            "--seed",
            str(s["seed"]),
        )
        print(f"{root}: written in {t['wall_seconds']} s")


def pretrained_path(args) -> Path:
    return args.work / "pretrain" / "humans.pt"


def stage_pretrain(args) -> None:
    """`mrstnet pretrain humans` into WORK/pretrain (the weights to WORK/pretrain/humans.pt),
    then the run's last.pt tested on the pre-training set's own test videos."""
    record = args.work / "pretrain.json"
    if record.exists() and not args.again:
        print(f"pre-training is there ({record}; --again to redo it)")
        return
    work = args.work / "pretrain"
    work.mkdir(parents=True, exist_ok=True)
    extra = [*SMOKE_SETS, f"max_steps={SMOKE['steps']}"] if args.smoke else []
    extra += [f"max_steps={args.pretrain_steps}"] if args.pretrain_steps else []
    load = os.getloadavg()[0]
    cmd = ["pretrain", "humans", "--work", str(work), "--to", str(pretrained_path(args))]
    cmd += ["--no-progress", *(["--videos-per-class", "9"] if args.smoke else [])]
    timing = mrstnet(*cmd, *(["--set", *extra] if extra else []), log=work / "pretrain.log")
    run_dir = work / "run"
    lines = read_log(run_dir)
    stop = next(x for x in reversed(lines) if x["kind"] == "stop")
    entry = {
        "set": {
            "actions": list(PRETRAIN.actions),
            "videos_per_class": 9 if args.smoke else PRETRAIN.videos_per_class,
            "seed": PRETRAIN.seed,
            **VIDEO,
        },
        "preset": PRETRAIN.preset,
        "overrides": extra,
        "steps": stop["step"],
        "stopped": stop["stopped"],
        "best_step": stop["best_step"],
        **timing,
        "seconds_per_step": seconds_per_step(lines, 4 if args.smoke else 16),
        "cpu_seconds_per_step": round(timing["cpu_seconds"] / max(stop["step"], 1), 3),
        "load_avg_at_start": round(load, 2),
        **test(run_dir, work / "data", clips=1),
        "curves": curves(lines),
        "weights": str(pretrained_path(args)),
    }
    record.write_text(json.dumps(entry, indent=1) + "\n")
    print(json.dumps({k: v for k, v in entry.items() if k != "curves"}))


def stage_runs(args) -> None:
    path = args.work / "runs.jsonl"
    for target in args.target:
        root = args.work / "data" / target
        for arm in args.arms:
            for seed in args.seeds:
                key = {"target": target, "arm": arm, "seed": seed, "steps": args.steps}
                done = [r for r in read_jsonl(path) if all(r[k] == v for k, v in key.items())]
                if done and not args.again:
                    print(f"there: {key}")
                    continue
                row = one_run(args, root, key)
                append_jsonl(path, row)
                print(json.dumps({k: v for k, v in row.items() if k != "curves"}), flush=True)


def one_run(args, root: Path, key: dict) -> dict:
    preset, fine_tune, extra = ARMS[key["arm"]]
    extra = aug_on() if extra is None else extra
    pretrained = pretrained_path(args)
    if fine_tune and not pretrained.is_file():
        raise SystemExit(f"no pre-trained weights at {pretrained}: run the pretrain stage")
    run_dir = args.work / "runs" / key["target"] / f"{key['arm']}_s{key['seed']}"
    run_dir.mkdir(parents=True, exist_ok=True)
    sets = [*(SMOKE_SETS if args.smoke else []), *FIXED, f"seed={key['seed']}"]
    sets += [f"max_steps={key['steps']}", f"val_every_steps={args.val_every_steps}", *extra]
    load = os.getloadavg()[0]
    timing = mrstnet(
        "train",
        "--dataset",
        "ucf101",
        "--root",
        str(root),
        "--preset",
        preset,
        "--out",
        str(run_dir),
        "--overwrite",
        "--no-progress",
        *(["--init", str(pretrained)] if fine_tune else []),
        "--set",
        *sets,
        log=run_dir / "train.log",
    )
    lines = read_log(run_dir)
    steps = steps_done(lines)
    return {
        **key,
        "preset": preset,
        "init": str(pretrained) if fine_tune else None,
        "overrides": sets,
        **timing,
        "seconds_per_step": seconds_per_step(lines, 4 if args.smoke else 16),
        "cpu_seconds_per_step": round(timing["cpu_seconds"] / max(steps, 1), 3),
        "load_avg_at_start": round(load, 2),
        **test(run_dir, root),
        "curves": curves(lines),
    }


# -- report ---------------------------------------------------------------------------------
def by_seed(runs: list[dict], target: str, arm: str, steps: int) -> dict[int, float]:
    return {
        r["seed"]: r["top1"]
        for r in runs
        if (r["target"], r["arm"], r["steps"]) == (target, arm, steps)
    }


# (what, arm, against): the gains reported, each a paired difference over seeds
GAINS = [
    ("pre-training, no augmentation", "finetune", "scratch"),
    ("pre-training, with augmentation", "finetune_aug", "scratch_aug"),
    ("augmentation, from scratch", "scratch_aug", "scratch"),
    ("augmentation, fine-tuned", "finetune_aug", "finetune"),
    *[(f"{k} (fine-tuned, leave-one-out)", "finetune_aug", f"finetune_aug-{k}") for k in LEAVE_OUT],
]


def _mean(rs: list[dict], key: str) -> float | None:
    xs = [r[key] for r in rs if r.get(key) is not None]
    return round(statistics.fmean(xs), 3) if xs else None


def summarise(runs: list[dict]) -> dict:
    groups = sorted({(r["target"], r["arm"], r["steps"]) for r in runs})
    table = []
    for target, arm, steps in groups:
        rs = sorted(
            (r for r in runs if (r["target"], r["arm"], r["steps"]) == (target, arm, steps)),
            key=lambda r: r["seed"],
        )
        ci = stats.mean_ci([r["top1"] for r in rs])
        table.append(
            {
                "target": target,
                "arm": arm,
                "steps": steps,
                "seeds": [r["seed"] for r in rs],
                "top1": [r["top1"] for r in rs],
                "top1_mean": ci["mean"],
                "top1_ci95": ci["half"],
                "cpu_seconds_mean": _mean(rs, "cpu_seconds"),
                "seconds_per_step_mean": _mean(rs, "seconds_per_step"),
                "cpu_seconds_per_step_mean": _mean(rs, "cpu_seconds_per_step"),
            }
        )
    gains = []
    for target, steps in sorted({(t, s) for t, _, s in groups}):
        for what, arm, against in GAINS:
            a, b = by_seed(runs, target, arm, steps), by_seed(runs, target, against, steps)
            gains += gain_row(a, b, target=target, steps=steps, gain=what, arm=arm, against=against)
    gains += longer_scratch(runs)
    return {"table": table, "gains": gains}


def gain_row(a: dict[int, float], b: dict[int, float], **what) -> list[dict]:
    """[a - b paired by the seeds both have, with its interval and tests], or [] if none."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return []
    p = stats.paired([a[s] for s in seeds], [b[s] for s in seeds])
    return [
        {
            **what,
            "seeds": seeds,
            "diff_mean": p["mean"],
            "diff_ci95": p["half"],
            "p_t": p["p_t"],
            "sign": p["sign"],
        }
    ]


def longer_scratch(runs: list[dict]) -> list[dict]:
    """Fine-tuned (with augmentation) against from scratch (with augmentation) given more
    steps than it: does pre-training beat a longer training, paired by seed?"""
    out = []
    for target in sorted({r["target"] for r in runs}):
        ft = [r for r in runs if (r["target"], r["arm"]) == (target, "finetune_aug")]
        if not ft:
            continue
        short = min(r["steps"] for r in ft)
        a = by_seed(runs, target, "finetune_aug", short)
        longer = {r["steps"] for r in runs if (r["target"], r["arm"]) == (target, "scratch_aug")}
        for steps in sorted(x for x in longer if x > short):
            out += gain_row(
                a,
                by_seed(runs, target, "scratch_aug", steps),
                target=target,
                steps=short,
                gain=f"pre-training against {steps // short}x the steps from scratch",
                arm="finetune_aug",
                against=f"scratch_aug ({steps} steps)",
            )
    return out


def pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}"


def markdown(results: dict) -> str:
    s = results["summary"]
    pre = results.get("pretrain")
    out = [
        "# Pre-train -> fine-tune in miniature (benchmarks/finetune_study.py)",
        "",
        f"CPU: {results['cpu']}; difficulty {VIDEO['difficulty']}; torch {results['torch']}"
        + (
            "; **smoke run: tiny network and sets, the figures mean nothing**"
            if results["smoke"]
            else ""
        )
        + ". Video top-1 of the last checkpoint on the target's held-out test videos, 3 clips "
        "a video; mean over seeds ± the 95% t-interval's half-width (n/a with one seed). "
        "s/step: the median of the logged windows (data wait included); CPU s/step: the "
        "training process's CPU seconds, start-up included, per step. The machine may be "
        "shared: each run's load average at its start is in finetune.json.",
        "",
    ]
    if pre:
        out += [
            "## Pre-training (`mrstnet pretrain humans`)",
            "",
            f"{len(pre['set']['actions'])} actions x {pre['set']['videos_per_class']} videos "
            f"(seed {pre['set']['seed']}), `{pre['preset']}`, {pre['steps']} steps "
            f"(stopped: {pre['stopped']}, best.pt = step {pre['best_step']}): "
            f"{pre['cpu_seconds'] / 60:.1f} CPU min, {pre['wall_seconds'] / 60:.1f} min wall, "
            f"{pre['seconds_per_step'] or float('nan'):.2f} s/step; last.pt's top-1 on its own "
            f"test videos (1 clip) {pct(pre['top1'])}%.",
            "",
        ]
    out += [
        "## Video top-1 by recipe",
        "",
        "| target | recipe | steps | top-1 % by seed | mean ± 95% CI | CPU min | s/step "
        "| CPU s/step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in s["table"]:
        each = ", ".join(pct(x) for x in r["top1"])
        cpu = r["cpu_seconds_mean"]
        sps, cps = r["seconds_per_step_mean"], r["cpu_seconds_per_step_mean"]
        out.append(
            f"| {r['target']} | {r['arm']} | {r['steps']} | {each} | "
            f"{pct(r['top1_mean'])} ± {pct(r['top1_ci95'])} | "
            f"{'n/a' if cpu is None else f'{cpu / 60:.1f}'} | "
            f"{'n/a' if sps is None else f'{sps:.2f}'} | {'n/a' if cps is None else f'{cps:.2f}'} |"
        )
    out += [
        "",
        "## Gains (paired by seed, percentage points)",
        "",
        "| target | gain of | recipe - against | diff ± 95% CI | paired t p | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for g in s["gains"]:
        p = "n/a" if g["p_t"] is None else f"{g['p_t']:.3f}"
        out.append(
            f"| {g['target']} | {g['gain']} | {g['arm']} - {g['against']} | "
            f"{pct(g['diff_mean'])} ± {pct(g['diff_ci95'])} | {p} | {len(g['seeds'])} |"
        )
    return "\n".join(out) + "\n"


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({r["target"] for r in runs})
    fig, axes = plt.subplots(2, len(targets), figsize=(5 * len(targets), 6), squeeze=False)
    for col, target in enumerate(targets):
        for arm in MAIN_ARMS:
            rs = [r for r in runs if r["target"] == target and r["arm"] == arm]
            if not rs:
                continue
            steps = max(r["steps"] for r in rs)
            rs = [r for r in rs if r["steps"] == steps]
            c0 = rs[0]["curves"]
            n = min(len(r["curves"]["val_top1"]) for r in rs)
            val = [statistics.fmean(r["curves"]["val_top1"][i] for r in rs) for i in range(n)]
            axes[0, col].plot(
                c0["val_step"][:n], val, marker="o", ms=3, label=f"{arm} ({steps} steps)"
            )
            m = min(len(r["curves"]["loss"]) for r in rs)
            loss = [statistics.fmean(r["curves"]["loss"][i] for r in rs) for i in range(m)]
            axes[1, col].plot(c0["step"][:m], loss, label=arm)
        axes[0, col].set_title(f"target {target}: test top-1 (1 clip), mean of seeds", fontsize=9)
        axes[0, col].set_ylim(0, 1)
        axes[1, col].set_title("training loss (augmented, mixed clips)", fontsize=9)
        axes[1, col].set_xlabel("step")
        axes[0, col].legend(fontsize=7)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def stage_report(args) -> None:
    runs = read_jsonl(args.work / "runs.jsonl")
    pre = args.work / "pretrain.json"
    results = {
        "cpu": f"{cpu_words()}; oneDNN: {onednn_isa()}",
        "torch": torch.__version__,
        "smoke": args.smoke,
        "video": VIDEO,
        "targets": TARGETS,
        "pretrain": json.loads(pre.read_text()) if pre.exists() else None,
        "summary": summarise(runs),
        "runs": sorted(runs, key=lambda r: (r["target"], r["arm"], r["steps"], r["seed"])),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "finetune.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.results / "finetune.md").write_text(markdown(results))
    if runs:
        plot(runs, args.results / "finetune_curves.png")
    print((args.results / "finetune.md").read_text())


STAGES = {"data": stage_data, "pretrain": stage_pretrain, "runs": stage_runs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stage", choices=(*STAGES, "report", "all"))
    p.add_argument("--work", type=Path, help="default /tmp/mrstnet-finetune[-smoke]")
    p.add_argument("--results", type=Path, help="default benchmarks/results (smoke: WORK)")
    p.add_argument("--target", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    p.add_argument("--arms", nargs="+", default=MAIN_ARMS, choices=list(ARMS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=300, help="training steps per run (300: 20 epochs)")
    p.add_argument("--val-every-steps", type=int, default=30, help="the learning curve's points")
    p.add_argument("--pretrain-steps", type=int, help="a cap on pre-training's steps")
    p.add_argument("--again", action="store_true", help="redo runs already recorded")
    p.add_argument("--smoke", action="store_true", help="tiny everything: do the stages run?")
    args = p.parse_args(argv)
    if args.smoke:
        args.seeds = SMOKE["seeds"] if args.seeds == [0, 1, 2] else args.seeds
        args.steps, args.val_every_steps = SMOKE["steps"], SMOKE["val_every_steps"]
        # two gains (pre-training; augmentation when fine-tuned) on both targets
        args.arms = ["scratch", "finetune", "finetune_aug"] if args.arms == MAIN_ARMS else args.arms
    args.work = args.work or Path(f"/tmp/mrstnet-finetune{'-smoke' if args.smoke else ''}")
    args.results = args.results or (args.work if args.smoke else ROOT / "benchmarks" / "results")
    for stage in (*STAGES, "report") if args.stage == "all" else (args.stage,):
        {**STAGES, "report": stage_report}[stage](args)


if __name__ == "__main__":
    main()
