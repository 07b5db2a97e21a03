"""The checks of `scripts/gpu_check.py` (docs/gpu.md), one module per kind of check.

Each check runs in its own process, started by the runner, and writes what it finds to a
result file as it goes (:mod:`gpucheck.part`), so that a check stopped at its time limit
still leaves what it measured. Only `sizes` and `part` are imported by the runner itself:
they need no torch, so the runner never touches CUDA.
"""
