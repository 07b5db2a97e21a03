"""mrstnet: the Mutually Reinforced Spatio-Temporal Convolutional Tube (IJCAI 2019) in PyTorch."""

__version__ = "0.1.0"

_LAZY = {
    "create_model": "mrstnet.models",
    "list_models": "mrstnet.models",
    "optimize": "mrstnet.engine.optimize",
}


def __getattr__(name: str):
    # Imported on first use, so that `mrstnet --version` and the CLI start without torch.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mrstnet' has no attribute {name!r}")


__all__ = ["__version__", "create_model", "list_models", "optimize"]
