import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mrstnet.engine.checkpoint import load_checkpoint
from mrstnet.engine.config import build_config
from mrstnet.engine.train import EpochSampler, lr_factor

from .engine_toy import run

ROOT = Path(__file__).resolve().parents[2]
TOY = str(ROOT / "tests" / "engine" / "engine_toy.py")
RECIPE = ["epochs=3", "batch_size=8", "lr=0.01", "dropout=0.3", "ckpt_every=3", "log_every=2"]


def _toy(out, *extra, sets=RECIPE, **kw):
    return subprocess.Popen(
        [sys.executable, TOY, str(out), *extra, "--set", *sets],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kw,
    )


def _finish(proc):
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


def _assert_same_state(a: dict, b: dict, exact=True):
    assert a["step"] == b["step"] and a["epoch"] == b["epoch"]
    for name, t in a["state_dict"].items():
        u = b["state_dict"][name]
        assert torch.equal(t, u) if exact else torch.allclose(t, u, atol=1e-5), name


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    ref = _toy(whole)
    proc = _toy(killed, "--slow", "0.03")  # slow data: time to kill it mid-run
    deadline = time.time() + 60
    while not (killed / "last.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _finish(ref)
    ckpt = load_checkpoint(killed / "last.pt")
    assert 0 < ckpt["step"] < 12, "the kill should land mid-run"
    out = _finish(_toy(killed, "--resume"))
    assert f"resumed from {killed / 'last.pt'}" in out
    a, b = load_checkpoint(whole / "last.pt"), load_checkpoint(killed / "last.pt")
    _assert_same_state(a, b)
    assert a["step"] == 12
    for s, t in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(s["exp_avg"], t["exp_avg"])
    assert a["classes"] == ["right", "left"] and a["data"]["frames"] == 16
    assert {"model", "scheduler", "scaler", "rng", "preset"} <= set(a)


def test_torchrun_two_processes_match_one(tmp_path):
    # no random augmentation: each process draws its own random crops, so only the data
    # order (sharded global batches) and the gradient all-reduce are compared here
    sets = ["epochs=1", "batch_size=8", "lr=0.01", "val_every=1"]
    one = _toy(tmp_path / "one", "--fixed", sets=sets)
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            TOY,
            str(tmp_path / "two"),
            "--fixed",
            "--set",
            *sets,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert two.returncode == 0, two.stdout + two.stderr
    _finish(one)
    a = load_checkpoint(tmp_path / "one" / "last.pt")
    b = load_checkpoint(tmp_path / "two" / "last.pt")
    assert a["step"] == b["step"] == 4
    _assert_same_state(a, b, exact=False)
    assert len(b["rng"]) == 2  # one RNG state per process
    # rank 0 alone logs: one epoch line, and validation saw every video once
    lines = [json.loads(x) for x in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    epochs = [x for x in lines if x["kind"] == "epoch"]
    assert len(epochs) == 1
    one_epochs = [json.loads(x) for x in (tmp_path / "one" / "log.jsonl").read_text().splitlines()]
    assert epochs[0]["val_top1"] == one_epochs[-1]["val_top1"]


def test_log_lines_and_best_checkpoint(tmp_path):
    summary = run(str(tmp_path), overrides=["epochs=2", "batch_size=8", "log_every=1"])
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    train = [x for x in lines if x["kind"] == "train"]
    assert len(train) == 8 and [x["step"] for x in train] == list(range(1, 9))
    for x in lines:
        assert {"loss", "acc", "lr", "clips_per_s", "data_wait"} <= set(x)
        assert 0 <= x["data_wait"] <= 1 and 0 <= x["acc"] <= 1
    assert (tmp_path / "best.pt").exists() and summary["epochs_done"] == 2
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"] == summary["best_top1"]


def test_sampler_shards_a_global_batch_and_resumes_mid_epoch():
    whole = list(EpochSampler(10, seed=3).__iter__())
    r0, r1 = EpochSampler(10, rank=0, world=2, seed=3), EpochSampler(10, rank=1, world=2, seed=3)
    assert sorted(list(r0) + list(r1)) == sorted(whole)
    assert set(list(r0)[:2] + list(r1)[:2]) == set(whole[:4])  # step 1 of batch 4 = batch 2 × 2
    s = EpochSampler(10, seed=3)
    s.set_epoch(0, start=4)
    assert list(s) == whole[4:] and len(s) == 6
    s.set_epoch(1)
    assert list(s) != whole


@pytest.mark.parametrize("schedule", ["cosine", "step", "constant"])
def test_lr_schedule_warms_up_then_decays(schedule):
    cfg = build_config(
        None, [f"schedule={schedule}", "warmup_epochs=1", "epochs=4", "step_epochs=2"]
    )
    f = lr_factor(cfg, steps_per_epoch=10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    if schedule == "constant":
        assert f(39) == 1.0
    elif schedule == "step":
        assert f(19) == 1.0 and f(20) == pytest.approx(0.1)
    else:
        assert f(10) == pytest.approx(1.0) and f(39) < 0.01


@pytest.mark.slow  # inductor compiles C++ kernels for the toy model: ~20-60 s here
def test_compile_option_trains_like_eager(tmp_path):
    """`--set compile=true` wraps the training model in torch.compile; same maths as eager
    (no dropout: inductor draws its own random masks)."""
    sets = ["epochs=1", "batch_size=8", "lr=0.01", "dropout=0", "val_every=0"]
    run(str(tmp_path / "eager"), overrides=sets)
    try:
        run(str(tmp_path / "compiled"), overrides=[*sets, "compile=true"])
    finally:
        torch._dynamo.reset()
    a = load_checkpoint(tmp_path / "eager" / "last.pt")
    b = load_checkpoint(tmp_path / "compiled" / "last.pt")
    assert b["preset"]["compile"] is True
    _assert_same_state(a, b, exact=False)
