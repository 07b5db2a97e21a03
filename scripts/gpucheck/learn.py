"""The `train` check: `mrstnet train` under torchrun on the synthetic motion set; the loss
must fall.

The runner writes the set first (`mrstnet synth`, in the background while other checks
run). The training videos are listed `repeat` times in a list file (`--dataset list`), so
that an epoch is long: the trainer checkpoints at every epoch end, and a full MRST-T-Net
checkpoint with its AdamW state is ~450 MB. Recipe: the `demo` preset with the network,
clip and batch of `Sizes.train_sets` (on the GPU: full-width MRST-T-Net, 16x112x112,
batch 32, AdamW lr 1e-3, bf16 autocast, channels_last_3d, up to 8 loader workers a process),
`sync_bn=true` when there are several GPUs. One process per GPU (two over gloo on the
CPU). On the GPU it runs for `--train-seconds` from the launch and is then stopped; the
tiny run stops by its step count.

Pass: the run started, logged finite losses, and the mean loss of its last two log windows
is below `loss_ratio` x its first window's (0.75 on the GPU: ln 10 = 2.30 falls below 1.73;
0.9 for the tiny run's 40 steps).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_list(synth: Path, out: Path, repeat: int) -> Path:
    """train.txt ("Class/v.avi <0-based label>", each video `repeat` times) and classes.txt
    from the synthetic set's UCF-101 split 1."""
    lists = synth / "ucfTrainTestlist"
    names = [
        ln.split()[1] for ln in (lists / "classInd.txt").read_text().splitlines() if ln.strip()
    ]
    rows = []
    for line in (lists / "trainlist01.txt").read_text().splitlines():
        if line.strip():
            path, label = line.split()
            rows.append(f"{path} {int(label) - 1}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    (out / "train.txt").write_text("\n".join(rows * repeat) + "\n")
    return out / "train.txt"


def _yaml(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def train_argv(ctx, synth: Path, lst: Path, run_dir: Path, nproc: int) -> list[str]:
    sets = dict(ctx.sizes.train_sets)
    if ctx.device.type == "cuda":
        # loader workers: the preset's 8 a process, within the machine's cores
        per_process = max(1, (os.cpu_count() or 2) // nproc - 1)
        sets["num_workers"] = min(sets["num_workers"], per_process)
        if nproc > 1:
            sets["sync_bn"] = True
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(nproc),
        "-m", "mrstnet", "train",
        "--dataset", "list", "--root", str(synth), "--annotations", str(lst),
        "--model", "mrst_t_net", "--preset", "demo",
        "--out", str(run_dir), "--overwrite", "--no-progress",
        "--device", ctx.device.type,
        "--set", *(f"{k}={_yaml(v)}" for k, v in sets.items()),
    ]  # fmt: skip


def read_log(path: Path) -> list[dict]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # a line being written
            continue
        if record.get("kind") == "train":
            out.append(record)
    return out


def _stop(proc: subprocess.Popen) -> None:
    """torchrun and its workers (their own process group): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def train(ctx) -> tuple[str, str]:
    synth = Path(ctx.args.data)
    if not (synth / "ucfTrainTestlist" / "trainlist01.txt").is_file():
        raise RuntimeError(f"no synthetic set at {synth} (see the synth log in the work folder)")
    work = Path(ctx.args.workdir)
    lst = write_list(synth, work / "train_list", ctx.sizes.repeat)
    run_dir = work / "train_run"
    nproc = ctx.args.nproc
    argv = train_argv(ctx, synth, lst, run_dir, nproc)
    ctx.part.detail("command", " ".join(argv))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    seconds = ctx.args.train_seconds if ctx.device.type == "cuda" else None
    log_path = work / "logs" / "train_run.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True
        )
        stopped = "finished"
        try:
            while proc.poll() is None:
                time.sleep(1.0)
                records = read_log(run_dir / "log.jsonl")
                ctx.part.detail("windows", len(records))
                if seconds is not None and time.perf_counter() - t0 >= seconds:
                    stopped = "time"
                    break
        finally:
            _stop(proc)
    wall = time.perf_counter() - t0
    records = read_log(run_dir / "log.jsonl")
    losses = [r["loss"] for r in records if "loss" in r]
    detail = {
        "nproc": nproc,
        "stopped_by": stopped,
        "exit_code": proc.returncode,
        "wall_s": wall,
        "steps": records[-1]["step"] if records else 0,
        "losses": losses,
        "acc_last": records[-1].get("acc") if records else None,
        "clips_per_s": [r.get("clips_per_s") for r in records],
        "data_wait": [r.get("data_wait") for r in records],
        "log": str(log_path),
    }
    ctx.part.detail("run", detail)
    if stopped == "finished" and proc.returncode != 0:
        tail = log_path.read_text().splitlines()[-5:]
        raise RuntimeError(f"mrstnet train exited {proc.returncode}: " + " | ".join(tail))
    if len(losses) < 3:
        raise RuntimeError(f"only {len(losses)} log windows in {wall:.0f} s: too few to judge")
    if not all(math.isfinite(v) for v in losses):
        return "FAIL", f"non-finite loss after {detail['steps']} steps"
    first, last = losses[0], sum(losses[-2:]) / 2
    rates = [r for r in detail["clips_per_s"][1:] if r] or [0.0]
    waits = [w for w in detail["data_wait"][1:] if w is not None] or [0.0]
    summary = (
        f"{detail['steps']} steps in {wall:.0f} s on {nproc} process(es): loss {first:.3f} -> "
        f"{last:.3f} (need < {ctx.sizes.loss_ratio * first:.3f}), acc {detail['acc_last']:.2f}, "
        f"{sorted(rates)[len(rates) // 2]:.0f} clips/s, data wait {100 * max(waits):.0f}% max"
    )
    return ("PASS" if last < ctx.sizes.loss_ratio * first else "FAIL"), summary
