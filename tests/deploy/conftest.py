"""Tiny models and checkpoints for the deploy tests (8 frames of 32×32)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mrstnet
from mrstnet.engine.checkpoint import save_checkpoint
from mrstnet.models import model_config

FRAMES, SIZE = 8, 32
# MRST-T-Net at 1/8 width, one block per stage; the LSTM head with 16 hidden units
TINY_NET = dict(width_mult=0.125, depths=(1, 1, 1, 1, 1), lstm_hidden=16)
CLASSES = ["a", "b", "c", "d"]


def tiny_model(name: str = "mrst_t_net", **overrides) -> nn.Module:
    """A small registered model whose logits are O(1), so that 1e-4 parity means something
    (the default classifier init, std 0.01, makes logits ~1e-3)."""
    kwargs = {**TINY_NET, **overrides} if name.startswith("mrst") else overrides
    torch.manual_seed(0)
    model = mrstnet.create_model(name, num_classes=len(CLASSES), **kwargs)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, 1 / m.in_features**0.5)
            elif isinstance(m, nn.BatchNorm3d):  # non-trivial running statistics
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def write_checkpoint(path, model: nn.Module, *, frames: int = FRAMES, size: int = SIZE):
    """A checkpoint as the trainer writes it, minus optimizer state."""
    data = dict(frames=frames, frame_step=1, short_side=size, crop_size=size, flip=False)
    return save_checkpoint(
        path,
        {
            "model": model_config(model),
            "state_dict": model.state_dict(),
            "classes": CLASSES,
            "data": data,
        },
    )


@pytest.fixture
def tiny_checkpoint(tmp_path):
    return write_checkpoint(tmp_path / "tiny.pt", tiny_model(head="avg"))
