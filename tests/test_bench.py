"""`mrstnet bench --quick`: the table and the JSON (no timing assertions)."""

import json

from mrstnet.cli import main


def test_bench_quick_writes_rows(tmp_path, capsys):
    out = tmp_path / "net.json"
    assert (
        main(
            [
                "bench",
                "--quick",
                "--rounds",
                "1",
                "--warmup",
                "0",
                "--only",
                "inference",
                "--no-tune-allocator",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "literal" in text and "ours" in text and "Peak" in text and "oneDNN ISA" in text
    result = json.loads(out.read_text())
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"literal", "ours"}
    for r in rows.values():
        assert r["gflop"] > 0 and r["time_s"] > 0 and r["of_peak"] > 0
        assert r["baseline"] == "literal" and r["dtype"] == "fp32"
    assert rows["literal"]["ratio"] == 1.0
    assert result["peaks"]["fp32"]["gflops"] > 0 and result["peaks"]["bf16"]["gflops"] > 0
    machine = result["machine"]
    assert machine["cpu"] and "bf16_pays" in machine and isinstance(machine["flags"], list)


def test_bench_table2_case(tmp_path):
    """The Table 2 backbone case: STD is the baseline, MRST-P and MRST-T beside it, and
    MRST-T in the plain layout (what create_model gave before)."""
    from mrstnet.engine.bench import run_bench

    result = run_bench(quick=True, rounds=1, warmup=0, tune_allocator=False, only=["Table 2"],
                       dtype="fp32", log=lambda *a: None)  # fmt: skip
    variants = [r["variant"] for r in result["rows"]]
    assert variants == ["c3d_std", "c3d_mrst_p", "c3d_mrst_t", "c3d_mrst_t, plain layout"]
    assert {r["baseline"] for r in result["rows"]} == {"c3d_std"}
    assert "bf16" not in result["peaks"]
