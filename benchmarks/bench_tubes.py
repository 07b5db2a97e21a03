"""Forward+backward time of one residual block per unit, as ratios to `std` (run by hand).

    python benchmarks/bench_tubes.py [--rounds 7] [--threads N] [--out benchmarks/results]

Two shapes: conv3-like (batch 8, 256 → 64 → 256, 16×28×28) and conv4-like
(batch 8, 512 → 128 → 512, 16×14×14). All variants are built once and timed in
one process, interleaved round by round in a shuffled order, so that a shared,
noisy machine slows them alike; we report the median of each variant over the
rounds divided by the median of `std` (the JSON also has the ratio of minima and
every time). The script re-runs itself with glibc malloc settings that keep
freed blocks (see MALLOC_ENV). Memory: the bytes autograd keeps for backward
during one training step (tensors saved by the graph, deduplicated by storage,
plus the output), which is what separates the implementations; on CUDA also the
allocator's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

# Run from a checkout: this tree's mrstnet, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mrstnet.models.tube import Block  # noqa: E402

SHAPES = {
    "conv3": dict(channels=256, width=64, frames=16, size=28),
    "conv4": dict(channels=512, width=128, frames=16, size=14),
}
VARIANTS = [
    ("std", "fast"),
    ("std_stf", "fast"),
    ("mrst_p", "fast"),
    ("mrst_s", "fast"),
    ("mrst_t", "fast"),
    ("mrst_p", "reference"),
    ("mrst_s", "reference"),
    ("mrst_t", "reference"),
]


def step(block: torch.nn.Module, x: torch.Tensor) -> None:
    block.zero_grad(set_to_none=True)
    block(x).sum().backward()


def saved_bytes(block: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd saves for backward, plus the output."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = block(x)
    storages[out.untyped_storage().data_ptr()] = out.untyped_storage().nbytes()
    storages.pop(x.untyped_storage().data_ptr(), None)  # the input is not the block's cost
    out.sum().backward()
    return sum(storages.values())


def bench(shape: str, rounds: int, device: str) -> dict:
    cfg = SHAPES[shape]
    c, w = cfg["channels"], cfg["width"]
    x = torch.randn(8, c, cfg["frames"], cfg["size"], cfg["size"], device=device)
    blocks = {}
    for unit, impl in VARIANTS:
        torch.manual_seed(0)
        blocks[f"{unit}/{impl}"] = Block(c, c, w, unit=unit, impl=impl).to(device).train()
    times: dict[str, list[float]] = {k: [] for k in blocks}
    for b in blocks.values():  # warm-up
        step(b, x)
    order = list(blocks)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)  # no variant always runs first (or right after another)
        for k in order:
            b = blocks[k]
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(b, x)
            if device == "cuda":
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t0)
    base = statistics.median(times["std/fast"])
    result = {}
    for k, b in blocks.items():
        row = {
            "ratio_to_std": statistics.median(times[k]) / base,
            "ratio_to_std_min": min(times[k]) / min(times["std/fast"]),
            "seconds": times[k],
            "saved_mb": saved_bytes(b, x) / 1e6,
        }
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            step(b, x)
            row["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - before) / 1e6
        result[k] = row
    return {"shape": shape, **cfg, "batch": 8, "rounds": rounds, "variants": result}


# glibc returns big freed blocks to the OS and page-faults them back in on the next
# step; on CPU that doubled step times and their noise. Keep them in the heap.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "68719476736"}


def main() -> None:
    if any(k not in os.environ for k in MALLOC_ENV):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    env = {
        "torch": torch.__version__,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
    }
    results = [bench(s, args.rounds, args.device) for s in args.shapes]
    lines = [
        f"# forward+backward of one residual block, batch 8, ratio to std ({env})",
        "| unit | impl | "
        + " | ".join(f"{r['shape']} time/std: median (min) | saved MB" for r in results)
        + " |",
        "|---|---|" + "---|---|" * len(results),
    ]  # fmt: skip
    for key in results[0]["variants"]:
        unit, impl = key.split("/")
        cells = []
        for r in results:
            v = r["variants"][key]
            cells += [
                f"{v['ratio_to_std']:.2f}× ({v['ratio_to_std_min']:.2f}×)",
                f"{v['saved_mb']:.0f}",
            ]
        lines.append(f"| {unit} | {impl} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "tubes" if args.device == "cpu" else f"tubes_{args.device}"
    (out / f"{tag}.json").write_text(json.dumps({"env": env, "results": results}, indent=2))
    (out / f"{tag}.md").write_text(table + "\n")
    print(f"wrote {out / tag}.json and .md")


if __name__ == "__main__":
    main()
