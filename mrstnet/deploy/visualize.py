"""Feature maps inside one tube, as in the paper's Figure 3: S, T and their reinforced S~, T~.

Forward hooks on the chosen tube record, for one clip::

    S  = spatial(x)            T  = temporal(x)          (N, C, L', H', W')
    S~ = ss(·) + ts(·)         T~ = st(·) + tt(·)        (the sums of Eq. 1–3)

S~ and T~ come from the tube's unit (its ``reinforce``: the equations at full resolution,
which the fast path never forms) applied to the recorded S and T. ``std_stf`` tubes have
S~ = S, T~ = T; ``std`` tubes have no reinforced maps and the C3D baseline no S/T at all
(refused: it is no :class:`~mrstnet.models.Tube`).

The picture (PNG, matplotlib): one row with the frame and the channel-mean energy
(mean |·| over channels) of S, T, S~, T~ at that frame, then a few single channels of
each (the strongest of S at that frame, the same channel indices in every column).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from mrstnet.extras import pyplot
from mrstnet.models import Tube

MAPS = ("S", "T", "S~", "T~")


def tubes(model: nn.Module) -> dict[str, Tube]:
    """Every tube with an S/T decomposition, by module name (``stem``, ``stages.1.1.tube``)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, Tube)}


def find_tube(model: nn.Module, block: str | None) -> tuple[str, Tube]:
    """``block`` is a tube's module name or its block's (``stages.1.1``); default the first."""
    found = tubes(model)
    if not found:
        raise ValueError("this model has no tube with spatial/temporal features (c3d units)")
    if block is None:
        name = next(iter(found))
        return name, found[name]
    for name in (block, f"{block}.tube"):
        if name in found:
            return name, found[name]
    raise ValueError(f"no tube {block!r}; choose from {', '.join(found)}")


@torch.no_grad()
def feature_maps(
    model: nn.Module, clip: Tensor, block: str | None = None
) -> tuple[str, dict[str, Tensor], Tensor]:
    """Run ``clip`` (1, 3, L, H, W), normalised; returns the tube's name, its maps
    {"S", "T", "S~", "T~"} each (C, L', H', W') and the logits (1, classes)."""
    name, tube = find_tube(model, block)
    out: dict[str, Tensor] = {}

    def keep(key: str):
        def hook(module, args, output):
            out[key] = output[0].detach().clone()  # clone: the gate may write over S later

        return hook

    handles = [
        tube.spatial.register_forward_hook(keep("S")),
        tube.temporal.register_forward_hook(keep("T")),
    ]
    try:
        logits = model.eval()(clip)
    finally:
        for h in handles:
            h.remove()
    reinforced = tube.unit.reinforce(out["S"][None], out["T"][None], *tube.unit_layers())
    if reinforced is not None:
        out["S~"], out["T~"] = (m[0] for m in reinforced)
    return name, out, logits


def render(
    frame: Tensor,
    maps: dict[str, Tensor],
    t: int,
    out: str | os.PathLike,
    *,
    title: str = "",
    channels: int = 4,
) -> Path:
    """Draw ``frame`` (3, H, W) uint8 and the maps' frame ``t`` (scaled to the clip length)
    to a PNG: energy maps in the first row, ``channels`` single channels below."""
    plt = pyplot("drawing feature maps")
    keys = [k for k in MAPS if k in maps]
    at = {k: maps[k][:, t * maps[k].shape[1] // maps["S"].shape[1]] for k in keys}  # (C, H', W')
    strongest = at["S"].abs().mean(dim=(1, 2)).argsort(descending=True)[:channels].tolist()
    rows, cols = 1 + len(strongest), 1 + len(keys)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].imshow(frame.permute(1, 2, 0).numpy())
    axes[0, 0].set_title(f"frame {t}", fontsize=9)
    for j, k in enumerate(keys, start=1):
        axes[0, j].imshow(at[k].abs().mean(0).numpy(), cmap="inferno")
        axes[0, j].set_title(f"{k}: mean |·|", fontsize=9)
        for i, c in enumerate(strongest, start=1):
            axes[i, j].imshow(at[k][c].numpy(), cmap="viridis")
            axes[i, j].set_title(f"{k} ch {c}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def visualize(
    checkpoint,
    video,
    out_dir,
    *,
    block: str | None = None,
    frame: int | None = None,
    channels: int = 4,
) -> Path:
    """The Figure 3 picture for one video from a checkpoint alone: one clip from the middle,
    centre-cropped, as the checkpoint's clip spec cuts it."""
    from mrstnet.data import load_clips, normalize
    from mrstnet.engine.checkpoint import (
        build_model_from_checkpoint,
        clip_spec_of,
        load_checkpoint,
    )

    pyplot("drawing feature maps")  # a missing extra fails before the work, not after
    ckpt = load_checkpoint(checkpoint)
    model = build_model_from_checkpoint(ckpt)
    spec = clip_spec_of(ckpt).replace(num_clips=1, crops=1)
    clip = load_clips(video, spec)  # (1, 3, L, H, W)
    length = clip.shape[2]
    t = length // 2 if frame is None else frame
    if not 0 <= t < length:
        raise ValueError(f"--frame {t} is outside the clip's {length} frames")
    name, maps, logits = feature_maps(model, normalize(clip), block)
    maps = {k: v.float() for k, v in maps.items()}
    p = logits.float().softmax(-1)[0]
    title = f"{Path(video).name}  {name}  top: {ckpt['classes'][int(p.argmax())]} ({p.max():.0%})"
    png = Path(out_dir) / f"{Path(video).stem}_{name}_t{t}.png"
    return render(clip[0, :, t], maps, t, png, title=title, channels=channels)
