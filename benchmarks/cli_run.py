"""Run this checkout's `python -m mrstnet ARGS` as a user would, and measure it: wall
seconds, CPU seconds (user + system, its loader workers and other children included) and
peak memory, all of that one run's (os.wait4), not of the runs before it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_mrstnet(*args: str, log: Path | None = None, env: dict | None = None) -> dict:
    """`python -m mrstnet ARGS` from the checkout's root, its output to `log` (or nowhere);
    exits with the log's tail if the command fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = [sys.executable, "-m", "mrstnet", *args]
    t0 = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        tail = log.read_text()[-2000:] if log else ""
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return {
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "wall_seconds": round(wall, 1),
        # ru_maxrss: the largest process of the run (the command or one of its workers), KiB
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
