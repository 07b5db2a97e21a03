"""The checks in the order they run, with their time limits. No torch here.

Each check runs in its own process with its own limit (`limit_gpu` on CUDA, `limit_tiny`
with --tiny), never more than what is left of the overall budget. The order puts every
path's correctness first, then speed, then the learning run; the torch.compile checks come
last because their compile time is the least predictable (a first run that spends the
budget there leaves them TIMEOUT, and `--only compile compile_infer cuda_graphs` finishes
them in a second run into the same JSON).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    what: str  # one line: what it checks (docs/gpu.md explains each)
    target: str  # "module:function" in gpucheck, or "torchrun" (ddp_worker.py)
    limit_gpu: int  # seconds
    limit_tiny: int
    cpu_skip: str | None = None  # why it does not run on the CPU, if it does not


CHECKS = (
    Check("env", "GPU, driver, CUDA/cuDNN/NCCL, torch, CPU model and flags", "env:env", 60, 60),
    Check(
        "fast_vs_reference",
        "impl=fast equals impl=reference (MRST-T/S/P-Net): fp64 gradients, fp32 logits",
        "exact:fast_vs_reference",
        150,
        120,
    ),
    Check(
        "bf16_train_step",
        "a bf16 autocast training step of MRST-T-Net at 16x224x224 matches fp32, no NaN",
        "bf16:bf16_train_step",
        120,
        120,
    ),
    Check(
        "optimize",
        "mrstnet.optimize's copy equals the model (fp32; bf16 loosely); eager inference speed",
        "infer:optimize",
        150,
        120,
    ),
    Check(
        "ddp",
        "DDP through torchrun (NCCL; gloo on the CPU), one process per GPU",
        "torchrun",
        120,
        120,
    ),
    Check(
        "sync_bn",
        "DDP + SyncBatchNorm equals one process on the global batch",
        "torchrun",
        120,
        120,
        cpu_skip="torch's SyncBatchNorm has no CPU kernel (CUDA only)",
    ),
    Check(
        "throughput",
        "MRST-T-Net training clips/s and GPU memory at each batch size, eager",
        "speed:throughput",
        180,
        120,
    ),
    Check(
        "train",
        "mrstnet train under torchrun on a synthetic set: the loss falls",
        "learn:train",
        0,
        180,
    ),  # GPU limit: --train-seconds + 120
    Check(
        "compile",
        "torch.compile training step equals eager; compile time; compiled training clips/s",
        "speed:compile",
        300,
        180,
    ),
    Check(
        "compile_infer",
        "mrstnet.optimize's default on CUDA (bf16 + compile): equals eager; inference clips/s",
        "infer:compile_infer",
        240,
        120,
        cpu_skip="inductor's C++ compilation takes minutes on a small CPU "
        "(tests/deploy/test_compile.py covers CPU inductor)",
    ),
    Check(
        "cuda_graphs",
        "mrstnet.optimize(cuda_graphs=True): replayed graphs equal eager; clips/s",
        "infer:cuda_graphs",
        180,
        120,
        cpu_skip="CUDA graphs need CUDA",
    ),
)

NAMES = tuple(c.name for c in CHECKS)


def by_name(name: str) -> Check:
    return next(c for c in CHECKS if c.name == name)
