"""ImageNet inflation: start an MRST-Net from a 2D ResNet's weights (torchvision / timm names).

A 2D k×k kernel becomes the 1×k×k spatial kernel unchanged (one frame, so no rescaling),
and a 1×1 kernel a 1×1×1 one. The pairing follows the structure, in order:

    conv1, bn1                        -> stem.spatial.0, stem.spatial.1   (1×7×7 and its BN)
    layer{s}.{i}.conv1, bn1           -> stages.{s-1}.{i+1}.tube.reduce.{0,1}
    layer{s}.{i}.conv2, bn2  (3×3)    -> stages.{s-1}.{i+1}.tube.spatial.{0,1}   (1×3×3)
    layer{s}.{i}.conv3, bn3           -> stages.{s-1}.{i+1}.tube.restore.{0,1}
    layer{s}.{i}.downsample.{0,1}     -> stages.{s-1}.{i+1}.shortcut.{0,1}

(``stages.k.0`` is each stage's max-pool, so block i is ``stages.k.{i+1}``.) Each MRST-Net
stage takes the ResNet stage of the same bottleneck width (its 3×3 conv fits only there);
ResNet-50's widths are 64/128/256/512 and MRST-Net's 64/64/128/256/256, so conv2 and conv3
start from layer1, conv4 from layer2, conv5 and conv6 from layer3, block by block, and
layer4 is not used. A stage with no same-width ResNet stage pairs by position. Blocks
beyond the ResNet stage's depth, the temporal 3×1×1 convs, the four reinforcement layers
and the head have no 2D counterpart and keep their fresh initialisation, as does every
pair whose shapes differ (the first block's 1×1 convs and shortcut, where the input
width differs). :func:`inflate` reports both.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

PREFIX = "imagenet:"
_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """A 2D state dict from a file: a plain dict of tensors (torchvision ``.pth``) or one
    under ``state_dict`` / ``model`` (timm and training checkpoints); ``module.`` stripped."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, Tensor)}


def _pair(target: str, source: str, conv: bool) -> list[tuple[str, str]]:
    """Tensor names of one conv (weight) or one BN (all of its tensors)."""
    if conv:
        return [(f"{target}.weight", f"{source}.weight")]
    return [(f"{target}.{n}", f"{source}.{n}") for n in _BN]


def _resnet_widths(state_dict: dict[str, Tensor]) -> dict[int, int]:
    """Bottleneck width -> the first ResNet stage (1-based) of that width."""
    widths: dict[int, int] = {}
    for layer in range(1, 5):
        w = state_dict.get(f"layer{layer}.0.conv2.weight")
        if w is not None:
            widths.setdefault(w.shape[0], layer)
    return widths


def resnet_pairs(model: nn.Module, state_dict: dict[str, Tensor]) -> list[tuple[str, str]]:
    """(MRST-Net name, ResNet name) for every tensor the structure pairs (see module docs)."""
    if not (hasattr(model, "stem") and hasattr(model, "stages")):
        raise ValueError(
            "ImageNet inflation maps a ResNet onto MRST-Net (stem + stages); "
            f"{type(model).__name__} has no such structure"
        )
    pairs = _pair("stem.spatial.0", "conv1", True) + _pair("stem.spatial.1", "bn1", False)
    parts = (("reduce", 1), ("spatial", 2), ("restore", 3))
    widths = _resnet_widths(state_dict)
    for s, stage in enumerate(model.stages):
        blocks = list(stage)[1:]  # after the max-pool
        width = blocks[0].tube.spatial[0].out_channels if blocks else None
        layer = widths.get(width, s + 1)  # same width, else the same position
        for i in range(len(blocks)):
            block, src = f"stages.{s}.{i + 1}", f"layer{layer}.{i}"
            for part, j in parts:
                pairs += _pair(f"{block}.tube.{part}.0", f"{src}.conv{j}", True)
                pairs += _pair(f"{block}.tube.{part}.1", f"{src}.bn{j}", False)
            pairs += _pair(f"{block}.shortcut.0", f"{src}.downsample.0", True)
            pairs += _pair(f"{block}.shortcut.1", f"{src}.downsample.1", False)
    return pairs


def _inflated(source: Tensor, target: Tensor) -> Tensor | None:
    """``source`` reshaped to ``target`` when it is the same kernel with a time axis of 1."""
    if source.dim() == 4 and target.dim() == 5:
        source = source.unsqueeze(2)  # (O, I, k, k) -> (O, I, 1, k, k)
    return source if source.shape == target.shape else None


@torch.no_grad()
def inflate(model: nn.Module, state_dict: dict[str, Tensor]) -> dict:
    """Copy a 2D ResNet's weights into ``model`` where the structure pairs them and shapes fit.

    Returns ``loaded`` (MRST-Net name -> ResNet name; a ResNet stage may fill two MRST-Net
    stages), ``not_loaded`` (unused ResNet names with the reason) and ``fresh`` (MRST-Net
    tensors left as initialised).
    """
    target = model.state_dict()
    loaded: dict[str, str] = {}
    not_loaded: dict[str, str] = {}
    for dst, src in resnet_pairs(model, state_dict):
        if src not in state_dict or dst not in target:
            continue
        value = _inflated(state_dict[src], target[dst])
        if value is None:
            not_loaded[src] = (
                f"shape {tuple(state_dict[src].shape)} does not fit {dst} "
                f"{tuple(target[dst].shape)}"
            )
            continue
        target[dst].copy_(value)
        loaded[dst] = src
    used = set(loaded.values())
    # a ResNet tensor that fitted somewhere is used, even if another pairing did not fit
    not_loaded = {k: why for k, why in not_loaded.items() if k not in used}
    for src in state_dict:
        if src not in used and src not in not_loaded:
            not_loaded[src] = "no counterpart in MRST-Net"
    fresh = [k for k in target if k not in loaded]
    return {"loaded": loaded, "not_loaded": not_loaded, "fresh": fresh}


def inflate_from_file(model: nn.Module, path: str | os.PathLike, log=print) -> dict:
    """:func:`inflate` from a file, saying what it loaded and what not."""
    sd = read_state_dict(path)
    report = inflate(model, sd)
    n_target = len(model.state_dict())
    used = len(set(report["loaded"].values()))
    log(
        f"ImageNet inflation from {path}: {used}/{len(sd)} ResNet tensors used, filling "
        f"{len(report['loaded'])}/{n_target} MRST-Net tensors"
    )
    mismatched = [k for k, why in report["not_loaded"].items() if why.startswith("shape")]
    if mismatched:
        log(f"  other shape here ({len(mismatched)}): {', '.join(mismatched)}")
    absent = len(report["not_loaded"]) - len(mismatched)
    if absent:
        log(f"  no counterpart ({absent} tensors, e.g. layer4 blocks beyond conv5's, fc)")
    return report
