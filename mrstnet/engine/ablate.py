"""Table 2 on the human-actions set: every unit trained to convergence, paired seeds.

The protocol (docs/ablation.md):

* data: `mrstnet synth --kind humans --difficulty easy`, 4 classes (two motion-only pairs)
  x 225 videos of 24 frames at 40x40, in the UCF-101 layout; split 1 tests on 3 of its 9
  groups, one training group is held out for validation (mrstnet.data.holdout);
* networks (`family`): `c3d`, the Table 2 backbone (C3D narrowed by the `ablation` preset)
  with the unit in every conv; `mrst_net`, the small MRST-Net (`mrst_t_net_small`) with its
  unit swapped. The units are those of the unit table (models/units.py `UNITS`);
* one recipe for all (the `ablation` preset): the same lr at every step (warm-up, then
  cosine over max_steps), validation every few steps for the curves, best.pt = the lowest
  validation loss, the time budget only a safety net;
* seeds: seed k fixes the data order, the augmentation and the initialisation, the same
  for every unit, so that units are compared pair by pair (engine/stats.py);
* each run's best.pt is tested (3 clips a video) and tested again with frame-shuffled
  clips; its curves and the slope of the last fifth of training are kept.

Each finished run is one JSON line in OUT/results.jsonl, written as it finishes; a
restarted `mrstnet ablate` skips the runs there and resumes a half-trained one from its
last.pt. OUT/protocol.json holds the recipe, so that runs of two recipes never mix.
The tables, with the paper's Table 2 beside them, come from `ablate_report`.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from mrstnet.models import UNITS, list_models

FAMILIES = ("c3d", "mrst_net")
# the data set: the demo's (engine/demo.py SYNTH) at the easy setting
DATA = {"kind": "humans", "difficulty": "easy", "classes": 4, "videos_per_class": 225}
# 40x40: a quarter of the demo's pixels, half the time a run took at 80x80 (the whole table
# still takes longer than 2 hours on 2 cores: docs/ablation.md "Cost")
DATA |= {"frames": 24, "size": 40, "seed": 0}
# keys that may differ between the runs of one ablation (or between its restarts)
PER_RUN = ("seed", "model", "model_args", "num_workers", "threads", "log_every", "ckpt_every")
FLAT = 0.05  # |fitted change of the validation loss over the last fifth| below this: flat


@dataclass(frozen=True)
class Spec:
    family: str
    unit: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.family}/{self.unit}_seed{self.seed}"


def model_for(unit: str) -> tuple[str, list[str]]:
    """The Table 2 backbone with ``unit``: its registered name (``c3d_mrst_t``) and no extra
    settings, or, for a unit without one, ``c3d`` with ``model_args.unit`` set."""
    name = "c3d" if unit == "c3d" else f"c3d_{unit}"
    return (name, []) if name in list_models() else ("c3d", [f"model_args.unit={unit}"])


def config_for(spec: Spec, preset: str = "ablation", sets: list[str] | None = None, **keys):
    """The run's TrainConfig: the preset's recipe, the family's network with the unit."""
    from .config import build_config, load_preset

    values = load_preset(preset)
    if spec.family == "c3d":
        model, extra = model_for(spec.unit)
        return build_config(preset, [*extra, *(sets or [])], model=model, seed=spec.seed, **keys)
    if spec.family != "mrst_net":
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {spec.family!r}")
    # the small MRST-Net keeps its own widths: the preset's backbone model_args are C3D's
    values.pop("model_args", None)
    from .config import config_from_dict, merge_overrides, parse_overrides

    values = merge_overrides(values, {"model_args": {"unit": spec.unit}})
    values = merge_overrides(values, parse_overrides(sets or []))
    values.update(model="mrst_t_net_small", seed=spec.seed, **keys)
    return config_from_dict(values)


def recipe_of(cfg) -> dict:
    """What every run of one ablation shares: the config without its per-run keys."""
    return {k: v for k, v in cfg.to_dict().items() if k not in PER_RUN}


def plan(families, units, seeds) -> list[Spec]:
    """Runs in the order they are done: seed by seed, within a seed family by family, the
    units in the unit table's order (so that a table cut short holds whole seeds of every
    unit in both families)."""
    return [Spec(f, u, s) for s in seeds for f in families for u in units]


def read_results(path: Path) -> list[dict]:
    """The rows of OUT/results.jsonl (a run finished twice: its last row)."""
    if not path.is_file():
        return []
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[(r["family"], r["unit"], r["seed"])] = r
    return list(rows.values())


def run_ablation(
    out: str | Path,
    *,
    root=None,
    families=FAMILIES,
    seeds=range(5),
    units=None,
    preset: str = "ablation",
    sets: list[str] | None = None,
    stopping: dict | None = None,
    data: dict | None = None,
    test_clips: int = 3,
    jobs: int = 1,
    progress: bool = False,
    log=print,
) -> dict:
    """Train and test every (family, unit, seed) not yet in OUT/results.jsonl, `jobs` at a
    time; write OUT/summary.md, summary.json and the curves; return the summary."""
    from .ablate_report import write_report

    out = Path(out)
    units = list(units or UNITS)
    unknown = [u for u in units if u not in UNITS]
    if unknown:
        raise ValueError(f"unknown unit(s) {', '.join(unknown)}; choose from {', '.join(UNITS)}")
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise ValueError(f"unknown family {', '.join(bad)}; choose from {', '.join(FAMILIES)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    data = {**DATA, **(data or {})}
    out.mkdir(parents=True, exist_ok=True)
    protocol = {
        "data": data if root is None else {"root": str(root)},
        "test_clips": test_clips,
        "recipe": {
            f: recipe_of(config_for(Spec(f, "mrst_t", 0), preset, sets, **(stopping or {})))
            for f in FAMILIES
        },
    }
    check_protocol(out / "protocol.json", protocol)
    root = Path(root) if root is not None else write_data(out / "data", data, log)
    from mrstnet.data.holdout import hold_out_first_group

    train_ann, val_ann = hold_out_first_group(root, out / "splits")
    results = out / "results.jsonl"
    done = {(r["family"], r["unit"], r["seed"]) for r in read_results(results)}
    todo = [s for s in plan(families, units, seeds) if (s.family, s.unit, s.seed) not in done]
    total = len(plan(families, units, seeds))
    log(
        f"ablation in {out}: {total} runs (families {', '.join(families)} x {len(units)} "
        f"units x {len(list(seeds))} seeds), {total - len(todo)} done, "
        f"{len(todo)} to run, {jobs} at a time"
    )
    job = dict(
        out=str(out),
        root=str(root),
        annotations=(str(train_ann), str(val_ann)),
        preset=preset,
        sets=list(sets or []),
        stopping=dict(stopping or {}),
        test_clips=test_clips,
        progress=progress and jobs == 1,
    )
    t0, finished = time.perf_counter(), total - len(todo)

    def record(row: dict) -> None:
        nonlocal finished
        with open(results, "a", encoding="utf-8") as f:  # appended as each run finishes
            f.write(json.dumps(row) + "\n")
        finished += 1
        per_run = (time.perf_counter() - t0) / max(finished - (total - len(todo)), 1)
        eta = per_run * (total - finished) / 60
        log(f"[{finished}/{total}] {run_line(row)}  (about {eta:.0f} min left)")

    if jobs == 1:
        for spec in todo:
            log(f"  {spec.name}: training ...")
            record(run_one(asdict(spec), **job))
    elif todo:
        # separate processes (spawned: no forked torch state); each run's threads come
        # from the preset (`threads`), so jobs x threads should not exceed the cores
        pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=get_context("spawn"), initializer=fork_loaders
        )
        with pool:
            futures = [pool.submit(run_one, asdict(s), **job) for s in todo]
            try:
                for f in as_completed(futures):
                    record(f.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    summary = write_report(out, read_results(results), families=families, units=units)
    log(summary["markdown"])
    return summary


def fork_loaders() -> None:
    """In a spawned run process: start its DataLoader workers by fork again. A spawned
    process inherits the start method "spawn", and the trainer builds a loader an epoch
    and one a validation round, so every one of them started a fresh interpreter that
    imported torch: at least 1.4 CPU s each, about 80 times a run. With fork, a run of the
    ablation took half the time. Forking is safe here: the run process is CPU-only."""
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("fork", force=True)


def run_line(r: dict) -> str:
    change = r["last_fifth"]["val_loss_change"]
    return (
        f"{r['family']:8s} {UNITS[r['unit']].label:8s} seed {r['seed']}: top1 {r['top1']:.3f}  "
        f"shuffled {r['shuffled_top1']:.3f}  {r['steps']} steps (stopped: {r['stopped']}, "
        f"best.pt step {r['best_step']})"
        + ("" if change is None else f"  last fifth {change:+.3f}")
        + f"  {r['seconds']:.0f} s"
    )


def check_protocol(path: Path, protocol: dict) -> None:
    """Write OUT/protocol.json, or refuse when OUT holds an ablation of another recipe."""
    if path.is_file():
        before = json.loads(path.read_text())
        if before != json.loads(json.dumps(protocol)):
            keys = sorted(
                k for k in protocol if before.get(k) != json.loads(json.dumps(protocol[k]))
            )
            raise ValueError(
                f"{path.parent} holds an ablation with another protocol ({', '.join(keys)} "
                "differ): use another --out, or the same settings"
            )
        return
    path.write_text(json.dumps(protocol, indent=1) + "\n")


def write_data(root: Path, data: dict, log) -> Path:
    """The ablation's set, written once (a restart finds it)."""
    if (root / "ucfTrainTestlist" / "testlist01.txt").is_file():
        return root
    from .demo import write_set

    log(f"writing the {data['kind']} set to {root} ...")
    synth = {k: data[k] for k in ("classes", "videos_per_class", "frames", "size")}
    tmp = root.with_name(root.name + ".partial")  # a set cut short is never taken as written
    write_set(tmp, data["kind"], data["difficulty"], data["seed"], **synth)
    tmp.rename(root)
    return root


def run_one(
    spec: dict,
    *,
    out: str,
    root: str,
    annotations: tuple[str, str],
    preset: str,
    sets: list[str],
    stopping: dict,
    test_clips: int,
    progress: bool,
) -> dict:
    """Train (or resume) one run, test best.pt plain and frame-shuffled; its result row."""
    from .checkpoint import load_checkpoint
    from .hardware import cpu_words
    from .plot import read_log
    from .runner import test_run, train_run

    s = Spec(**spec)
    cfg = config_for(s, preset, sets, **stopping)
    run_dir = Path(out) / "runs" / s.family / f"{s.unit}_seed{s.seed}"
    t0 = time.perf_counter()
    summary = train_run(
        cfg,
        dataset="ucf101",
        root=root,
        out=run_dir,
        annotations=annotations[0],
        val_annotations=annotations[1],
        resume=True,  # a run stopped half-way continues from its last.pt
        device="cpu",
        progress=progress,
        log=lambda *a: None,
    )
    t_train = time.perf_counter() - t0
    common = dict(
        dataset="ucf101",
        root=root,
        clips=test_clips,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        device="cpu",
        progress=progress,
        log=lambda *a: None,
    )
    m = test_run(run_dir / "best.pt", **common)
    shuffled = test_run(run_dir / "best.pt", shuffle_frames=True, **common)
    curves = curves_of(read_log(run_dir))
    state = load_checkpoint(run_dir / "best.pt")["state_dict"]
    return {
        "family": s.family,
        "unit": s.unit,
        "seed": s.seed,
        "model": cfg.model,
        "model_args": cfg.model_args,
        "top1": m["top1"],
        "clip_top1": m["clip_top1"],
        "test_loss": m["loss"],
        "mean_class_acc": m["mean_class_acc"],
        "shuffled_top1": shuffled["top1"],
        "shuffled_clip_top1": shuffled["clip_top1"],
        "val_top1": summary["best_top1"],
        "val_loss": summary["best_score"] if cfg.monitor == "val_loss" else None,
        "best_step": summary["best_step"],
        "steps": summary["steps"],
        "stopped": summary["stopped"],
        "train_seconds": round(summary["seconds"], 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "test_seconds": round(time.perf_counter() - t0 - t_train, 1),
        "threads": cfg.threads,
        "cpu": cpu_words(),
        "params": int(sum(t.numel() for t in state.values() if t.is_floating_point())),
        "last_fifth": last_fifth(curves),
        "curves": curves,
    }


def curves_of(records: list[dict]) -> dict:
    """[step, value] lists from a run's log: training loss, validation loss and top-1, lr
    (a resumed run's log repeats steps: the last record of each step counts)."""
    latest = {(r["kind"], r["step"]): r for r in records}
    val = sorted((r for (k, _), r in latest.items() if k == "val"), key=lambda r: r["step"])
    train = sorted(
        (r for (k, _), r in latest.items() if k == "train" and "loss" in r), key=lambda r: r["step"]
    )
    return {
        "train_loss": [[r["step"], round(r["loss"], 5)] for r in train],
        "val_loss": [[r["step"], round(r["val_loss"], 5)] for r in val],
        "val_top1": [[r["step"], r["val_top1"]] for r in val],
        "lr": [[r["step"], r["lr"]] for r in val],
    }


def last_fifth(curves: dict) -> dict:
    """Is the end of training flat? The least-squares slope of the validation and the
    training loss over the last fifth of the steps, per 1000 steps, and the change it
    predicts over that fifth; flat when that change is below FLAT (nats) in size."""
    from .stats import slope

    val = curves["val_loss"]
    end = max([s for s, _ in val] + [s for s, _ in curves["train_loss"]] + [0])
    start = 0.8 * end
    out: dict = {"from_step": round(start), "to_step": end}
    for key in ("val_loss", "train_loss"):
        pts = [(s, v) for s, v in curves[key] if s >= start]
        k = slope([s for s, _ in pts], [v for _, v in pts])
        out[f"{key}_points"] = len(pts)
        out[f"{key}_slope_per_1k"] = None if k is None else k * 1000
        out[f"{key}_change"] = None if k is None else k * (end - start)
    change = out["val_loss_change"]
    out["flat"] = None if change is None else abs(change) < FLAT
    return out
