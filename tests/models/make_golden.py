"""Golden outputs of the networks, kept to prove that a refactoring changed nothing.

    python tests/models/make_golden.py        # rewrites tests/models/data/golden.pt

:func:`compute` builds, with fixed seeds and one thread:

* ``demo``: the shipped ``mrstnet/weights/demo.pt`` (its ``state_dict`` loaded strictly
  into the architecture its config names), eval logits on a seeded clip;
* ``units``: for each Table 2 unit, in the Table 2 C3D backbone and in MRST-Net (the
  small demo width), each implementation (``fast``, ``reference``) and mode: the logits;
  in train mode also the loss's gradient summed per parameter (the backward pass);
* ``keys``: each model's ``state_dict`` keys (checkpoints must keep loading);
* ``optimize``: ``mrstnet.optimize(model)`` logits of every unit's eval model.

``tests/models/test_golden.py`` recomputes all of it with the code under test: the plain
forward and backward in the default memory layout must be bit-identical (the same
operations in the same order), the optimized copy equal to float32 rounding; the networks'
own layout (``channels_last_3d``, where other kernels sum in another order) equal to
float32 rounding too. The file holds the default layout's figures (``layout="plain"``).
Regenerate the file only when a change to the numbers is intended, and say so in the
commit message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "data" / "golden.pt"
UNIT_NAMES = ("c3d", "std", "std_stf", "mrst_p", "mrst_s", "mrst_t")
IMPL_NAMES = ("fast", "reference")
# tiny widths: the numbers, not the size, are what is checked
ARCHS = {
    "c3d": ("c3d", dict(width_mult=0.125, fc_dim=16, dropout=0.5), (2, 3, 8, 24, 24)),
    "mrst_net": (
        "mrst_t_net_small",
        dict(width_mult=0.125, dropout=0.5),
        (2, 3, 4, 32, 32),
    ),
}


def perturb(model: nn.Module, seed: int = 1) -> nn.Module:
    """Non-trivial BN statistics and affine parameters and conv biases (init leaves them
    0 and 1), so that eval mode, BN folding and the reinforcement biases are all exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            elif isinstance(m, nn.Conv3d) and m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
    return model


def in_layout(model: nn.Module, layout: str) -> nn.Module:
    """``model`` in the default memory layout (``"plain"``, what the file was made with) or
    as built (``"fast"``: the networks build themselves in channels_last_3d)."""
    if layout == "plain":
        model.to(memory_format=torch.contiguous_format)
    elif layout != "fast":
        raise ValueError(f"unknown layout {layout!r}")
    return model


def build(arch: str, unit: str, impl: str, layout: str = "plain") -> nn.Module:
    import mrstnet

    name, kwargs, _ = ARCHS[arch]
    torch.manual_seed(0)
    model = mrstnet.create_model(name, num_classes=5, unit=unit, impl=impl, **kwargs)
    return in_layout(perturb(model), layout)


def clip(arch: str) -> torch.Tensor:
    return torch.randn(*ARCHS[arch][2], generator=torch.Generator().manual_seed(2))


def demo_logits(layout: str = "plain") -> torch.Tensor:
    from mrstnet.models import model_from_config

    ckpt = torch.load(ROOT / "mrstnet/weights/demo.pt", map_location="cpu", weights_only=True)
    model = in_layout(model_from_config(ckpt["model"]), layout)
    model.load_state_dict(ckpt["state_dict"])  # strict: the shipped keys still fit
    x = torch.randn(2, 3, 8, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        return model.eval()(x)


def train_step(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits in train mode (seeded dropout) and each parameter's gradient, summed."""
    model.train()
    torch.manual_seed(4)
    logits = model(x)
    logits.logsumexp(1).sum().backward()
    grads = [p.grad.double().sum() for p in model.parameters()]
    return logits.detach(), torch.stack(grads)


def compute(layout: str = "plain") -> dict:
    """Every golden figure (see the module docstring), from the code imported now, with the
    networks in ``layout`` (see :func:`in_layout`)."""
    import mrstnet

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reduction order depends on the thread count
    try:
        out: dict = {"demo": demo_logits(layout), "units": {}, "keys": {}, "optimize": {}}
        # the kernels' instruction set: outputs are bit-identical only on the same one
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        for arch in ARCHS:
            x = clip(arch)
            for unit in UNIT_NAMES:
                for impl in IMPL_NAMES:
                    key = f"{arch}/{unit}/{impl}"
                    model = build(arch, unit, impl, layout)
                    out["keys"][key] = list(model.state_dict())
                    with torch.no_grad():
                        out["units"][f"{key}/eval"] = model.eval()(x)
                    logits, grads = train_step(model, x)
                    out["units"][f"{key}/train"] = logits
                    out["units"][f"{key}/grads"] = grads
                fast = mrstnet.optimize(build(arch, unit, "fast", layout).eval(), dtype=None)
                with torch.inference_mode():
                    out["optimize"][f"{arch}/{unit}"] = fast(x).clone()
        return out
    finally:
        torch.set_num_threads(threads)


def main() -> int:
    sys.path.insert(0, str(ROOT))  # the repository's mrstnet, run from a clone
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    torch.save(compute(), GOLDEN)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
