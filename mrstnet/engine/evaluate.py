"""Multi-clip testing (paper §4.1): a video's score is the mean of its clips' softmax scores.

Metrics: video-level top-1 and top-5, clip-level top-1, the clips' mean cross-entropy
(`loss`, what early stopping can follow), mean class accuracy, per-class accuracy and the
confusion matrix. Under torchrun every process tests a share of the
videos and the scores are gathered, so the numbers do not depend on the world size.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from ..extras import MissingExtraError, pyplot
from . import distributed
from .checkpoint import unwrap
from .hardware import bf16_pays


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast where bf16 pays (a CUDA device with bf16; a CPU with bf16 matrix units,
    AMX: ``hardware.bf16_pays``), full precision elsewhere (CPU bf16 is slower than fp32
    without them). The trainer's ``amp`` and the test/predict commands use it."""
    if enabled and bf16_pays(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def inference_dtype(device: torch.device, amp: bool) -> str | None:
    """``mrstnet.optimize``'s dtype for ``amp``: bf16 where it pays, else float32."""
    return "bf16" if amp and bf16_pays(device) else None


def frame_permutation(frames: int, seed: int = 0) -> torch.Tensor:
    """One fixed shuffle of the L frames, never the identity (for L > 1)."""
    g = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(frames, generator=g)
        if frames < 2 or not torch.equal(perm, torch.arange(frames)):
            return perm


def _default_collate():
    from mrstnet.data import collate

    return collate


def _normalize():
    from mrstnet.data import normalize

    return normalize


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset,
    *,
    batch_size: int = 8,
    num_workers: int = 2,
    device: torch.device | str = "cpu",
    amp: bool = True,
    shuffle_frames: bool = False,
    shuffle_seed: int = 0,
    collate_fn=None,
    normalize=None,
    progress: bool = True,
    desc: str = "test",
    fast: bool = True,
) -> dict:
    """Test `model` on a test-mode dataset (item i = clip i % K of video i // K).

    Returns the metrics dict (fractions in [0, 1]) with `per_class` and `confusion`.
    `shuffle_frames` permutes the frames of every clip the same way: a model that
    ignores frame order scores the same, one that uses motion does not. `fast` runs a
    `mrstnet.optimize` copy of the model (the same scores to float32 rounding).
    """
    device = torch.device(device)
    collate_fn = collate_fn or _default_collate()
    normalize = normalize or _normalize()
    model = unwrap(model).to(device).eval()
    if fast:
        from mrstnet.engine.optimize import optimize

        # bf16 where amp asks and it pays: the whole feature part cast once (optimize)
        model = optimize(model, dtype=inference_dtype(device, amp), compile=False)
    classes = list(getattr(dataset, "classes", []))
    num_videos = len(dataset.videos) if hasattr(dataset, "videos") else None
    per_video = len(dataset) // num_videos if num_videos else 1
    num_videos = num_videos or len(dataset)

    # this process's share: whole videos, so a video's clips meet in one place
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    rank = torch.distributed.get_rank() if world > 1 else 0
    indices = [i for i in range(len(dataset)) if (i // per_video) % world == rank]
    loader = DataLoader(
        Subset(dataset, indices),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_fn,
        persistent_workers=False,
    )
    perm = None
    scores: dict[int, np.ndarray] = {}
    labels: dict[int, int] = {}
    clip_correct = clip_total = 0
    clip_loss = 0.0
    for batch in tqdm(loader, desc=desc, disable=not progress or rank != 0, leave=False):
        if batch is None or len(batch["label"]) == 0:
            continue
        video = batch["video"].to(device, non_blocking=True)
        if shuffle_frames:
            perm = frame_permutation(video.shape[2], shuffle_seed) if perm is None else perm
            video = video[:, :, perm.to(device)]
        with torch.inference_mode(), autocast(device, amp and not fast):
            logits = model(normalize(video))
        logits = logits.float()
        target = batch["label"].to(device)
        clip_loss += float(F.cross_entropy(logits, target, reduction="sum"))
        probs = logits.softmax(-1).cpu().numpy().astype(np.float64)
        label = batch["label"].tolist()
        clip_correct += int((probs.argmax(1) == np.asarray(label)).sum())
        clip_total += len(label)
        for p, y, v in zip(probs, label, batch["video_index"].tolist(), strict=True):
            scores[v] = scores[v] + p if v in scores else p.copy()
            labels[v] = y

    parts = distributed.all_gather_objects((scores, labels, clip_correct, clip_total, clip_loss))
    scores, labels, clip_correct, clip_total, clip_loss = {}, {}, 0, 0, 0.0
    for s, y, cc, ct, cl in parts:
        scores.update(s)
        labels.update(y)
        clip_correct += cc
        clip_total += ct
        clip_loss += cl
    num_classes = len(classes) or getattr(model, "num_classes", 0)
    m = metrics(scores, labels, num_classes, clip_correct, clip_total, num_videos, classes)
    m["loss"] = clip_loss / max(clip_total, 1)
    return m


def metrics(
    scores: dict,
    labels: dict,
    num_classes: int,
    clip_correct: int,
    clip_total: int,
    expected_videos: int,
    classes: list[str] | None = None,
) -> dict:
    order = sorted(scores)
    if not order:
        raise RuntimeError("no test video could be read")
    s = np.stack([scores[v] for v in order])
    y = np.asarray([labels[v] for v in order])
    k = min(5, s.shape[1])
    top5 = np.argsort(-s, axis=1)[:, :k]
    pred = top5[:, 0]
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    support = confusion.sum(1)
    per_class = [
        float(confusion[c, c] / support[c]) if support[c] else None for c in range(num_classes)
    ]
    present = [a for a in per_class if a is not None]
    return {
        "top1": float((pred == y).mean()),
        "top5": float((top5 == y[:, None]).any(1).mean()),
        "clip_top1": clip_correct / max(clip_total, 1),
        "mean_class_acc": float(np.mean(present)),
        "num_videos": len(order),
        "unreadable": expected_videos - len(order),
        "num_clips": clip_total,
        "classes": list(classes or [str(c) for c in range(num_classes)]),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def summary(m: dict) -> str:
    return (
        f"top1 {m['top1']:.4f}  top5 {m['top5']:.4f}  clip_top1 {m['clip_top1']:.4f}  "
        f"mean_class_acc {m['mean_class_acc']:.4f}  videos {m['num_videos']}"
        + (f"  unreadable {m['unreadable']}" if m.get("unreadable") else "")
    )


def write_report(m: dict, out_dir: str | Path, prefix: str = "test") -> list[Path]:
    """`<prefix>_confusion.csv`, `<prefix>_per_class.csv`, `<prefix>.json`, and
    `<prefix>_confusion.png` when matplotlib is installed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    classes = m["classes"]
    written = [out / f"{prefix}{name}" for name in ("_confusion.csv", "_per_class.csv", ".json")]
    with open(written[0], "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *classes])
        for name, row in zip(classes, m["confusion"], strict=True):
            w.writerow([name, *row])
    with open(written[1], "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["class", "videos", "accuracy"])
        for c, (name, acc) in enumerate(zip(classes, m["per_class"], strict=True)):
            w.writerow([name, sum(m["confusion"][c]), "" if acc is None else f"{acc:.4f}"])
    written[2].write_text(json.dumps(m, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    png = confusion_png(m, out / f"{prefix}_confusion.png")
    return written + ([png] if png else [])


def _tick_labels(classes: list[str]) -> list[str]:
    """The class names for the plot; a name with letters the plot's font lacks (CJK in
    matplotlib's DejaVu Sans) as "class <index>" (its row in the CSVs) instead of boxes."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(font_manager.findfont(font_manager.FontProperties()))
    except (OSError, RuntimeError, ValueError):
        return list(classes)
    return [
        c if all(ch.isspace() or font.get_char_index(ord(ch)) for ch in c) else f"class {i}"
        for i, c in enumerate(classes)
    ]


def confusion_png(m: dict, path: Path) -> Path | None:
    try:
        plt = pyplot("the confusion matrix PNG")
    except MissingExtraError:  # the CSV and JSON are written all the same
        return None
    conf = np.asarray(m["confusion"], dtype=np.float64)
    norm = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    n = len(m["classes"])
    size = min(4 + 0.25 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    if n <= 60:
        names = _tick_labels(m["classes"])
        ax.set_xticks(range(n), names, rotation=90, fontsize=7)
        ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"top-1 {m['top1']:.3f}, mean class {m['mean_class_acc']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
