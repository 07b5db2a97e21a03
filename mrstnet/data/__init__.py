"""Video files in, uint8 clips out (paper §4.1): the clip spec, annotation readers, decoding,
clip sampling, transforms and training augmentations, the clip dataset and the synthetic
motion sets. No models here.

Names are imported on first use, so that the CLI can read `READERS` (its `--dataset`
choices) and `ClipSpec` without importing torch.
"""

import importlib

from mrstnet.data import readers  # no torch in it

_WHERE = {
    "ClipSpec": "clip_spec",
    "Augment": "augment_spec",
    "mix_batch": "augment",
    **dict.fromkeys(readers.__all__, "readers"),
    **dict.fromkeys(
        ("TooManyBadVideosError", "VideoClipDataset", "build_dataset", "collate", "load_clips"),
        "datasets",
    ),
    **dict.fromkeys(("ClipInfo", "clip_indices", "random_clip", "uniform_clips"), "sampling"),
    "write_synthetic": "synthetic",
    **dict.fromkeys(
        (
            "MEAN",
            "PRESETS",
            "STD",
            "EvalTransform",
            "TrainTransform",
            "eval_transform",
            "normalize",
            "train_transform",
        ),
        "transforms",
    ),
    **dict.fromkeys(
        ("VideoDecodeError", "VideoInfo", "VideoReader", "probe", "read_frames"), "video"
    ),
}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = sorted(_WHERE)
