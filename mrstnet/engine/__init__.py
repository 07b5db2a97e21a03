"""Training, evaluation and checkpoints: the recipes of the paper's experiments (§4) over
the models and data layers.

The names below are imported on first use, so that a light submodule (the ablation's
table of units, which `mrstnet --help` reads) does not bring torch in with the package.
"""

_LAZY = {
    "TrainConfig": "config",
    "build_config": "config",
    "list_presets": "config",
    "load_preset": "config",
    "evaluate": "evaluate",
    "fit": "train",
    "seed_everything": "seeding",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
