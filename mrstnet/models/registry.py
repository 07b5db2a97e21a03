"""One registry for every network: builders join it with ``@register_model``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a builder under its function name (timm style)."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    return sorted(_MODELS)


def create_model(
    name: str, *, num_classes: int | None = None, impl: str = "fast", **overrides
) -> nn.Module:
    """Build a registered network.

    ``num_classes=None`` keeps the builder's default; ``impl`` picks the
    reinforced-unit implementation (``"fast"`` or ``"reference"``); any other
    keyword overrides a field of the network's config dataclass.
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
