"""Training, evaluation and checkpoints (paper §4.1): uses the models and data layers."""

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, build_config, list_presets, load_preset
from .evaluate import evaluate
from .train import fit, seed_everything

__all__ = [
    "TrainConfig",
    "build_config",
    "evaluate",
    "fit",
    "list_presets",
    "load_checkpoint",
    "load_preset",
    "save_checkpoint",
    "seed_everything",
]
