"""Every CUDA path of mrstnet checked in one command, with its speed (docs/gpu.md).

    scripts/gpu_check.sh                       # on a GPU: <= 8 minutes, benchmarks/results/gpu.json
    scripts/gpu_check.sh --device cpu --tiny   # the same code at tiny sizes on the CPU (CI)

Each check (gpucheck/plan.py) runs in its own process under its own time limit, never more
than what is left of the overall budget (--budget). A check that fails, hangs or crashes is
recorded (status, error, the tail of its log) and the next one runs. The JSON file is
rewritten after every check, so nothing measured is lost if the run is stopped. One line per
check: name, PASS / FAIL / SKIP / TIMEOUT, seconds, key figures.

Exit status: 0 every check that ran passed and none was cut; 1 a check failed or hit its own
time limit; 2 the check cannot run here (no CUDA, bad arguments); 3 nothing failed but some
checks were cut or not run for lack of budget (rerun them with --only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # gpucheck/

from gpucheck import report  # noqa: E402
from gpucheck.part import read_part  # noqa: E402
from gpucheck.plan import CHECKS, NAMES, by_name  # noqa: E402

SCHEMA = 1
RESULTS = ROOT / "benchmarks" / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny sizes (required with --device cpu)")
    p.add_argument(
        "--out",
        help="JSON file (default benchmarks/results/gpu.json; WORKDIR/gpu_tiny.json with --tiny)",
    )
    p.add_argument(
        "--workdir",
        default="/tmp/mrstnet-gpu-check",
        help="logs, result parts, the synthetic set and the training run",
    )
    p.add_argument(
        "--budget", type=float, help="overall seconds (default 480 on CUDA, 600 with --tiny)"
    )
    p.add_argument(
        "--train-seconds",
        type=float,
        default=180,
        help="length of the learning run on the GPU (default 180)",
    )
    p.add_argument("--gpus", type=int, help="processes for the DDP checks (default: every GPU)")
    p.add_argument(
        "--only",
        nargs="+",
        choices=NAMES,
        metavar="CHECK",
        help="run these checks (env always runs) and merge them into --out",
    )
    p.add_argument("--skip", nargs="+", choices=NAMES, default=[], metavar="CHECK")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    # a check's own process (started by the runner)
    p.add_argument("--worker", choices=NAMES, help=argparse.SUPPRESS)
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--nproc", type=int, default=1, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --------------------------------------------------------------------------- one check's process
def worker(args) -> int:
    import importlib
    import traceback
    from dataclasses import dataclass

    import torch
    from gpucheck.part import Part
    from gpucheck.sizes import Sizes, sizes_for

    @dataclass
    class Ctx:
        name: str
        device: torch.device
        sizes: Sizes
        part: Part
        args: argparse.Namespace

    part = Part(args.part)
    module, function = by_name(args.worker).target.split(":")
    ctx = Ctx(args.worker, torch.device(args.device), sizes_for(args.tiny), part, args)
    if args.tiny:
        torch.set_num_threads(1)  # tiny tensors; the CI machine has 2 shared cores
    try:
        status, summary = getattr(importlib.import_module(f"gpucheck.{module}"), function)(ctx)
        part.update(status=status, summary=summary)
    except Exception as e:
        traceback.print_exc()
        part.update(status="FAIL", error=f"{type(e).__name__}: {e}"[:1500])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # compile workers and CUDA teardown have nothing left to give


# --------------------------------------------------------------------------- the runner
class Runner:
    def __init__(self, args) -> None:
        self.args = args
        self.cuda = args.device == "cuda"
        self.work = Path(args.workdir).resolve()
        for sub in ("logs", "parts"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        # tiny figures measure nothing: they stay in the work folder, out of the repository
        default = self.work / "gpu_tiny.json" if args.tiny else RESULTS / "gpu.json"
        self.out = Path(args.out or default).resolve()
        self.budget = args.budget or (600.0 if args.tiny else 480.0)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + self.budget
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
        if args.tiny:
            self.env["OMP_NUM_THREADS"] = "1"
        self.current: subprocess.Popen | None = None
        self.synth: subprocess.Popen | None = None
        self.gpus = 0
        self.result = self._start_result()

    def _start_result(self) -> dict:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        fresh = {
            "schema": SCHEMA,
            "device": self.args.device,
            "tiny": self.args.tiny,
            "started": now,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "budget_s": self.budget,
            "checks": {},
            "throughput": [],
        }
        if not self.args.only or not self.out.is_file():
            return fresh
        try:
            old = json.loads(self.out.read_text())
        except ValueError:
            return fresh
        if old.get("device") != self.args.device or old.get("tiny") != self.args.tiny:
            return fresh
        # --only: keep the other checks' results, replace these
        rerun = set(self.args.only) | {"env"}
        old["checks"] = {k: v for k, v in old.get("checks", {}).items() if k not in rerun}
        old["throughput"] = [e for e in old.get("throughput", []) if e.get("check") not in rerun]
        old.setdefault("merged", []).append({"started": now, "command": fresh["command"]})
        old["budget_s"] = self.budget
        return old

    def write(self) -> None:
        self.result["seconds"] = round(time.monotonic() - self.t0, 1)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + ".partial")
        tmp.write_text(json.dumps(self.result, indent=1, default=str) + "\n")
        os.replace(tmp, self.out)

    def selected(self) -> list:
        names = set(self.args.only or NAMES) | {"env"}
        return [c for c in CHECKS if c.name in names and c.name not in self.args.skip]

    # ----------------------------------------------------------------------- processes
    def _launch(self, argv: list[str], log_path: Path) -> subprocess.Popen:
        log = open(log_path, "w")  # noqa: SIM115 - closed with the process, in _kill
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        proc.log = log  # type: ignore[attr-defined]
        return proc

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        """The process and everything it started (its own session): TERM, then KILL."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        proc.log.close()  # type: ignore[attr-defined]

    def start_synth(self) -> None:
        """The synthetic set for the `train` check, written while the other checks run."""
        s = sizes_of(self.args.tiny).synth
        out = self.work / "synth"
        argv = [sys.executable, "-m", "mrstnet", "synth", str(out), "--classes", str(s["classes"]),
                "--videos-per-class", str(s["videos_per_class"]), "--frames", str(s["frames"]),
                "--size", str(s["size"])]  # fmt: skip
        self.synth = self._launch(argv, self.work / "logs" / "synth.log")

    def _wait_synth(self, limit: float) -> str | None:
        """None when the set is written, else why not."""
        if self.synth is None:
            return "the synthetic set was not started"
        try:
            rc = self.synth.wait(timeout=max(limit, 1))
        except subprocess.TimeoutExpired:
            self._kill(self.synth)
            return f"writing the synthetic set took more than {limit:.0f} s"
        self.synth.log.close()  # type: ignore[attr-defined]
        if rc != 0:
            tail = (self.work / "logs" / "synth.log").read_text().splitlines()[-3:]
            return f"mrstnet synth exited {rc}: " + " | ".join(tail)
        return None

    def argv_for(self, check, part: Path) -> list[str]:
        if check.target == "torchrun":
            sync = check.name == "sync_bn"
            if not self.cuda:
                nproc, backend = 2, "gloo"
            elif sync and self.gpus < 2:
                nproc, backend = 2, "gloo"  # SyncBatchNorm needs 2 processes; NCCL, 2 GPUs
            else:
                nproc, backend = max(self.gpus, 1), "nccl"
            return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(nproc), str(HERE / "gpucheck" / "ddp_worker.py"),
                    "--part", str(part), "--device", self.args.device, "--backend", backend,
                    *(["--sync-bn"] if sync else []),
                    *(["--tiny"] if self.args.tiny else [])]  # fmt: skip
        argv = [sys.executable, str(HERE / "gpu_check.py"), "--worker", check.name,
                "--part", str(part), "--device", self.args.device,
                "--workdir", str(self.work), "--train-seconds", str(self.args.train_seconds),
                "--data", str(self.work / "synth"),
                "--nproc", str(max(self.gpus, 1) if self.cuda else 2)]  # fmt: skip
        return argv + (["--tiny"] if self.args.tiny else [])

    def limit_of(self, check) -> float:
        if self.args.tiny:
            return check.limit_tiny
        if check.name == "train":
            return self.args.train_seconds + 120
        return check.limit_gpu

    # ----------------------------------------------------------------------- checks
    def run_check(self, check) -> dict:
        remaining = self.deadline - time.monotonic()
        if not self.cuda and check.cpu_skip:
            return {"status": "SKIP", "reason": check.cpu_skip}
        own = self.limit_of(check)
        if remaining < min(own, 10):
            return {"status": "SKIP", "reason": "the overall budget is spent", "budget_cut": True}
        limit = min(own, remaining)
        t0 = time.monotonic()
        if check.name == "train":
            why = self._wait_synth(limit)
            if why:
                return {"status": "FAIL", "error": why, "seconds": time.monotonic() - t0}
            limit -= time.monotonic() - t0
        part = self.work / "parts" / f"{check.name}.json"
        part.unlink(missing_ok=True)
        log_path = self.work / "logs" / f"{check.name}.log"
        self.current = proc = self._launch(self.argv_for(check, part), log_path)
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            rc = None
        self._kill(proc)
        self.current = None
        found = read_part(part)
        rec = {
            "status": found.get("status"),
            "seconds": round(time.monotonic() - t0, 1),
            "limit_s": round(limit, 1),
            "log": str(log_path),
        }
        for key in ("summary", "error", "details", "env"):
            if key in found:
                rec[key] = found[key]
        if rc is None:
            cut = limit < own
            rec["status"] = "TIMEOUT"
            rec["budget_cut"] = cut
            rec["reason"] = f"stopped after {limit:.0f} s" + (
                " (what was left of the overall budget)" if cut else " (its own limit)"
            )
            rec.setdefault("summary", rec["reason"])
        elif rec["status"] is None:
            rec["status"] = "FAIL"
            rec["error"] = f"its process exited {rc} without a result"
        if rec["status"] in ("FAIL", "TIMEOUT"):
            rec["log_tail"] = log_path.read_text(errors="replace").splitlines()[-15:]
        for entry in found.get("throughput", []):
            self.result["throughput"].append(entry)
        return rec

    def run(self) -> int:
        checks = self.selected()
        mode = "tiny sizes" if self.args.tiny else "full sizes"
        print(
            f"mrstnet GPU check: {self.args.device}, {mode}, budget {self.budget:.0f} s -> "
            f"{self.out} (logs: {self.work / 'logs'})",
            flush=True,
        )
        if any(c.name == "train" for c in checks):
            self.start_synth()
        for check in checks:
            rec = self.run_check(check)
            if check.name == "env":
                env = rec.pop("env", None)
                if env:
                    self.result["env"] = env
                    self.gpus = int(env.get("gpu_count") or 0)
                    if self.args.gpus:
                        self.gpus = min(self.gpus, self.args.gpus)
            rec["run_started"] = self.result.get("merged", [{}])[-1].get(
                "started", self.result["started"]
            )
            self.result["checks"][check.name] = rec
            self.write()
            print(report.check_line(check.name, rec), flush=True)
            if check.name == "env" and rec["status"] != "PASS":
                print(f"\ncannot run the checks: {rec.get('error', '')}", file=sys.stderr)
                return self.finish(exit_code=2)
        return self.finish()

    def finish(self, exit_code: int | None = None) -> int:
        if self.synth is not None and self.synth.poll() is None:
            self._kill(self.synth)
        checks = self.result["checks"]
        # tiny sizes measure nothing worth an estimate
        if not self.args.tiny:
            self.result["estimates"] = report.estimates(self.result["throughput"])
        failed = [
            k
            for k, v in checks.items()
            if v["status"] == "FAIL" or (v["status"] == "TIMEOUT" and not v.get("budget_cut"))
        ]
        cut = [k for k, v in checks.items() if v.get("budget_cut")]
        if exit_code is None:
            exit_code = 1 if failed else 3 if cut else 0
        verdict = {0: "PASS", 1: "FAIL", 2: "CANNOT RUN", 3: "INCOMPLETE"}[exit_code]
        self.result.update(status=verdict, failed=failed, cut_by_budget=cut, exit_code=exit_code)
        self.write()
        if self.result["throughput"]:
            print("speed: clips/s, median step time, peak GPU memory allocated")
            print("\n".join(report.throughput_lines(self.result["throughput"])))
        if self.result.get("estimates"):
            print("reproduction estimates (GPU-bound, one GPU; docs/reproduce.md):")
            print("\n".join(report.estimate_lines(self.result["estimates"])))
        counts = {
            s: sum(v["status"] == s for v in checks.values())
            for s in ("PASS", "FAIL", "SKIP", "TIMEOUT")
        }
        print(
            f"RESULT: {verdict}: {counts['PASS']} passed, {counts['FAIL']} failed, "
            f"{counts['TIMEOUT']} timed out, {counts['SKIP']} skipped"
            + (
                f" (cut by the budget: {', '.join(cut)}; rerun with --only {' '.join(cut)})"
                if cut
                else ""
            )
            + f"; {self.result['seconds']:.0f} s; exit {exit_code}",
            flush=True,
        )
        return exit_code

    def interrupted(self) -> int:
        if self.current is not None:
            self._kill(self.current)
        print("interrupted", file=sys.stderr)
        self.result["interrupted"] = True
        self.finish(exit_code=1)
        return 130


def sizes_of(tiny: bool):
    from gpucheck.sizes import sizes_for

    return sizes_for(tiny)


def _terminate(signum, frame):
    raise KeyboardInterrupt  # a SIGTERM ends the run as Ctrl-C does: children killed, JSON kept


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.worker:
        return worker(args)
    if args.list:
        for c in CHECKS:
            print(f"{c.name:18s} {c.what}")
        return 0
    if args.device == "cpu" and not args.tiny:
        print("gpu_check: --device cpu runs the tiny sizes only: add --tiny", file=sys.stderr)
        return 2
    runner = Runner(args)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return runner.run()
    except KeyboardInterrupt:
        return runner.interrupted()


if __name__ == "__main__":
    sys.exit(main())
