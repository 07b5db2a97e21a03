"""One registry for every network: builders join it with ``@register_model``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

C = TypeVar("C")

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a builder under its function name (timm style)."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def make_config(config_cls: type[C], overrides: dict[str, Any], **defaults: Any) -> C:
    """``config_cls`` with a builder's ``defaults`` and the caller's ``overrides`` on top.

    Every field but ``arch`` (which names the class to rebuild, so a builder fixes it) can be
    overridden; an unknown keyword is a ValueError that lists the valid ones.
    """
    names = [f.name for f in dataclasses.fields(config_cls) if f.name != "arch"]
    if "arch" in overrides:
        raise ValueError(
            f"'arch' cannot be overridden: each builder fixes it; pick another model name "
            f"({', '.join(list_models())})"
        )
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise ValueError(
            f"unknown {config_cls.__name__} keyword(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(names)}"
        )
    return config_cls(**{**defaults, **overrides})


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    return sorted(_MODELS)


def create_model(
    name: str, *, num_classes: int | None = None, impl: str = "fast", **overrides
) -> nn.Module:
    """Build a registered network.

    ``num_classes=None`` keeps the builder's default; ``impl`` picks the
    reinforced-unit implementation (``"fast"`` or ``"reference"``); any other
    keyword overrides a field of the network's config dataclass (the builder's default
    included, e.g. ``unit``), except ``arch``; see :func:`make_config`.
    """
    try:
        builder = _MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose from {', '.join(list_models())}"
        ) from None
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return builder(impl=impl, **overrides)
