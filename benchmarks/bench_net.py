"""Whole-network speed of MRST-T-Net, run by hand; `mrstnet bench` with result files.

    python benchmarks/bench_net.py [--rounds 5] [--only WORD] [--ablate] [--dtype bf16]
    python benchmarks/bench_net.py --merge part1.json part2.json   # runs split by --only
    python benchmarks/bench_net.py --merge --name net_round2 part1.json ...  # other files

writes benchmarks/results/net.json and net.md (see mrstnet/engine/bench.py for what is timed).
On a busy machine, run the cases separately (`--only inference`, `--only "mrst_t_net train"`,
`--only demo`) to keep each invocation short, then merge: every row keeps the peak and
the baseline of its own run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's mrstnet, not an installed one
from mrstnet.cli import main  # noqa: E402
from mrstnet.engine.bench import format_table  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def _load(machine: dict) -> str:
    a, b = machine.get("load_average"), machine.get("load_average_end")
    return f", load {a[0]:.1f} -> {b[0]:.1f}" if a and b else ""


def merge(paths: list[str], name: str = "net") -> int:
    parts = [json.loads(Path(p).read_text()) for p in paths]
    merged = {
        "rows": [r for p in parts for r in p["rows"]],
        "peak_conv": parts[0]["peak_conv"],
        "peaks": parts[0].get("peaks", {"fp32": parts[0]["peak_conv"]}),
        "machine": parts[0].get("machine", {}),
        "env": parts[0]["env"],
        "runs": [
            {
                "env": p["env"],
                "machine": p.get("machine", {}),
                "peak_conv": p["peak_conv"],
                "cases": sorted({r["case"] for r in p["rows"]}),
            }
            for p in parts
        ],
    }
    peaks = [p["peak_conv"]["gflops"] for p in parts]
    merged["peak_conv"] = dict(parts[0]["peak_conv"], gflops=sorted(peaks)[len(peaks) // 2])
    merged["peaks"]["fp32"] = merged["peak_conv"]
    (OUT / f"{name}.json").write_text(json.dumps(merged, indent=1) + "\n")
    note = (
        "\n\nMerged from separate runs; each row's % of peak and ratio use the "
        "peak conv and the baseline of its own run: "
        + "; ".join(
            f"{', '.join(r['cases'])}: peak {r['peak_conv']['gflops']:.0f} GFLOP/s"
            + _load(r["machine"])
            for r in merged["runs"]
        )
        + "."
    )
    (OUT / f"{name}.md").write_text(format_table(merged, markdown=True) + note + "\n")
    print(format_table(merged) + note)
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["--merge"]:
        name = "net"
        if argv[1:2] == ["--name"]:
            name, argv = argv[2], argv[2:]
        raise SystemExit(merge(argv[1:], name))
    if "--json" not in argv:
        argv += ["--json", str(OUT / "net.json"), "--markdown", str(OUT / "net.md")]
    raise SystemExit(main(["bench", *argv]))
