"""bf16 where it pays: the CPU detection (from a flags string), what optimize(dtype="auto") and
the trainer's amp pick, and the whole-network bf16 inference path (run here on any CPU,
slowly where there are no bf16 kernels)."""

import contextlib

import pytest
import torch

import mrstnet
from mrstnet.engine import hardware
from mrstnet.engine.evaluate import autocast, inference_dtype
from mrstnet.models.layout import is_channels_last

# abridged /proc/cpuinfo flags of three machines
SAPPHIRE_RAPIDS = (
    "fpu vme sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 avx512_fp16 "
    "amx_bf16 amx_tile amx_int8"
)
ZEN4 = "fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16"
ZEN3 = "fpu sse2 avx avx2 fma vaes vpclmulqdq"


def test_flags_from_cpuinfo_or_a_string():
    dump = f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {ZEN4}\n\nprocessor\t: 1\n"
    assert hardware.cpu_flags(dump) == frozenset(ZEN4.split())
    assert hardware.cpu_flags(ZEN3) == frozenset(ZEN3.split())
    assert "avx2" in hardware.cpu_flags() or "AVX2" not in str(
        torch.backends.cpu.get_cpu_capability()
    )


@pytest.mark.parametrize(
    "flags,expected", [(SAPPHIRE_RAPIDS, True), (ZEN4, False), (ZEN3, False), ("", False)]
)
def test_bf16_matrix_units_is_amx(flags, expected):
    """AVX-512 BF16 alone (Zen 4) is not enough: bf16 was measured slower than fp32 there."""
    assert hardware.bf16_matrix_units(flags) is expected
    assert hardware.bf16_matrix_units(set(flags.split())) is expected


def test_this_machine_agrees_with_pytorch():
    caps = torch.cpu.get_capabilities()
    assert hardware.bf16_matrix_units() == bool(caps.get("amx_bf16") and caps.get("amx_tile"))


@pytest.fixture
def amx(monkeypatch):
    """Pretend bf16 pays on this CPU (an AMX machine), or not."""

    def set_(value: bool):
        monkeypatch.setattr(hardware, "_cpu_bf16_pays", lambda: value)

    return set_


def _mode(ctx) -> torch.dtype | None:
    return ctx.fast_dtype if isinstance(ctx, torch.autocast) else None


@pytest.mark.parametrize("pays", [True, False])
def test_auto_picks_bf16_only_where_it_pays(amx, pays):
    amx(pays)
    cpu = torch.device("cpu")
    assert hardware.bf16_pays(cpu) is pays
    expected = torch.bfloat16 if pays else None
    assert _mode(autocast(cpu, True)) == expected  # the trainer's amp
    assert _mode(autocast(cpu, False)) is None
    assert inference_dtype(cpu, True) == ("bf16" if pays else None)
    model = mrstnet.create_model("mrst_t_net_small", num_classes=4, width_mult=0.125).eval()
    fast = mrstnet.optimize(model)  # dtype="auto"
    assert fast.dtype == expected and fast.cast is pays
    assert isinstance(autocast(cpu, False), contextlib.nullcontext)


def _tiny(name):
    torch.manual_seed(0)
    kw = dict(num_classes=6, width_mult=0.125, dropout=0.0)
    if name == "c3d_mrst_t":
        kw["fc_dim"] = 32
    return mrstnet.create_model(name, **kw).eval()


@pytest.mark.parametrize("name", ["mrst_t_net_small", "c3d_mrst_t"])
def test_bf16_inference_runs_bf16_end_to_end(name):
    """Weights cast once (BN folded first), every feature map bf16 (no float32 round trip;
    channels_last_3d where oneDNN has bf16 kernels), the head in float32, scores close to
    float32's."""
    model = _tiny(name)
    frames, size = (4, 32) if name == "mrst_t_net_small" else (8, 32)
    x = torch.randn(8, 3, frames, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x).softmax(-1)
    fast = mrstnet.optimize(model, dtype="bf16")
    feats = [
        p for part in fast.module.feature_modules for p in getattr(fast.module, part).parameters()
    ]
    assert feats and all(p.dtype == torch.bfloat16 for p in feats)
    head = [
        p
        for n, p in fast.module.named_parameters()
        if not any(n.startswith(part + ".") for part in fast.module.feature_modules)
    ]
    assert head and all(p.dtype == torch.float32 for p in head)
    maps = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: maps.append(o))
        for m in fast.module.modules()
        if type(m).__name__ in ("FusedBlock", "FusedConv", "Tube", "C3DConv")
    ]
    with torch.inference_mode():
        out = fast(x)
    for h in hooks:
        h.remove()
    assert maps and all(m.dtype == torch.bfloat16 for m in maps)
    if hardware.onednn_bf16():  # PyTorch's reference bf16 kernels return the default layout
        assert all(is_channels_last(m) for m in maps)
    assert out.dtype == torch.float32
    assert (out.softmax(-1) - ref).abs().max() < 0.05
    assert (out.argmax(-1) == ref.argmax(-1)).float().mean() >= 0.75


def test_bf16_training_step_under_autocast():
    """The trainer's amp on an AMX CPU: autocast bf16 (the fused fp32 paths step aside);
    the loss stays close to float32's and the gradient points the same way (cosine 0.88
    here; the literal formulation in the default layout gives the same 0.88: bf16
    rounding in BN's near-cancelling parameter gradients of a tiny random net)."""
    torch.manual_seed(0)
    model = mrstnet.create_model("mrst_t_net_small", num_classes=4, width_mult=0.125, dropout=0)
    x, y = torch.randn(2, 3, 4, 32, 32), torch.tensor([1, 3])
    grads, losses = [], []
    for amp in (False, True):
        model.zero_grad(set_to_none=True)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with ctx:
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    cos = torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0)
    assert torch.isfinite(grads[1]).all() and cos > 0.8
    assert abs(losses[1] - losses[0]) < 0.02 * losses[0]
