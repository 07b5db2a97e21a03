"""The networks (SPEC §1–2): the MRST tube, the Table 2 C3D backbone and MRST-Net."""

from __future__ import annotations

import dataclasses

from torch import nn

from .c3d import C3D, C3DConfig
from .mrst_net import MRSTNet, MRSTNetConfig
from .registry import create_model, list_models, register_model
from .tube import IMPLS, UNITS, Block, Tube, set_impl

_ARCHS = {"c3d": (C3D, C3DConfig), "mrst_net": (MRSTNet, MRSTNetConfig)}


def model_config(model: nn.Module) -> dict:
    """The model's config as a JSON-able dict (stored in checkpoints)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(model.config).items()
    }


def model_from_config(cfg: dict) -> nn.Module:
    """Rebuild the architecture that :func:`model_config` described (weights not included)."""
    model_cls, config_cls = _ARCHS[cfg["arch"]]
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = set(cfg) - set(fields)
    if unknown:
        raise ValueError(f"unknown {cfg['arch']} config fields: {sorted(unknown)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    return model_cls(config_cls(**kwargs))


__all__ = [
    "C3D",
    "IMPLS",
    "UNITS",
    "Block",
    "C3DConfig",
    "MRSTNet",
    "MRSTNetConfig",
    "Tube",
    "create_model",
    "list_models",
    "model_config",
    "model_from_config",
    "register_model",
    "set_impl",
]
