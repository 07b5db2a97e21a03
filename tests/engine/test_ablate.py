"""`mrstnet ablate`: a tiny real ablation (2 units x 2 seeds, a few steps on real videos)
runs, appends its JSON lines, summarises with intervals and paired differences, and a
restart skips the runs that are done; and the statistics on numbers with known answers."""

import json
import math
import multiprocessing
import subprocess
import sys

import pytest

from mrstnet.cli import main
from mrstnet.engine.ablate import Spec, config_for, last_fifth, plan, read_results
from mrstnet.engine.stats import mean_ci, paired, sign_test, slope, t_cdf, t_quantile

# 4 training videos (one group held out for validation), 4 steps of batch 4
TINY = [
    "model_args={width_mult: 0.0625, fc_dim: 16}",
    "frames=8",
    "short_side=32",
    "crop_size=32",
    "batch_size=4",
    "epochs=100",
    "max_steps=4",
    "val_every_steps=2",
    "log_every=1",
    "num_workers=0",
    "threads=1",
]


def _ablate(root, out, *extra):
    args = ["ablate", "--root", str(root), "--out", str(out), "--units", "c3d", "std"]
    args += ["--seeds", "2", "--family", "c3d", "--test-clips", "1", "--jobs", "1"]
    return main([*args, *extra, "--set", *TINY])


def test_a_tiny_ablation_runs_resumes_and_summarises(synthetic_root, tmp_path, capsys):
    out = tmp_path / "abl"
    assert _ablate(synthetic_root, out) == 0
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["unit"], r["seed"]) for r in rows] == [
        ("c3d", 0),
        ("std", 0),
        ("c3d", 1),
        ("std", 1),
    ]
    for r in rows:
        assert r["steps"] == 4 and r["stopped"] == "steps" and r["best_step"] in (2, 4)
        assert 0 <= r["top1"] <= 1 and 0 <= r["shuffled_top1"] <= 1 and r["test_loss"] > 0
        assert [s for s, _ in r["curves"]["val_loss"]] == [2, 4]
        assert [s for s, _ in r["curves"]["train_loss"]] == [1, 2, 3, 4]
        assert r["last_fifth"]["train_loss_points"] >= 1
        assert (out / "runs" / "c3d" / f"{r['unit']}_seed{r['seed']}" / "best.pt").is_file()
    # the same seed, the same data order: both units' first step drew the same clips; the
    # seeds differ
    assert rows[0]["curves"]["train_loss"] != rows[2]["curves"]["train_loss"]
    summary = json.loads((out / "summary.json").read_text())
    (c3d, std) = summary["families"]["c3d"]
    assert c3d["unit"] == "c3d" and c3d["seeds"] == [0, 1]
    top1 = [100 * r["top1"] for r in rows if r["unit"] == "std"]
    assert std["top1"]["mean"] == pytest.approx(sum(top1) / 2)
    assert std["top1"]["half"] == pytest.approx(mean_ci(top1)["half"])
    diff = std["vs"]["c3d"]
    assert diff["seeds"] == [0, 1] and diff["mean"] == pytest.approx(
        sum(100 * (rows[i + 1]["top1"] - rows[i]["top1"]) for i in (0, 2)) / 2
    )
    md = (out / "summary.md").read_text()
    assert "| STD |" in md and "paper UCF101" in md and "86.9" in md
    late = sum(r["best_step"] == 4 for r in rows if r["unit"] == "std")  # step 4 of 4: late
    header = next(x for x in md.splitlines() if x.startswith("| unit |")).split("|")
    std_row = next(x for x in md.splitlines() if x.startswith("| STD |")).split("|")
    assert std["best_late"] == late
    assert std_row[header.index(" best late ")].strip() == f"{late}/2"
    assert "Paper's order (UCF101): STD > C3D" in md
    assert "Runs made on: " in md and rows[0]["cpu"] in md
    log = capsys.readouterr().out
    assert "[4/4]" in log and "0 done, 4 to run" in log

    # a restart: nothing to run, the lines stay, the summary is written again
    before = (out / "results.jsonl").read_text()
    (out / "summary.md").unlink()
    assert _ablate(synthetic_root, out) == 0
    assert (out / "results.jsonl").read_text() == before
    assert (out / "summary.md").is_file()
    assert "4 done, 0 to run" in capsys.readouterr().out

    # one more seed: only its two runs are trained and appended
    assert _ablate(synthetic_root, out, "--seeds", "3") == 0
    rows = read_results(out / "results.jsonl")
    assert len(rows) == 6 and sorted({r["seed"] for r in rows}) == [0, 1, 2]
    assert "4 done, 2 to run" in capsys.readouterr().out

    # another recipe in the same folder is refused, not mixed in
    other = [*TINY, "lr=0.5"]
    args = ["ablate", "--root", str(synthetic_root), "--out", str(out), "--units", "c3d"]
    args += ["--seeds", "1", "--family", "c3d", "--test-clips", "1"]
    assert main([*args, "--set", *other]) == 2
    assert "another protocol (recipe differ)" in capsys.readouterr().err


def test_a_half_trained_run_resumes_from_its_last_checkpoint(synthetic_root, tmp_path):
    """A run that got to step 2 before its process died is continued to step 4, not redone:
    its log keeps the first process's records."""
    from mrstnet.data.holdout import hold_out_first_group
    from mrstnet.engine.runner import train_run

    out = tmp_path / "abl"
    train_ann, val_ann = hold_out_first_group(synthetic_root, out / "splits")
    cfg = config_for(Spec("c3d", "std", 0), sets=[*TINY, "max_steps=2"])
    run_dir = out / "runs" / "c3d" / "std_seed0"
    train_run(
        cfg,
        dataset="ucf101",
        root=synthetic_root,
        out=run_dir,
        annotations=train_ann,
        val_annotations=val_ann,
        progress=False,
        log=lambda *a: None,
    )
    args = ["ablate", "--root", str(synthetic_root), "--out", str(out), "--units", "std"]
    args += ["--seeds", "1", "--family", "c3d", "--test-clips", "1", "--jobs", "1"]
    assert main([*args, "--set", *TINY]) == 0
    log = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["kind"] == "stop"] == [2, 4]
    assert [r["step"] for r in log if r["kind"] == "train"] == [1, 2, 3, 4]
    (row,) = read_results(out / "results.jsonl")
    assert row["steps"] == 4


def test_the_two_families_build_their_networks():
    c3d = config_for(Spec("c3d", "mrst_p", 3))
    assert c3d.model == "c3d_mrst_p" and c3d.seed == 3 and c3d.model_args["fc_dim"] == 256
    net = config_for(Spec("mrst_net", "std", 1), sets=["lr=0.01"])
    assert net.model == "mrst_t_net_small" and net.model_args == {"unit": "std"}
    assert net.lr == 0.01 and net.seed == 1
    with pytest.raises(ValueError, match="family must be one of c3d, mrst_net"):
        config_for(Spec("resnet", "std", 0))
    runs = plan(["c3d", "mrst_net"], ["c3d", "std"], [0, 1])
    assert [r.name for r in runs[:3]] == ["c3d/c3d_seed0", "c3d/std_seed0", "mrst_net/c3d_seed0"]
    assert runs[4].name == "c3d/c3d_seed1"


FORK_CHECK = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from mrstnet.engine.ablate import fork_loaders

def child_method():
    return multiprocessing.get_start_method()

def method(init):
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn, initializer=init) as pool:
        return pool.submit(child_method).result()

if __name__ == "__main__":
    print(method(None), method(fork_loaders))
"""


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_run_processes_start_their_loader_workers_by_fork(tmp_path):
    # `mrstnet ablate --jobs 2` spawns its runs, and a spawned process inherits "spawn" as its
    # start method: without the initializer every DataLoader of a run (one an epoch, one a
    # validation round) started a fresh interpreter. A fresh parent, as the command has.
    script = tmp_path / "check.py"
    script.write_text(FORK_CHECK)
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["spawn", "fork"]


def test_last_fifth_slope_and_flatness():
    steps = list(range(0, 1001, 50))
    falling = {
        "val_loss": [[s, 1 - s / 1000] for s in steps],
        "train_loss": [[s, 0.5] for s in steps],
    }
    f = last_fifth(falling)
    assert f["from_step"] == 800 and f["to_step"] == 1000 and f["val_loss_points"] == 5
    assert f["val_loss_slope_per_1k"] == pytest.approx(-1.0)
    assert f["val_loss_change"] == pytest.approx(-0.2) and f["flat"] is False
    assert f["train_loss_change"] == pytest.approx(0.0)
    level = {"val_loss": [[s, 0.3 + 0.01 * (s % 100 == 0)] for s in steps], "train_loss": []}
    assert last_fifth(level)["flat"] is True


def test_t_distribution_on_known_values():
    # two-sided 95 % critical values of Student's t (tables)
    for df, t in [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)]:
        assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-4)
    assert t_cdf(0.0, 5) == 0.5
    assert 2 * (1 - t_cdf(2.0, 10)) == pytest.approx(0.07339, abs=1e-5)
    assert t_cdf(-1.5, 7) == pytest.approx(0.08865, abs=1e-5)
    assert t_quantile(0.025, 4) == pytest.approx(-2.7764, abs=1e-4)


def test_mean_ci_and_paired_tests_on_known_numbers():
    m = mean_ci([1, 2, 3, 4, 5])
    assert m["mean"] == 3 and m["sd"] == pytest.approx(math.sqrt(2.5))
    assert m["half"] == pytest.approx(2.7764 * math.sqrt(2.5) / math.sqrt(5), abs=1e-4)
    assert mean_ci([7])["half"] is None
    d = paired([3, 4, 5, 6, 7], [1, 2, 3, 4, 6])  # differences 2, 2, 2, 2, 1
    assert d["mean"] == pytest.approx(1.8) and d["t"] == pytest.approx(9.0)
    assert d["p_t"] == pytest.approx(0.000844, abs=2e-6)
    assert d["sign"] == {"wins": 5, "losses": 0, "ties": 0, "p": 0.0625}
    same = paired([1, 2, 3], [1, 2, 3])
    assert same["p_t"] == 1.0 and same["sign"]["ties"] == 3 and same["sign"]["p"] == 1.0
    assert sign_test([1, -1, 1, 1, 0]) == {"wins": 3, "losses": 1, "ties": 1, "p": 0.625}
    assert slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0) and slope([1], [1]) is None
