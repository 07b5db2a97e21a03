"""One registry for every network: model names -> builders, with the family they build.

A builder joins with ``@register_model(ModelClass, ConfigClass)``: the config dataclass's
``arch`` names the family, so :func:`model_from_config` (a checkpoint's stored config) finds
the class to rebuild through the same table that :func:`create_model` reads names from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from torch import nn

C = TypeVar("C")


class ModelEntry(NamedTuple):
    builder: Callable[..., nn.Module]  # keyword-only overrides of the config -> a model
    model: type[nn.Module]  # built as model(config)
    config: type  # the config dataclass; its ``arch`` default names the family


_MODELS: dict[str, ModelEntry] = {}


def register_model(model: type[nn.Module], config: type) -> Callable:
    """Decorator: register a builder under its function name (timm style), as one way to
    build ``model`` from a ``config`` dataclass."""

    def add(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if fn.__name__ in _MODELS:
            raise ValueError(f"model {fn.__name__!r} is already registered")
        _MODELS[fn.__name__] = ModelEntry(fn, model, config)
        return fn

    return add


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
        builder = _MODELS[name].builder
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose from {', '.join(list_models())}"
        ) from None
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return builder(impl=impl, **overrides)


def model_config(model: nn.Module) -> dict:
    """The model's config as a JSON-able dict (stored in checkpoints)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(model.config).items()
    }


def model_from_config(cfg: dict) -> nn.Module:
    """Rebuild the architecture that :func:`model_config` described (weights not included);
    fields it lacks take the config dataclass's defaults."""
    families = {entry.config.arch: entry for entry in _MODELS.values()}
    entry = families.get(cfg.get("arch"))
    if entry is None:
        raise ValueError(
            f"unknown architecture {cfg.get('arch')!r}; known: {', '.join(sorted(families))}"
        )
    fields = {f.name for f in dataclasses.fields(entry.config)}
    unknown = set(cfg) - fields
    if unknown:
        raise ValueError(f"unknown {cfg['arch']} config fields: {sorted(unknown)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    return entry.model(entry.config(**kwargs))
