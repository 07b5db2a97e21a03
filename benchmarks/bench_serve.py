"""`mrstnet serve` under load: throughput, latency, errors, memory; batching on vs off.
Run by hand; writes benchmarks/results/serve.{json,md}.

    python benchmarks/bench_serve.py [--seconds 30] [--clients 16] [--quick]

Each run starts a fresh server (`python -m mrstnet serve`, the shipped demo weights,
loopback) and `--clients` client threads in this process, each posting short synthetic
clips (24 frames of 80x80, mpeg4 .avi, ~20 KB: the synthetic set's videos) one after the
other. Measured over the `--seconds` after a short warm-up (answers that arrive in that
window): requests/s answered 200, their latency p50/p95/p99, errors (anything but 200 and
a deliberate 503), 503s, the server's peak resident memory (VmHWM), and the model calls it
made (mean clips per call). The CPU (model, flags), the load average before and after each
run and `--note` (what else the machine was doing) go beside the figures.

Two loads, each with dynamic batching on (`--max-batch 16`) and off (`--max-batch 1`):

* `clips=1`: each request one clip, as a client sending short clips does: what batching
  across requests is for;
* `clips=10`: the API's default (10 clips per video, as `mrstnet predict`): a request
  alone already fills most of a batch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's mrstnet and tests

from benchmarks.bench_own_videos import load  # noqa: E402
from tests.serve.client import multipart, request  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def write_clips(folder: Path, n: int = 8) -> list[bytes]:
    from mrstnet.data.synthetic import class_video, write_video

    out = []
    for i in range(n):
        path = folder / f"clip{i}.avi"
        write_video(path, class_video(i % 4, np.random.default_rng(1000 + i), 24, 80))
        out.append(path.read_bytes())
    return out


def start(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = log.with_suffix(".out")
    with open(out, "w") as o, open(log, "w") as e:
        cmd = [sys.executable, "-m", "mrstnet", "serve", "--port", "0", "--log-level", "warning"]
        proc = subprocess.Popen([*cmd, *args], stdout=o, stderr=e, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        m = re.search(r"on (http://127\.0\.0\.1:\d+/)", out.read_text())
        if m:
            url = m.group(1)
            while time.monotonic() < deadline:
                try:
                    if request("GET", url + "healthz", timeout=5).status == 200:
                        return proc, url
                except OSError:
                    time.sleep(0.2)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_load(url: str, clips: list[bytes], n_clips: int, clients: int, seconds: float,
             warmup: float) -> dict:  # fmt: skip
    bodies = [multipart("video", f"clip{i}.avi", c, "video/x-msvideo") for i, c in enumerate(clips)]
    start_at = time.monotonic() + warmup
    stop_at = start_at + seconds
    lock = threading.Lock()
    lat, statuses, errors = [], {}, []

    def client(k: int) -> None:
        i = k
        while time.monotonic() < stop_at:
            body, ctype = bodies[i % len(bodies)]
            i += 1
            tic = time.monotonic()
            try:
                r = request("POST", f"{url}v1/predict?clips={n_clips}", body,
                            {"Content-Type": ctype}, timeout=120)  # fmt: skip
                status = r.status
            except OSError as e:
                status = f"{type(e).__name__}"
            end = time.monotonic()
            if start_at <= end <= stop_at:  # answers within the measured window only
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        lat.append(end - tic)
                    elif status != 503:
                        errors.append(status)
            if status == 503:
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = np.array(lat) * 1000
    ok = len(lat)
    return {
        "requests_per_s": round(ok / seconds, 2),
        "clips_per_s": round(ok * n_clips / seconds, 1),
        "ok": ok,
        "busy_503": statuses.get(503, 0),
        "errors": len(errors),
        "error_kinds": sorted({str(e) for e in errors}),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if ok else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 1) if ok else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 1) if ok else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--loads", default="1,10", help="clips per request, comma-separated")
    p.add_argument("--quick", action="store_true", help="5 s runs, results in /tmp")
    p.add_argument("--note", default="", help="what else the machine was doing")
    args = p.parse_args()
    if args.quick:
        args.seconds, args.warmup = 5, 1
    out_dir = Path(tempfile.mkdtemp(prefix="bench_serve_")) if args.quick else OUT
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = write_clips(Path(tmp))
        for n_clips in [int(x) for x in args.loads.split(",")]:
            for max_batch in (16, 1):
                flags = ["--max-batch", str(max_batch), "--max-wait-ms", "5", "--queue", "64",
                         "--workers", "2", "--threads", "1"]  # fmt: skip
                proc, url = start(flags, Path(tmp) / f"server_{n_clips}_{max_batch}.log")
                try:
                    before = request("GET", url + "healthz").json()
                    lo = load()
                    r = run_load(url, clips, n_clips, args.clients, args.seconds, args.warmup)
                    h = request("GET", url + "healthz").json()
                    calls = h["batches"] - before["batches"]
                    r.update(
                        clips_per_request=n_clips,
                        max_batch=max_batch,
                        mean_clips_per_model_call=round(
                            (h["clips_scored"] - before["clips_scored"]) / max(1, calls), 2
                        ),
                        peak_rss_mb=round(peak_rss_mb(proc.pid), 1),
                        load_before=lo,
                        load_after=load(),
                    )
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=60)
                runs.append(r)
                print(json.dumps(r), flush=True)
    import torch

    from mrstnet.engine.hardware import RELEVANT_FLAGS, cpu_flags, cpu_name

    flags = cpu_flags()
    meta = {
        "cpu": cpu_name(),
        "flags": [f for f in RELEVANT_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "note": args.note,
        "clients": args.clients,
        "seconds": args.seconds,
        "server": "--max-wait-ms 5 --queue 64 --workers 2 --threads 1, demo weights",
        "video": "24 frames 80x80 mpeg4 .avi (synthetic), ~20 KB",
    }
    speedups = {}
    for n_clips in sorted({r["clips_per_request"] for r in runs}):
        on, off = (next(r for r in runs if r["clips_per_request"] == n_clips
                        and r["max_batch"] == b) for b in (16, 1))  # fmt: skip
        speedups[n_clips] = round(on["requests_per_s"] / off["requests_per_s"], 2)
    result = {"meta": meta, "runs": runs, "batching_speedup": speedups}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "serve.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "serve.md").write_text(markdown(result))
    print(f"wrote {out_dir / 'serve.json'} and serve.md")


def markdown(result: dict) -> str:
    m = result["meta"]
    lines = [
        "# `mrstnet serve` under load",
        "",
        f"Machine: {m['cpu']} ({', '.join(m['flags']) or 'no listed flags'}), {m['cores']} "
        f"cores (load average before→after each run in the table); torch {m['torch']}. "
        f"{m['clients']} client threads on the loopback (in the benchmark's process, on the "
        f"same cores), {m['seconds']:g} s per run after a warm-up, each posting {m['video']} "
        f"one after the other. Server: {m['server']}. `benchmarks/bench_serve.py`.",
        "",
        *([m["note"], ""] if m.get("note") else []),
        "| clips/request | --max-batch | requests/s | clips/s | p50 ms | p95 ms | p99 ms | "
        "errors | 503 | clips per model call | peak RSS MB | load | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['clips_per_request']} | {r['max_batch']} | **{r['requests_per_s']}** | "
            f"{r['clips_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
            f"{r['errors']} | {r['busy_503']} | {r['mean_clips_per_model_call']} | "
            f"{r['peak_rss_mb']} | {r['load_before']}→{r['load_after']} | {m['cpu']} |"
        )
    lines += ["", "Dynamic batching (--max-batch 16) over none (--max-batch 1), requests/s:", ""]
    for n, s in result["batching_speedup"].items():
        lines.append(f"- {n} clip(s) per request: **{s}x**")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
