import fcntl
import itertools
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import torch

from mrstnet.engine.checkpoint import load_checkpoint
from mrstnet.engine.config import build_config
from mrstnet.engine.schedule import lr_factor
from mrstnet.engine.seeding import EpochSampler, SeededItems

from .engine_toy import AUGMENT as TOY_AUGMENT
from .engine_toy import Stopped, run

ROOT = Path(__file__).resolve().parents[2]
TOY = str(ROOT / "tests" / "engine" / "engine_toy.py")
# 32 items, batch 8: 4 steps an epoch, 12 in all; a checkpoint after every step
RECIPE = ["epochs=3", "batch_size=8", "lr=0.01", "dropout=0.3", "ckpt_every=1", "log_every=2"]


_RUNS = itertools.count()


def _toy(out, *extra, sets=RECIPE):
    # output to a file, not a pipe: the DataLoader workers of a SIGKILLed run outlive it
    # for a few seconds (until they notice), and would hold a pipe open that long
    log = Path(f"{out}.{next(_RUNS)}.log")
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, TOY, str(out), *extra, "--set", *sets],
            cwd=ROOT,
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    proc.log = log
    return proc


def _finish(proc, code=0):
    proc.wait(timeout=120)
    out = proc.log.read_text()
    assert proc.returncode == code, out
    return out


def _log(run_dir, kind):
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    return [x for x in lines if x["kind"] == kind]


def _assert_same_state(a: dict, b: dict, exact=True):
    assert a["step"] == b["step"] and a["epoch"] == b["epoch"]
    for name, t in a["state_dict"].items():
        u = b["state_dict"][name]
        assert torch.equal(t, u) if exact else torch.allclose(t, u, atol=1e-5), name


# every augmentation on, and label smoothing over the soft targets
AUGMENT = [*TOY_AUGMENT, "label_smoothing=0.1"]


@pytest.mark.parametrize("workers, augment", [(0, False), (2, False), (2, True)])
def test_sigkill_then_resume_matches_uninterrupted(tmp_path, workers, augment):
    """SIGKILL right after step 1 (mid-epoch, checkpointed), then --resume: the same
    parameters, optimizer state and epoch logs as a run that was never stopped. With
    DataLoader workers the resumed sampler hands the batches to other workers than the
    first run did, so the random augmentation must not depend on which worker loads (nor
    mixup/cutmix on how many steps this process ran)."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    sets = [*RECIPE, f"num_workers={workers}", *(AUGMENT if augment else [])]
    ref = _toy(whole, sets=sets)
    _finish(_toy(killed, "--kill-after", "1", sets=sets), code=-signal.SIGKILL)
    assert load_checkpoint(killed / "last.pt")["step"] == 1
    out = _finish(_toy(killed, "--resume", sets=sets))
    _finish(ref)
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
    # the epoch and train lines of the resumed run are the uninterrupted run's
    keys = ("epoch", "step", "loss", "acc", "val_top1")
    for kind in ("epoch", "train"):
        expected = [{k: x.get(k) for k in keys} for x in _log(whole, kind)]
        assert [{k: x.get(k) for k in keys} for x in _log(killed, kind)] == expected


def test_resume_from_an_epochs_last_step_logs_the_whole_epoch(tmp_path):
    """A checkpoint from ckpt_every at an epoch's last step, the process stopped before
    the epoch's end (in validation): the resumed run logs that epoch's training figures
    as an uninterrupted run does, not zeros."""
    sets = ["epochs=2", "batch_size=8", "lr=0.01", "ckpt_every=1", "log_every=1"]
    run(str(tmp_path / "whole"), overrides=sets)
    with pytest.raises(Stopped):
        run(str(tmp_path / "stopped"), overrides=sets, stop_after=4)
    ckpt = load_checkpoint(tmp_path / "stopped" / "last.pt")
    assert (ckpt["step"], ckpt["epoch"]) == (4, 0)
    run(str(tmp_path / "stopped"), overrides=sets, resume=True)
    a, b = _log(tmp_path / "whole", "epoch"), _log(tmp_path / "stopped", "epoch")
    assert [x["epoch"] for x in b] == [1, 2]
    assert b[0]["loss"] > 0 and b[0]["clips_per_s"] > 0
    for x, y in zip(a, b, strict=True):
        assert (x["loss"], x["acc"], x["val_top1"]) == (y["loss"], y["acc"], y["val_top1"])


def _torchrun(out, *extra, sets):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            TOY,
            str(out),
            *extra,
            "--set",
            *sets,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_torchrun_two_processes_match_one(tmp_path):
    # random augmentation included: an item's random crop is a function of (seed, epoch,
    # index) whichever process loads it; GroupNorm, so no per-process batch statistics
    sets = ["epochs=1", "batch_size=8", "lr=0.01", "val_every=1"]
    one = _toy(tmp_path / "one", sets=sets)
    two = _torchrun(tmp_path / "two", sets=sets)
    assert two.returncode == 0, two.stdout + two.stderr
    _finish(one)
    a = load_checkpoint(tmp_path / "one" / "last.pt")
    b = load_checkpoint(tmp_path / "two" / "last.pt")
    assert a["step"] == b["step"] == 4
    _assert_same_state(a, b, exact=False)
    assert len(b["rng"]) == 2  # one RNG state per process
    # rank 0 alone logs: one epoch line, and validation saw every video once
    epochs = _log(tmp_path / "two", "epoch")
    assert len(epochs) == 1
    assert epochs[0]["val_top1"] == _log(tmp_path / "one", "epoch")[-1]["val_top1"]
    assert "Grad strides do not match" not in two.stderr  # 1×1×1 conv, channels_last_3d


def test_torchrun_batchnorm_validates_the_saved_model(tmp_path):
    """Without SyncBatchNorm each process keeps its own running statistics; validation
    must use rank 0's (the saved model's) on every process."""
    sets = ["epochs=1", "batch_size=8", "lr=0.01", "val_every=1"]
    two = _torchrun(tmp_path / "two", "--norm", "batch", sets=sets)
    assert two.returncode == 0, two.stdout + two.stderr
    assert "buffers equal across ranks: True" in two.stdout


def test_sync_bn_is_refused_on_cpu(tmp_path):
    with pytest.raises(ValueError, match="sync_bn needs CUDA"):
        run(str(tmp_path), overrides=["sync_bn=true"], norm="batch")


def test_log_lines_and_best_checkpoint(tmp_path):
    summary, _ = run(str(tmp_path), overrides=["epochs=2", "batch_size=8", "log_every=1"])
    train = _log(tmp_path, "train")
    assert len(train) == 8 and [x["step"] for x in train] == list(range(1, 9))
    for x in _log(tmp_path, "train") + _log(tmp_path, "epoch"):
        assert {"loss", "acc", "lr", "clips_per_s", "data_wait"} <= set(x)
        assert 0 <= x["data_wait"] <= 1 and 0 <= x["acc"] <= 1
    # `epoch` counts from 1 on both kinds of line: steps 1-4 are epoch 1, steps 5-8 epoch 2
    assert [x["epoch"] for x in train] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert [(x["epoch"], x["step"]) for x in _log(tmp_path, "epoch")] == [(1, 4), (2, 8)]
    assert (tmp_path / "best.pt").exists() and summary["epochs_done"] == 2
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"] == summary["best_top1"]


def _stderr_of_toy(out, tty: bool) -> str:
    """Train the toy with --progress, its stderr a terminal (a pseudo-terminal) or a file."""
    sets = ["epochs=1", "batch_size=8", "val_every=1"]
    argv = [sys.executable, TOY, str(out), "--progress", "--set", *sets]
    if not tty:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr.decode()
    main, sub = pty.openpty()
    # a terminal 100 columns wide (a new pseudo-terminal has 0: tqdm would draw nothing)
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sub)
    os.close(sub)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


def test_progress_bars_on_a_terminal_only(tmp_path):
    """Bars (training, then validation) on a terminal; none in a redirected log."""
    on_terminal = _stderr_of_toy(tmp_path / "tty", tty=True)
    assert "epoch 1/1: " in on_terminal and "validate: " in on_terminal and "%|" in on_terminal
    in_a_file = _stderr_of_toy(tmp_path / "file", tty=False)
    assert "epoch 1/1: " not in in_a_file and "%|" not in in_a_file


def test_a_run_dir_with_a_run_is_refused_unless_resume_or_overwrite(tmp_path):
    sets = ["epochs=1", "batch_size=8", "log_every=1"]
    run(str(tmp_path), overrides=sets)
    before = load_checkpoint(tmp_path / "last.pt")
    with pytest.raises(FileExistsError, match="--resume continues it, --overwrite"):
        run(str(tmp_path), overrides=sets)
    _assert_same_state(before, load_checkpoint(tmp_path / "last.pt"))
    with pytest.raises(ValueError, match="give one"):
        run(str(tmp_path), overrides=sets, resume=True, overwrite=True)
    run(str(tmp_path), overrides=[*sets, "seed=1"], overwrite=True)
    assert load_checkpoint(tmp_path / "last.pt")["preset"]["seed"] == 1
    assert len(_log(tmp_path, "epoch")) == 1  # a fresh log, not the two runs' lines


def test_init_skips_the_classifier_when_the_classes_differ(tmp_path):
    """Same number of classes, other names: class i there is not class i here."""
    run(str(tmp_path / "src"), overrides=["epochs=1", "batch_size=8", "lr=0.05", "val_every=0"])
    src = load_checkpoint(tmp_path / "src" / "last.pt")["state_dict"]  # classes right, left
    fine_tune = ["epochs=1", "batch_size=8", "max_steps=1", "lr=1e-9", "val_every=0"]

    def init(classes):
        lines = []
        _, model = run(
            None,
            overrides=fine_tune,
            init=str(tmp_path / "src" / "last.pt"),
            classes=classes,
            log=lines.append,
        )
        return model.state_dict(), "\n".join(lines)

    same, text = init(["right", "left"])
    assert "loaded 8/8 tensors" in text and "classifier not loaded" not in text
    assert torch.allclose(same["fc.weight"], src["fc.weight"], atol=1e-6)
    other, text = init(["up", "down"])
    assert "loaded 6/8 tensors" in text and "[up, down] here" in text
    assert "classifier not loaded (fc.bias, fc.weight)" in text
    assert torch.allclose(other["features.0.weight"], src["features.0.weight"], atol=1e-6)
    assert not torch.allclose(other["fc.weight"], src["fc.weight"], atol=1e-3)


def test_training_items_depend_on_seed_epoch_and_index_only(synthetic_root, tmp_path):
    """The real dataset: random clip start and crop, and the redraw after an unreadable
    video, are the same whatever the loading process's RNG state was; the loading
    process's own streams are left as they were (with num_workers=0 that is the trainer)."""
    from mrstnet.data import ClipSpec, VideoClipDataset, VideoRecord

    good = sorted(synthetic_root.glob("Move*/*.avi"))[:4]
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    videos = [VideoRecord(p, i % 2) for i, p in enumerate(good)] + [VideoRecord(empty, 0)]
    spec = ClipSpec(frames=4, short_side=24, crop_size=16)
    ds = VideoClipDataset(videos, ["a", "b"], spec, train=True)
    items = SeededItems(ds, seed=0)
    for i in range(len(videos)):
        torch.manual_seed(100 + i)
        before = torch.get_rng_state()
        a = items[i]
        assert torch.equal(torch.get_rng_state(), before)
        torch.manual_seed(200 + i)
        b = items[i]
        assert torch.equal(a["video"], b["video"]) and a["video_index"] == b["video_index"]
    assert items[4]["video_index"] != 4 and str(empty) in ds.bad  # redrawn, deterministically
    crops = set()
    for epoch in range(4):  # another epoch, another crop
        items.epoch = epoch
        crops.add(items[0]["video"].numpy().tobytes())
    assert len(crops) > 1


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
