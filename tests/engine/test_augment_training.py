"""Training with the augmentations on: `mrstnet train` on real videos with every option,
the config keys, and `--init pretrained:NAME`."""

import json

import pytest
import torch

from mrstnet.cli import main
from mrstnet.data import Augment
from mrstnet.engine.checkpoint import load_checkpoint, load_init, shipped_pretrained
from mrstnet.engine.config import build_config, config_from_dict

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
    code = main([*args, "--set", *TINY, "val_every=0", *EVERYTHING])
    assert code in (0, None)
    ckpt = load_checkpoint(out / "last.pt")
    cfg = config_from_dict(ckpt["preset"])  # stored flat, read back whole
    assert cfg.augment.rrc_scale == (0.4, 1.0) and cfg.augment.frame_step_choices == (1, 2)
    assert cfg.augment.mixes and cfg.clip.flip is False
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert lines and all(x["loss"] > 0 and 0 <= x["acc"] <= 1 for x in lines)
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


def test_init_pretrained_name_is_a_shipped_file_or_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no shipped pre-trained weights pretrained:nope"):
        shipped_pretrained("nope")
    with pytest.raises(FileNotFoundError, match="shipped: pretrained:humans"):
        load_init(torch.nn.Linear(2, 2), "pretrained:nope")


def test_fine_tune_from_the_shipped_humans_weights(tmp_path):
    """`--init pretrained:humans` on another set of classes: every tensor but the
    classifier comes from the shipped file."""
    import mrstnet

    path = shipped_pretrained("humans")
    ckpt = load_checkpoint(path)
    assert ckpt["model"]["arch"] == "mrst_t_net_small" and ckpt["data"]["crop_size"] == 64
    model = mrstnet.create_model("mrst_t_net_small", num_classes=3)
    lines = []
    got = load_init(model, "pretrained:humans", log=lines.append, classes=["a", "b", "c"])
    n = len(model.state_dict())
    assert len(got["loaded"]) == n - 2 and "classifier not loaded" in "\n".join(lines)
    for name in got["loaded"]:
        assert torch.equal(model.state_dict()[name], ckpt["state_dict"][name])
