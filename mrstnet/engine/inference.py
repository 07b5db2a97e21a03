"""One way to run a checkpoint on clips: load it once, score uint8 clip batches.

`mrstnet predict`, `mrstnet timeline`, `mrstnet watch` (and any server built on the
library) all go through :func:`load_predictor` and :meth:`Predictor.probs`, so that a clip
is normalised and scored the same way everywhere::

    predictor = load_predictor("best.pt", device="cpu")
    p = predictor.probs(clips)            # uint8 (N, 3, L, S, S) -> float32 (N, K), rows sum to 1
    predictor.top(p[0], k=5)              # [{"class": ..., "index": ..., "prob": ...}, ...]

The clip geometry (`predictor.spec`: frames L, frame_step, short_side, crop_size S) comes
from the checkpoint: the model sees clips cut as in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from mrstnet.data.clip_spec import ClipSpec

from .checkpoint import build_model_from_checkpoint, clip_spec_of, load_checkpoint
from .distributed import device_of
from .evaluate import inference_dtype

_TORCH_THREADS = torch.get_num_threads()  # torch's default, before any command changes it


def spec_from_checkpoint(ckpt: dict) -> ClipSpec:
    """The clip spec a checkpoint was trained with (the functions here read frames,
    frame_step, short_side and crop_size)."""
    return clip_spec_of(ckpt)


@dataclass
class Predictor:
    """A checkpoint's model, ready for inference, with its classes and clip geometry."""

    model: nn.Module  # the `optimize`d eval copy
    classes: list[str]
    spec: ClipSpec  # the clip geometry the model was trained with
    device: torch.device
    amp: bool = True  # bf16 where it pays (CUDA, CPUs with AMX), else fp32
    checkpoint: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def probs(self, clips: Tensor) -> Tensor:
        """uint8 (N, 3, L, S, S) clips -> float32 (N, num_classes) softmax probabilities,
        on the CPU."""
        from mrstnet.data.transforms import normalize

        with torch.inference_mode():
            logits = self.model(normalize(clips.to(self.device, non_blocking=True)))
        return logits.float().softmax(-1).cpu()

    def top(self, p: Tensor, k: int = 5) -> list[dict]:
        """The k most probable classes of one probability vector (num_classes,)."""
        values, idx = p.topk(min(k, len(self.classes)))
        return [
            {"class": self.classes[i], "index": int(i), "prob": float(v)}
            for v, i in zip(values.tolist(), idx.tolist(), strict=True)
        ]


def load_predictor(
    checkpoint: str | Path, *, device: str | None = None, amp: bool = True
) -> Predictor:
    """Load a checkpoint (weights only) and make its model ready for inference: the eval
    copy from `mrstnet.optimize` (BN folded, channels_last_3d, fp32 on the CPU)."""
    from mrstnet import optimize

    dev = device_of(device)
    ckpt = load_checkpoint(checkpoint)
    spec = spec_from_checkpoint(ckpt)
    model = build_model_from_checkpoint(ckpt).to(dev)
    model = optimize(model, dtype=inference_dtype(dev, amp), compile=False)  # bf16 if it pays
    return Predictor(
        model=model,
        classes=list(ckpt["classes"]),
        spec=spec,
        device=dev,
        amp=amp,
        checkpoint=str(checkpoint),
    )


def set_model_threads(threads: int | None = None) -> int:
    """Torch threads for the model when decoding runs beside it (predict, timeline, watch):
    `threads`, or torch's default less one, so that the decoding thread keeps a core (at
    least 1). On the 2-core development machine one model thread beside the decoder ran
    the demo timeline 1.6x faster than two (benchmarks/results/own_videos.md)."""
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    n = threads or max(1, _TORCH_THREADS - 1)
    torch.set_num_threads(n)
    return n


__all__ = ["Predictor", "load_predictor", "set_model_threads", "spec_from_checkpoint"]
