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
    assert "reference" in text and "ours" in text and "peak" in text
    result = json.loads(out.read_text())
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"reference", "ours"}
    for r in rows.values():
        assert r["gflop"] > 0 and r["time_s"] > 0 and r["of_peak"] > 0
    assert rows["reference"]["speedup"] == 1.0
    assert result["peak_conv"]["gflops"] > 0
