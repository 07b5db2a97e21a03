"""Run by torchrun (the `ddp` and `sync_bn` checks): one DDP step against the same step done
without DDP, in float64 so that any difference beyond ~1e-12 is a real one.

Every process builds the same model (seed 0) and the same global batch, takes its share
(batch / world) and does one forward/backward through DistributedDataParallel, optionally
with nn.SyncBatchNorm, in the trainer's channels_last_3d layout. Each process also computes,
alone and in the default layout, what the gradient must be:

- plain BatchNorm: the mean over the shards of each shard's gradient (each shard normalised
  by its own statistics), which is what DDP's all-reduce gives;
- SyncBatchNorm: the gradient of the whole global batch in one process (statistics over the
  global batch): DDP + SyncBatchNorm must equal one process with the global batch.

Then one SGD step, after which every process must hold the same weights. Rank 0 writes the
worst differences over all processes to the result file.

    torchrun --standalone --nproc_per_node N scripts/gpucheck/ddp_worker.py --part F \
        --device cuda --backend nccl [--sync-bn] [--tiny]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # scripts/, for gpucheck

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from gpucheck.measure import CL3D, clips, max_err, net, scale, worst_grad  # noqa: E402
from gpucheck.part import Part  # noqa: E402
from gpucheck.sizes import sizes_for  # noqa: E402

TOL = 1e-9


def _grads(model: nn.Module) -> dict:
    return {n.removeprefix("module."): p.grad.detach().clone() for n, p in model.named_parameters()}


def _reference(model, x, y, world: int, sync_bn: bool) -> dict:
    """The gradient DDP must produce, computed alone (no communication)."""
    if sync_bn:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        return _grads(model)
    total: dict = {}
    for xs, ys in zip(x.chunk(world), y.chunk(world), strict=True):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(xs), ys).backward()
        for n, g in _grads(model).items():
            total[n] = total.get(n, 0) + g / world
    return total


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--part", required=True)
    p.add_argument("--device", choices=("cuda", "cpu"), required=True)
    p.add_argument("--backend", choices=("nccl", "gloo"), required=True)
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--tiny", action="store_true")
    args = p.parse_args()
    sizes = sizes_for(args.tiny)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if args.device == "cuda":
        # several processes may share one GPU over gloo (the sync_bn check on one GPU)
        dev = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
        torch.set_num_threads(1)
    dist.init_process_group(args.backend, timeout=datetime.timedelta(seconds=60))
    # cuDNN's float64 kernels are deterministic enough; keep TF32 out of any float32 path
    torch.backends.cudnn.allow_tf32 = False

    b, frames, size = sizes.ddp
    torch.manual_seed(0)
    base = net(sizes, dropout=0.0, **sizes.ddp_net).double()
    x, y = clips(b * world, frames, size, "cpu", base.num_classes)
    x, y = x.double().to(dev), y.to(dev)
    ref = _reference(copy.deepcopy(base).to(dev), x, y, world, args.sync_bn)

    model = copy.deepcopy(base)
    if args.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(dev, memory_format=CL3D)
    ddp = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    mine = slice(rank * b, (rank + 1) * b)
    F.cross_entropy(ddp(x[mine].contiguous(memory_format=CL3D)), y[mine]).backward()
    got = _grads(model)
    worst, where = worst_grad(got, ref)

    torch.optim.SGD(model.parameters(), lr=0.1).step()
    flat = torch.cat([q.detach().flatten() for q in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    spread = max(max_err(g, flat) for g in gathered) / max(scale(flat), 1e-300)

    worst_all = torch.tensor([worst, spread], dtype=torch.float64, device=dev)
    dist.all_reduce(worst_all, op=dist.ReduceOp.MAX)
    grad_rel, weight_spread = worst_all.tolist()
    if rank == 0:
        ok = grad_rel <= TOL and weight_spread <= TOL
        detail = {
            "backend": args.backend,
            "world_size": world,
            "gpus_used": min(world, torch.cuda.device_count()) if dev.type == "cuda" else 0,
            "sync_bn": args.sync_bn,
            "per_process_input": [b, 3, frames, size, size],
            "grad_rel_diff": grad_rel,
            "grad_worst_param_rank0": where,
            "weights_spread_after_step": weight_spread,
        }
        what = "SyncBatchNorm vs one process" if args.sync_bn else "per-shard BatchNorm"
        Part(args.part).update(
            details=detail,
            status="PASS" if ok else "FAIL",
            summary=(
                f"{args.backend} x{world} ({what}): grads rel {grad_rel:.1e}, "
                f"weights after step spread {weight_spread:.1e}"
            ),
        )
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    # torch 2.13's gloo can abort at interpreter teardown after all work is done
    # (README "Several processes"): leave now, the work is written
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
