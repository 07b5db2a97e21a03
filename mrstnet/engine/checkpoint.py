"""Checkpoints: atomic writes, weights-only loads, RNG capture, and `--init` weight transfer.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (nothing
pickled beyond what `torch.load(weights_only=True)` accepts), holding: `model` (the
model_config dict), `state_dict`, `classes`, `optimizer`, `scheduler`, `scaler`,
`epoch`, `step`, `rng`, `preset` (TrainConfig.to_dict) and `data` (the ClipSpec's
to_dict, read back by `clip_spec_of`) (docs/design.md); training checkpoints also hold
`best` (the best validation top-1 so far) and `progress` (each process's running
loss/accuracy sums of the epoch in progress, so a run resumed mid-epoch logs it whole).
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mrstnet.data.clip_spec import ClipSpec


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write to a temporary file in the same folder, then rename over `path`: a crash at any
    moment leaves either the old checkpoint or the new one, never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Checkpoints are loaded with `weights_only=True` only: no arbitrary code from a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        # only file parsing here: a truncated file, another format, or pickled objects that
        # weights_only refuses make the unpickler fail in many ways (UnpicklingError,
        # RuntimeError, EOFError, IndexError, ...); the cause stays chained
        lines = str(e).strip().splitlines()
        reason = f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
        raise ValueError(f"{path} is not a readable checkpoint ({reason})") from e
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} is not a checkpoint (a {type(ckpt).__name__}, not a dict)")
    return ckpt


def rng_state() -> dict:
    """Every random stream a training step may touch (the data loader's are seeded per epoch)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        # numpy's state as plain types so weights_only loading accepts it
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": _python_state(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state(s: tuple) -> list:
    version, internal, gauss = s
    return [version, list(internal), gauss]


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DDP and/or torch.compile wrappers."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def model_config_of(model: nn.Module) -> dict | None:
    """The model's JSON-able config (models layer), or None for a model outside the registry."""
    model = unwrap(model)
    if getattr(getattr(model, "config", None), "arch", None) is None:
        return None
    from mrstnet.models import model_config

    return model_config(model)


def build_model_from_checkpoint(ckpt: dict) -> nn.Module:
    """The architecture and weights a checkpoint describes, in eval mode."""
    from mrstnet.models import model_from_config

    if ckpt.get("model") is None:
        raise ValueError("this checkpoint has no model config: it was not made by a registry model")
    model = model_from_config(ckpt["model"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def clip_spec_of(ckpt: dict) -> ClipSpec:
    """How the checkpoint's model was fed: the `data` key as a ClipSpec. Checkpoints older
    than the test-time views and flip stored only frames, frame_step, short_side and
    crop_size; the rest takes the defaults (one centre-cropped clip, no flip)."""
    if not isinstance(ckpt.get("data"), dict):
        raise ValueError("this checkpoint has no clip spec (`data`): it was not made by mrstnet")
    return ClipSpec.from_dict(ckpt["data"])


def classifier_names(model: nn.Module) -> list[str]:
    """The state_dict names of the classifier: the last Linear with `num_classes` outputs
    (every registry model's `fc`), or none when the model has no such layer."""
    model = unwrap(model)
    n = getattr(model, "num_classes", None)
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and m.out_features == n:
            last = name
    if last is None:
        return []
    layer = model.get_submodule(last)
    return [f"{last}.{k}" if last else k for k in layer.state_dict()]


def load_init(
    model: nn.Module, path: str | os.PathLike, log=print, classes: list[str] | None = None
) -> dict:
    """Start from weights trained elsewhere (e.g. Kinetics-400 before UCF-101).

    Tensors whose name and shape match are copied; the rest keep their fresh
    initialisation. The classifier is not copied when `classes` (this run's) differ from
    the checkpoint's, even in number: class i of one dataset is not class i of another.
    Says what it loaded and what not.
    ``imagenet:FILE`` inflates a 2D ResNet state dict instead (mrstnet.models.inflate);
    ``pretrained:NAME`` is the file `mrstnet pretrain NAME` made, or one shipped with the
    package (mrstnet.engine.pretrained.resolve says where it looks).
    """
    if str(path).startswith("imagenet:"):
        from mrstnet.models.inflate import PREFIX, inflate_from_file

        return inflate_from_file(unwrap(model), str(path)[len(PREFIX) :], log=log)
    if str(path).startswith("pretrained:"):
        from .pretrained import PREFIX, resolve

        path = resolve(str(path)[len(PREFIX) :])
    ckpt = load_checkpoint(path)
    source = ckpt.get("state_dict", ckpt)
    target = unwrap(model).state_dict()
    theirs = ckpt.get("classes")
    other_classes = classes is not None and theirs is not None and list(theirs) != list(classes)
    fresh_head = set(classifier_names(model)) if other_classes else set()
    loaded, skipped = {}, []
    for name, tensor in source.items():
        if name in target and target[name].shape == tensor.shape and name not in fresh_head:
            loaded[name] = tensor
        else:
            skipped.append(name)
    missing = [n for n in target if n not in loaded]
    unwrap(model).load_state_dict(loaded, strict=False)
    log(f"init from {path}: loaded {len(loaded)}/{len(target)} tensors")
    if other_classes:
        log(
            f"  its classes differ from this run's ({_names(theirs)} there, {_names(classes)} "
            f"here): classifier not loaded ({', '.join(sorted(fresh_head)) or 'none found'})"
        )
    if skipped:
        log(f"  not loaded (absent, other shape or classifier here): {', '.join(skipped)}")
    if missing:
        log(f"  kept freshly initialised: {', '.join(missing)}")
    return {"loaded": sorted(loaded), "skipped": skipped, "missing": missing}


def _names(classes: list[str], show: int = 4) -> str:
    head = ", ".join(map(str, classes[:show]))
    more = f", ... ({len(classes)} in all)" if len(classes) > show else ""
    return f"[{head}{more}]"
