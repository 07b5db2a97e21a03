"""Whole-network speed of MRST-T-Net (issue 6), run by hand; `mrstnet bench` with result files.

    python benchmarks/bench_net.py [--rounds 5] [--ablate] [--dtype bf16] [--compile]

writes benchmarks/results/net.json and net.md (see mrstnet/bench.py for what is timed).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's mrstnet, not an installed one
from mrstnet.cli import main  # noqa: E402

if __name__ == "__main__":
    out = ROOT / "benchmarks" / "results"
    argv = sys.argv[1:]
    if "--json" not in argv:
        argv += ["--json", str(out / "net.json"), "--markdown", str(out / "net.md")]
    raise SystemExit(main(["bench", *argv]))
