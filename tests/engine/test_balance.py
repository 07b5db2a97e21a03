"""Class imbalance: the class-balanced sampler (seeded by (seed, epoch), sharded, resumable,
each repeat its own item), class weights in the loss, and exact resume with either."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from mrstnet.engine.balance import (
    BalancedSampler,
    Repeats,
    class_table,
    class_weights,
    labels_of,
)
from mrstnet.engine.checkpoint import load_checkpoint
from mrstnet.engine.train import SeededItems

from .engine_toy import Stopped, run

ROOT = Path(__file__).resolve().parents[2]
TOY = str(ROOT / "tests" / "engine" / "engine_toy.py")
SKEWED = [0] * 90 + [1] * 8 + [2] * 2


def test_balanced_draws_even_out_the_classes():
    s = BalancedSampler(SKEWED, seed=0)
    order = list(s)
    assert len(order) == len(s) == 100
    per_class = Counter(SKEWED[i % 100] for i in order)
    assert all(20 <= per_class[c] <= 47 for c in range(3)), per_class  # about a third each
    # the 2 videos of class 2 are drawn over and over, each draw its own item index
    assert len(order) == len(set(order))
    assert {i % 100 for i in order if SKEWED[i % 100] == 2} == {98, 99}


def test_balanced_draws_are_seeded_by_seed_and_epoch():
    a, b, c = (BalancedSampler(SKEWED, seed=s) for s in (0, 0, 1))
    assert list(a) == list(b) and list(a) != list(c)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    a.set_epoch(0)
    assert list(a) == first


def test_balanced_draws_shard_over_processes_and_resume_mid_epoch():
    whole = list(BalancedSampler(SKEWED, seed=3))
    ranks = [BalancedSampler(SKEWED, rank=r, world=3, seed=3) for r in range(3)]
    shares = [list(r) for r in ranks]
    assert all(len(x) == 34 for x in shares)  # 100 padded to 102 so every rank gets as many
    assert sorted(sum(shares, [])) == sorted(whole + whole[:2])
    # step 1 of a global batch of 6 is the first 2 items of each rank: the first 6 of the order
    assert set(sum((x[:2] for x in shares), [])) == set(whole[:6])
    s = BalancedSampler(SKEWED, seed=3)
    s.set_epoch(0, start=40)
    assert list(s) == whole[40:] and len(s) == 60


def test_repeats_read_the_video_and_get_their_own_random_clip(synthetic_root):
    """Item index + k * N is video index again, with another seed: another clip or crop."""
    from mrstnet.data import ClipSpec, VideoClipDataset, VideoRecord

    paths = sorted(synthetic_root.glob("Move*/*.avi"))[:3]
    ds = VideoClipDataset(
        [VideoRecord(p, i % 2) for i, p in enumerate(paths)],
        ["a", "b"],
        ClipSpec(frames=4, short_side=32, crop_size=16),
        train=True,
    )
    items = SeededItems(Repeats(ds), seed=0)
    first, repeat, again = items[1], items[1 + 3], items[1]
    assert first["video_index"] == repeat["video_index"] == 1
    assert not torch.equal(first["video"], repeat["video"])
    assert torch.equal(first["video"], again["video"])
    assert labels_of(Repeats(ds)) == [0, 1, 0] and Repeats(ds).classes == ["a", "b"]


def test_class_weights_make_each_class_weigh_the_same():
    w = class_weights(SKEWED, 4)
    count = Counter(SKEWED)
    assert w[3] == 0  # no training videos
    totals = [float(w[c]) * count[c] for c in range(3)]
    assert totals == pytest.approx([100 / 3] * 3)
    assert float(sum(w[y] for y in SKEWED)) == pytest.approx(100)  # mean weight 1


def test_class_table_says_the_imbalance_and_what_balance_does():
    text = class_table(["walk", "run fast"], [0] * 9 + [1] * 3, [0, 1])
    assert "videos per class (train / val):" in text
    assert "run fast       3 / 1" in text
    assert "3.0x" in text and "--balance sampler or loss" in text
    assert "balance: loss" in class_table(["a", "b"], [0] * 9 + [1] * 3, None, "loss")
    many = class_table([f"c{i:02d}" for i in range(50)], list(range(50)) * 2 + [7])
    assert "the 5 smallest and 5 largest of 50 classes" in many and len(many.splitlines()) < 15


@pytest.mark.parametrize("balance", ["sampler", "loss"])
def test_balance_resumes_exactly(tmp_path, balance):
    """Stopped after step 1 and resumed: the same parameters as a run never stopped."""
    sets = ["epochs=2", "batch_size=8", "lr=0.01", "ckpt_every=1", f"balance={balance}"]
    run(str(tmp_path / "whole"), overrides=sets)
    with pytest.raises(Stopped):
        run(str(tmp_path / "stopped"), overrides=sets, stop_after=1)
    assert load_checkpoint(tmp_path / "stopped" / "last.pt")["step"] == 1
    run(str(tmp_path / "stopped"), overrides=sets, resume=True)
    a = load_checkpoint(tmp_path / "whole" / "last.pt")
    b = load_checkpoint(tmp_path / "stopped" / "last.pt")
    assert a["step"] == b["step"] == 8 and b["preset"]["balance"] == balance
    for name, t in a["state_dict"].items():
        assert torch.equal(t, b["state_dict"][name]), name


def test_balanced_sampler_changes_what_is_trained_on(tmp_path):
    sets = ["epochs=1", "batch_size=8", "lr=0.01", "val_every=0"]
    plain, _ = run(None, overrides=sets)
    drawn, _ = run(None, overrides=[*sets, "balance=sampler"])
    assert plain["loss"] != drawn["loss"]


def test_torchrun_two_processes_draw_as_one(tmp_path):
    """Each process takes its share of the same class-balanced order: two processes train
    as one does (GroupNorm: no per-process batch statistics)."""
    sets = ["epochs=1", "batch_size=8", "lr=0.01", "val_every=0", "balance=sampler"]
    run(str(tmp_path / "one"), overrides=[*sets, "threads=1"])
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
        + [TOY, str(tmp_path / "two"), "--set", *sets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert two.returncode == 0, two.stdout + two.stderr
    a = load_checkpoint(tmp_path / "one" / "last.pt")
    b = load_checkpoint(tmp_path / "two" / "last.pt")
    assert a["step"] == b["step"] == 4 and b["preset"]["balance"] == "sampler"
    for name, t in a["state_dict"].items():
        assert torch.allclose(t, b["state_dict"][name], atol=1e-5), name
