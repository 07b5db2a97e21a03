"""When training ends: the step budget, a time budget, early stopping on validation, the
plateau schedule; and that a resumed run keeps the counters these depend on."""

import argparse
import json
import math
from types import SimpleNamespace

import pytest
import torch

from mrstnet.commands.train import add_stopping_args, stopping_overrides
from mrstnet.engine.checkpoint import load_checkpoint
from mrstnet.engine.config import build_config, parse_duration, parse_val_every
from mrstnet.engine.state import RunState
from mrstnet.engine.train import better, should_stop

from .engine_toy import AUGMENT, Stopped, run

# 32 items, batch 8: 4 steps an epoch; the toy's validation set is 8 videos x 2 clips
BASE = ["batch_size=8", "lr=0.01", "log_every=1"]


def _log(run_dir, kind):
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    return [x for x in lines if x["kind"] == kind]


def test_a_run_stops_on_patience_and_keeps_the_best_checkpoint(tmp_path):
    """min_delta larger than any change of the loss: only the first round improves, so
    with patience 2 the run ends at the third round (step 3), best.pt at step 1."""
    sets = [*BASE, "epochs=50", "val_every_steps=1", "monitor=val_loss", "min_delta=100"]
    summary, _ = run(str(tmp_path), overrides=[*sets, "patience=2"])
    assert summary["stopped"] == "patience" and summary["steps"] == 3
    assert summary["best_step"] == 1
    vals = _log(tmp_path, "val")
    assert [v["step"] for v in vals] == [1, 2, 3]
    assert [v["improved"] for v in vals] == [True, False, False]
    assert [v["bad_rounds"] for v in vals] == [0, 1, 2]
    (stop,) = _log(tmp_path, "stop")
    assert stop["stopped"] == "patience" and stop["best_step"] == 1 and stop["step"] == 3
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == 1 and best["best_score"] == vals[0]["val_loss"]
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 3 and last["bad_rounds"] == 2
    # no extra validation of step 3 at the epoch's end: the stop came from that round
    assert len(vals) == 3


def test_patience_from_keeps_early_rounds_out_of_the_count(tmp_path):
    """The same run as above with patience_from=3: rounds at steps 1 and 2 are the warm-up's
    (no bad round, no lr cut), so counting starts at step 3 and the run ends at step 4."""
    sets = [*BASE, "epochs=50", "val_every_steps=1", "monitor=val_loss", "min_delta=100"]
    sets += ["schedule=plateau", "plateau_patience=1", "warmup_epochs=0"]
    summary, _ = run(str(tmp_path), overrides=[*sets, "patience=2", "patience_from=3"])
    assert summary["stopped"] == "patience" and summary["steps"] == 4
    vals = _log(tmp_path, "val")
    assert [v["step"] for v in vals] == [1, 2, 3, 4]
    assert [v["bad_rounds"] for v in vals] == [0, 0, 1, 2]
    # the plateau lr is cut once per counted bad round, never in the warm-up
    assert [v["lr"] for v in vals[:2]] == [0.01, 0.01]
    assert vals[2]["lr"] < 0.01 and vals[3]["lr"] < vals[2]["lr"]


def test_best_checkpoint_follows_the_monitor(tmp_path):
    """Every round validated; best.pt holds the round with the lowest val loss."""
    sets = [*BASE, "epochs=2", "val_every_steps=2", "monitor=val_loss"]
    summary, _ = run(str(tmp_path), overrides=sets)
    vals = _log(tmp_path, "val")
    assert summary["stopped"] == "steps" and [v["step"] for v in vals] == [2, 4, 6, 8]
    lowest = min(vals, key=lambda v: v["val_loss"])
    assert summary["best_step"] == lowest["step"]
    assert load_checkpoint(tmp_path / "best.pt")["step"] == lowest["step"]
    assert summary["best_top1"] == lowest["val_top1"]
    assert all(v["val_loss"] > 0 for v in vals)


def test_a_run_stops_on_the_time_budget(tmp_path):
    """1000 epochs of steps cannot fit in 1.5 s: the budget ends the run, validated and
    checkpointed as the last, its training time at least the budget."""
    sets = [*BASE, "epochs=1000", "val_every=1", "time_budget=1.5"]
    summary, _ = run(str(tmp_path), overrides=sets)
    assert summary["stopped"] == "budget"
    assert 0 < summary["steps"] < 4000
    assert summary["seconds"] >= 1.5
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["step"] == summary["steps"] and last["elapsed"] >= 1.5
    (stop,) = _log(tmp_path, "stop")
    assert stop["stopped"] == "budget" and stop["seconds"] >= 1.5
    # the stop falls mid-epoch as a rule; its partial epoch is validated all the same
    assert _log(tmp_path, "val")[-1]["step"] == summary["steps"]


def test_a_spent_budget_stops_a_resumed_run_at_once_and_a_larger_one_continues(tmp_path):
    sets = [*BASE, "epochs=1000", "val_every=0", "time_budget=0.5"]
    first, _ = run(str(tmp_path), overrides=sets)
    assert first["stopped"] == "budget"
    again, _ = run(str(tmp_path), overrides=sets, resume=True)
    assert again["stopped"] == "budget" and again["steps"] == first["steps"]
    more, _ = run(str(tmp_path), overrides=[*sets[:-1], "time_budget=1.0"], resume=True)
    assert more["stopped"] == "budget" and more["steps"] > first["steps"]
    assert more["seconds"] >= 1.0 and more["seconds_here"] < more["seconds"]


@pytest.mark.parametrize("augment", [[], AUGMENT], ids=["plain", "augmented"])
def test_resume_keeps_patience_elapsed_time_and_lr_cuts(tmp_path, augment):
    """Stopped in the validation of step 3 (checkpoint at step 2), then resumed: the same
    weights, validation rounds, patience counter and plateau cuts as an uninterrupted run,
    and the training time of the first process is kept; with the augmentations on too."""
    sets = [
        *augment,
        *BASE,
        "epochs=3",
        "ckpt_every=1",
        "val_every_steps=1",
        "monitor=val_loss",
        "min_delta=0.02",
        "patience=100",
        "schedule=plateau",
        "plateau_patience=2",
        "gamma=0.5",
    ]
    whole, _ = run(str(tmp_path / "whole"), overrides=sets)
    # each step: one training batch, then a validation of two batches
    with pytest.raises(Stopped):
        run(str(tmp_path / "cut"), overrides=sets, stop_after=8)
    mid = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert mid["step"] == 2 and mid["elapsed"] > 0
    again, _ = run(str(tmp_path / "cut"), overrides=sets, resume=True)
    a, b = (
        load_checkpoint(tmp_path / "whole" / "last.pt"),
        load_checkpoint(tmp_path / "cut" / "last.pt"),
    )
    for name, t in a["state_dict"].items():
        assert torch.equal(t, b["state_dict"][name]), name
    for key in ("step", "best_step", "best_score", "bad_rounds", "val_step"):
        assert a[key] == b[key], key
    assert a["scheduler"]["cuts"] == b["scheduler"]["cuts"]
    assert b["elapsed"] >= mid["elapsed"]
    keys = ("step", "val_loss", "bad_rounds", "lr", "improved")
    want = [{k: v[k] for k in keys} for v in _log(tmp_path / "whole", "val")]
    got = [{k: v[k] for k in keys} for v in _log(tmp_path / "cut", "val")]
    assert got == want
    assert whole["stopped"] == again["stopped"] == "steps"


def test_plateau_cuts_the_lr_after_rounds_without_improvement(tmp_path):
    """Only the first round improves: cuts after rounds 1+2 and 1+4 without improvement."""
    sets = [*BASE, "epochs=2", "val_every_steps=1", "monitor=val_loss", "min_delta=100"]
    sets += ["schedule=plateau", "plateau_patience=2", "gamma=0.5"]
    run(str(tmp_path), overrides=sets)
    vals = _log(tmp_path, "val")
    # the lr a round reports is the one the next step trains with
    assert [v["lr"] for v in vals] == pytest.approx(
        [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.00125, 0.00125]
    )
    train = _log(tmp_path, "train")
    assert [t["lr"] for t in train][3] == pytest.approx(0.005)  # step 4 after the cut at 3


@pytest.mark.parametrize("reason", ["steps", "budget", "patience"])
def test_should_stop_stays_true_once_true(reason):
    """Whatever the loop does after a stop (another validation, more time, another step),
    should_stop keeps answering True with the first reason."""
    cfg = build_config(None, ["epochs=2", "time_budget=10", "patience=2", "val_every=1"])
    d = SimpleNamespace(device=torch.device("cpu"))
    r = SimpleNamespace(cfg=cfg, last_step=8, d=d)
    state = RunState()
    assert not should_stop(r, state)
    if reason == "steps":
        state.step, state.epoch = 8, 2
    elif reason == "budget":
        state.elapsed = 10.0
    else:
        state.bad_rounds = 2
    assert should_stop(r, state) and state.stopped == reason
    state.bad_rounds = 0  # a later round that improved
    state.step += 1
    state.elapsed += 5
    assert should_stop(r, state) and state.stopped == reason


def test_better_by_more_than_min_delta():
    assert better(0.5, None, "val_loss", 0.0) and better(0.3, None, "val_top1", 0.0)
    assert better(0.49, 0.5, "val_loss", 0.0) and not better(0.5, 0.5, "val_loss", 0.0)
    assert not better(0.495, 0.5, "val_loss", 0.01) and better(0.48, 0.5, "val_loss", 0.01)
    assert better(0.6, 0.5, "val_top1", 0.05) and not better(0.55, 0.5, "val_top1", 0.05)


@pytest.mark.parametrize(
    "text, seconds",
    [("90", 90.0), (90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1.5h", 5400.0), ("0.5M", 30.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert build_config(None, [f"time_budget={text}"]).time_budget == seconds


@pytest.mark.parametrize("text", ["15 min", "fast", "m", "-3m"])
def test_bad_durations_say_the_form(text):
    with pytest.raises(ValueError, match="time_budget|duration"):
        build_config(None, [f"time_budget={text}"])


def test_val_every_in_epochs_or_steps():
    assert parse_val_every("3") == {"val_every": 3, "val_every_steps": 0}
    assert parse_val_every("2epochs") == {"val_every": 2, "val_every_steps": 0}
    assert parse_val_every("50steps") == {"val_every": 0, "val_every_steps": 50}
    with pytest.raises(ValueError, match="N, Nepochs or Nsteps"):
        parse_val_every("often")


def test_train_flags_become_config_keys():
    p = argparse.ArgumentParser()
    add_stopping_args(p)
    args = ["--time-budget", "15m", "--patience", "4", "--val-every", "25steps"]
    keys = stopping_overrides(p.parse_args([*args, "--patience-from", "300"]))
    assert keys == {
        "time_budget": 900.0,
        "patience": 4,
        "patience_from": 300,
        "val_every": 0,
        "val_every_steps": 25,
    }
    cfg = build_config("demo", None, **keys)
    assert (cfg.time_budget, cfg.patience, cfg.val_every_steps) == (900.0, 4, 25)
    assert cfg.patience_from == 300
    assert stopping_overrides(p.parse_args([])) == {}


def test_patience_without_validation_is_said_and_off(tmp_path):
    said = []
    sets = ["epochs=2", "batch_size=8", "patience=1", "schedule=plateau", "val_every=0"]
    summary, _ = run(str(tmp_path), overrides=sets, log=said.append)
    assert summary["stopped"] == "steps" and summary["steps"] == 8
    assert any("does not validate" in line for line in said)


def test_monitor_must_be_known():
    with pytest.raises(ValueError, match="'monitor' must be val_top1 or val_loss"):
        build_config(None, ["monitor=acc"])
    assert math.isclose(build_config(None, ["min_delta=1e-3"]).min_delta, 1e-3)
