"""benchmarks/finetune_study.py's record and report (its runs are subprocesses: `--smoke`
runs them end to end by hand): the last row of a run wins, means with t intervals over
seeds, gains paired by seed."""

import importlib.util
import json
from pathlib import Path

import pytest

from mrstnet.engine import stats

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "finetune_study.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("finetune_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(arm, seed, top1, target="seen", steps=450):
    return {"target": target, "arm": arm, "seed": seed, "steps": steps, "top1": top1}


def test_summary_means_intervals_and_paired_gains(study, tmp_path):
    path = tmp_path / "runs.jsonl"
    scratch, tuned = [0.50, 0.60, 0.55], [0.80, 0.95, 0.85]
    study.append_jsonl(path, _row("scratch", 0, 0.10))  # redone below: the last row counts
    for seed, (a, b) in enumerate(zip(scratch, tuned, strict=True)):
        study.append_jsonl(path, _row("scratch", seed, a))
        study.append_jsonl(path, _row("finetune", seed, b))
    study.append_jsonl(path, _row("finetune_aug", 0, 0.9))  # one seed: no interval
    runs = study.read_jsonl(path)
    assert len(runs) == 7
    s = study.summarise(runs)
    by_arm = {r["arm"]: r for r in s["table"]}
    assert by_arm["scratch"]["top1"] == scratch and by_arm["scratch"]["seeds"] == [0, 1, 2]
    assert by_arm["finetune"]["top1_ci95"] == pytest.approx(stats.mean_ci(tuned)["half"])
    assert by_arm["finetune_aug"]["top1_ci95"] is None
    (pre,) = [g for g in s["gains"] if g["arm"] == "finetune" and g["against"] == "scratch"]
    want = stats.paired(tuned, scratch)
    assert pre["diff_mean"] == pytest.approx(0.95 / 3) and pre["diff_ci95"] == pytest.approx(
        want["half"]
    )
    (aug,) = [g for g in s["gains"] if g["arm"] == "finetune_aug"]
    assert aug["seeds"] == [0] and aug["diff_ci95"] is None
    text = study.markdown(
        {"summary": s, "cpu": "x", "torch": "y", "smoke": False, "pretrain": None, "runs": runs}
    )
    assert "| seen | finetune | 450 | 80.0, 95.0, 85.0 | 86.7 ± " in text
    assert "finetune - scratch | 31.7 ± " in text and "n/a" in text
    json.dumps(s)  # the summary goes into finetune.json


def test_fine_tuned_against_longer_training_from_scratch(study):
    """From-scratch runs given more steps than the fine-tuned ones are compared with them,
    paired by seed; runs of the same budget stay in their own gains."""
    runs = [_row("finetune_aug", s, x, steps=300) for s, x in enumerate([0.9, 0.95, 1.0])]
    runs += [_row("scratch_aug", s, x, steps=1500) for s, x in enumerate([0.5, 0.75, 0.6])]
    runs += [_row("scratch_aug", 0, 0.2, steps=300)]
    gains = study.summarise(runs)["gains"]
    (longer,) = [g for g in gains if g["against"] == "scratch_aug (1500 steps)"]
    assert longer["gain"] == "pre-training against 5x the steps from scratch"
    assert longer["seeds"] == [0, 1, 2] and longer["diff_mean"] == pytest.approx(1.0 / 3)
    same = [g for g in gains if g["against"] == "scratch_aug"]
    assert [g["seeds"] for g in same] == [[0]] and same[0]["diff_mean"] == pytest.approx(0.7)
