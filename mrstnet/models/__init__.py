"""The networks: the MRST tube and its units (paper §3.1), the Table 2 C3D backbone (§4.2)
and MRST-Net (§3.2, Table 1), built by name from one registry."""

from __future__ import annotations

from .c3d import C3D, C3DConfig
from .mrst_net import MRSTNet, MRSTNetConfig
from .registry import (
    create_model,
    list_models,
    model_config,
    model_from_config,
    register_model,
)
from .tube import IMPLS, Block, Tube, make_tube, set_impl
from .units import UNITS, Unit, list_units, register_unit

__all__ = [
    "C3D",
    "IMPLS",
    "UNITS",
    "Block",
    "C3DConfig",
    "MRSTNet",
    "MRSTNetConfig",
    "Tube",
    "Unit",
    "create_model",
    "list_models",
    "list_units",
    "make_tube",
    "model_config",
    "model_from_config",
    "register_model",
    "register_unit",
    "set_impl",
]
