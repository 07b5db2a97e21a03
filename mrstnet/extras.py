"""Optional dependencies ("extras"): imported through `require`, which says how to install.

    pip install 'mrstnet[onnx]'         onnx, onnxruntime    mrstnet export --format onnx
    pip install 'mrstnet[plot]'         matplotlib           mrstnet plot, visualize, PNGs
    pip install 'mrstnet[tensorboard]'  tensorboard          TensorBoard logs of a run
    pip install 'mrstnet[serve]'        fastapi, uvicorn,    mrstnet serve (HTTP API, page)
                                        python-multipart
    pip install 'mrstnet[dev]'          pytest, ruff,        the tests (selenium drives the
                                        selenium, and the    page in the system Chromium)
                                        serve extra's

A command that needs a missing extra fails with a `MissingExtraError`, which the CLI
reports in one line with exit status 1 (a user error, bad input, is status 2).
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {
    "onnx": ("onnx", "onnxruntime"),
    "plot": ("matplotlib",),
    "tensorboard": ("tensorboard",),
    "serve": ("fastapi", "uvicorn", "python_multipart"),
    "dev": ("pytest", "selenium"),
}


class MissingExtraError(ImportError):
    """An optional dependency cannot be imported; the message names the extra to install."""

    def __init__(self, extra: str, module: str, what: str, reason: str = "is not installed"):
        self.extra = extra
        super().__init__(
            f"{what} needs the optional extra '{extra}' ({module} {reason}): "
            f"pip install 'mrstnet[{extra}]'",
            name=module,
        )


def require(extra: str, module: str, what: str) -> ModuleType:
    """Import `module`, part of the optional `extra`, which `what` (e.g. "ONNX export")
    needs; raise MissingExtraError saying how to install it when it cannot be imported."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.partition(".")[0]
        # installed, but one of its own imports fails: say so rather than "not installed"
        reason = "is not installed" if e.name in (None, module, top) else f"fails to import: {e}"
        raise MissingExtraError(extra, module, what, reason) from e


def pyplot(what: str) -> ModuleType:
    """matplotlib.pyplot on the Agg backend (files only, no display), from the 'plot' extra."""
    matplotlib = require("plot", "matplotlib", what)
    matplotlib.use("Agg")
    return require("plot", "matplotlib.pyplot", what)
