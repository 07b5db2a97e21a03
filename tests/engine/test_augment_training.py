"""Training with the augmentations on: `mrstnet train` on real videos with every option,
the config keys, and `--init pretrained:NAME`."""

import json

import pytest
import torch

from mrstnet.cli import main
from mrstnet.data import Augment
from mrstnet.engine.checkpoint import load_checkpoint, load_init
from mrstnet.engine.config import build_config, config_from_dict
from mrstnet.engine.pretrained import resolve, run_pretrain

from .test_commands import TINY

EVERYTHING = [
    "rrc_scale=[0.4, 1]",
    "color_jitter=[0.3, 0.3, 0.3, 0.05]",
    "erase_p=0.5",
    "frame_step_choices=[1, 2]",
    "mixup_alpha=0.4",
    "cutmix_alpha=1.0",
    "label_smoothing=0.1",
]


def test_train_with_every_augmentation_on(synthetic_root, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--dataset", "ucf101", "--root", str(synthetic_root), "--preset", "demo"]
    args += ["--model", "mrst_t_net_small", "--out", str(out), "--no-progress"]
    code = main([*args, "--set", *TINY, "val_every=0", "val_every_steps=0", *EVERYTHING])
    assert code in (0, None)
    ckpt = load_checkpoint(out / "last.pt")
    cfg = config_from_dict(ckpt["preset"])  # stored flat, read back whole
    assert cfg.augment.rrc_scale == (0.4, 1.0) and cfg.augment.frame_step_choices == (1, 2)
    assert cfg.augment.mixes and cfg.clip.flip is False
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    trained = [x for x in lines if x["kind"] in ("train", "epoch")]
    assert trained and all(x["loss"] > 0 and 0 <= x["acc"] <= 1 for x in trained)
    assert lines[-1]["kind"] == "stop" and lines[-1]["stopped"] == "steps"
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())


@pytest.mark.parametrize(
    "pair, message",
    [
        ("rrc_scale=0.5", "expected a list of 2 numbers"),
        ("rrc_scale=[0.5, 0.2]", "rrc_scale"),
        ("color_jitter=[0.4, 0.4]", "expected a list of 4 numbers"),
        ("frame_step_choices=[1, 2.5]", "expected a list of integers"),
        ("erase_p=yes", "expected a number"),
        ("mixup_alpha=-0.2", "mixup_alpha"),
    ],
)
def test_bad_augmentation_values_name_their_key(pair, message):
    with pytest.raises(ValueError, match=message):
        build_config("demo", [pair])


def test_augmentation_keys_round_trip_and_default_off():
    cfg = build_config("demo", ["frame_step_choices=2", "msc_scales=[1, 0.875, 0.75, 0.66]"])
    assert cfg.augment.frame_step_choices == (2,)  # a lone number is a list of one
    assert config_from_dict(cfg.to_dict()) == cfg
    assert build_config(None).augment == Augment()
    for name in ("kinetics_scratch", "ucf101_finetune", "hmdb51_finetune"):
        assert build_config(name).augment == Augment(), name  # the paper's crop alone


def test_init_pretrained_name_missing_is_one_clear_line(
    synthetic_root, tmp_path, monkeypatch, capsys
):
    """No weights made and none shipped: the error names where it looked and the command
    that makes them; an unknown NAME lists the known ones."""
    from mrstnet.engine import pretrained

    monkeypatch.setenv("MRSTNET_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pretrained, "shipped_path", lambda name: tmp_path / f"{name}_none.pt")
    with pytest.raises(FileNotFoundError, match="`mrstnet pretrain humans` makes them"):
        resolve("humans")
    with pytest.raises(ValueError, match="known: pretrained:humans"):
        load_init(torch.nn.Linear(2, 2), "pretrained:nope")
    args = ["train", "--dataset", "ucf101", "--root", str(synthetic_root), "--preset", "demo"]
    args += ["--out", str(tmp_path / "run"), "--init", "pretrained:humans", "--no-progress"]
    assert main([*args, "--set", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mrstnet train: error: pretrained:humans: no pre-trained weights")
    assert len(err.splitlines()) == 1 and "mrstnet pretrain humans" in err


def test_shipped_pretrained_weights_fine_tune_on_other_actions(tmp_path, monkeypatch):
    """Right after install (nothing made on this machine) `pretrained:humans` is the shipped
    file: the small MRST-T-Net on the generator's first ten actions; fine-tuning it on
    other classes loads every tensor but the classifier, and the model runs."""
    import mrstnet
    from mrstnet.data.humans import CLASSES
    from mrstnet.engine.pretrained import recipe, shipped_path

    monkeypatch.setenv("MRSTNET_HOME", str(tmp_path / "home"))
    assert resolve("humans") == shipped_path("humans")
    ckpt = load_checkpoint(shipped_path("humans"))
    assert ckpt["classes"] == list(recipe("humans").actions) == list(CLASSES[:10])
    assert ckpt["model"]["arch"] == "mrst_net" and "optimizer" not in ckpt
    assert ckpt["source"].startswith("mrstnet pretrain humans:")
    unseen = [c for c in CLASSES if c not in ckpt["classes"]]
    model = mrstnet.create_model("mrst_t_net_small", num_classes=len(unseen))
    lines = []
    loaded = load_init(model, "pretrained:humans", log=lines.append, classes=unseen)
    assert len(loaded["loaded"]) == len(model.state_dict()) - 2  # all but fc.weight, fc.bias
    assert "classifier not loaded" in "\n".join(lines)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 16, 64, 64)).shape == (1, len(unseen))


# the tiny network of TINY on both sides, so that the weights fit
PRETRAIN_TINY = [*TINY, "batch_size=4", "max_steps=2", "val_every_steps=0", "threads=1"]


def test_pretrain_then_fine_tune_with_pretrained_name(synthetic_root, tmp_path, monkeypatch):
    """`mrstnet pretrain` (a two-action set of 9 videos each, 2 steps) writes the weights
    where `--init pretrained:humans` finds them; fine-tuning on another set's classes loads
    every tensor but the classifier."""
    import mrstnet
    from mrstnet.engine.pretrained import made_path

    monkeypatch.setenv("MRSTNET_HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    got = run_pretrain(
        "humans",
        work,
        sets=PRETRAIN_TINY,
        videos_per_class=9,
        actions=["hand_clapping", "hand_waving"],
        progress=False,
        log=lambda *a: None,
    )
    assert got["steps"] == 2 and got["weights"] == str(made_path("humans"))
    ckpt = load_checkpoint(resolve("humans"))
    assert ckpt["classes"] == ["hand_clapping", "hand_waving"]
    assert set(ckpt) >= {"model", "state_dict", "data"} and "optimizer" not in ckpt
    assert "mrstnet pretrain humans" in ckpt["source"]
    tiny = {"width_mult": 0.125, "depths": [1, 1, 1, 1, 1], "head": "avg"}  # TINY's
    model = mrstnet.create_model("mrst_t_net_small", num_classes=4, **tiny)
    lines = []
    loaded = load_init(model, "pretrained:humans", log=lines.append, classes=list("abcd"))
    assert len(loaded["loaded"]) == len(model.state_dict()) - 2
    assert "classifier not loaded" in "\n".join(lines)
    # the command line: fine-tune a set of other classes from it
    out = tmp_path / "ft"
    args = ["train", "--dataset", "ucf101", "--root", str(synthetic_root)]
    args += ["--preset", "humans_finetune", "--init", "pretrained:humans", "--out", str(out)]
    code = main([*args, "--no-progress", "--set", *TINY, "val_every_steps=0", "max_steps=2"])
    assert code in (0, None)
    assert load_checkpoint(out / "last.pt")["step"] == 2
