import json
import subprocess
import sys
from pathlib import Path

import pytest

from mrstnet.models.profile import PAPER, format_table, profile_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["mrst_t_net_small", "c3d_mrst_s"])
def test_profile_counts(name):
    row = profile_model(name, frames=4, size=32, classes=10)
    assert row["params_m"] > 0 and row["size_mb"] == pytest.approx(row["params_m"] * 4)
    # the exact pooled path never does more work than the literal equations
    assert 0 < row["gflops_fast"] < row["gflops"]


def test_paper_figures_beside_ours():
    row = profile_model("mrst_t_net")  # 16×224×224, 400 classes: meta device, no compute
    assert row["paper_params_m"] == PAPER["mrst_t_net"]["params_m"]
    assert row["ratio_gflops"] == pytest.approx(row["gflops"] / 99.6)
    assert 0.9 < row["ratio_gflops"] < 1.1
    assert "mrst_t_net" in format_table([row])


def test_cli_json(tmp_path):
    out = tmp_path / "p.json"
    cmd = [sys.executable, "-m", "mrstnet", "profile", "mrst_t_net_small", "--frames", "4"]
    proc = subprocess.run(
        [*cmd, "--size", "32", "--json", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "mrst_t_net_small" in proc.stdout and "multiply-add = 2 FLOPs" in proc.stdout
    assert json.loads(out.read_text())[0]["input"] == [4, 32, 32]


def test_paper_flops_only_beside_the_same_input():
    """C3D's 296.7 GFLOPs is at 16×224×224 (Table 3): at our default 112 it is no ratio and
    not a figure beside ours, but kept apart with the input it was measured at."""
    row = profile_model("c3d")  # 16×112×112
    assert "paper_gflops" not in row and "ratio_gflops" not in row
    assert row["paper_gflops_other_input"] == {"input": [16, 224, 224], "gflops": 296.7}
    assert "(paper at 16×224×224: 296.7)" in format_table([row])
    assert "ratio_params_m" in row  # parameters do not depend on the input
    row = profile_model("c3d", size=224)
    assert row["ratio_gflops"] == pytest.approx(row["gflops"] / 296.7)
    assert "paper_gflops_other_input" not in row and "/ 296.7 ×1.04" in format_table([row])


@pytest.mark.parametrize(("name", "size_mb"), [("c3d", 321.0), ("c3d_std", 209.0)])
def test_table2_sizes_come_from_the_unit_table(name, size_mb):
    row = profile_model(name, frames=4, size=32)
    assert row["paper_size_mb"] == size_mb
    assert "paper_size_mb" not in profile_model("mrst_t_net_small", frames=4, size=32)
