"""Why STD+STF does not train in the Table 2 ablation backbone: checks and controlled runs.

Findings: docs/stf_investigation.md. Figures: benchmarks/results/stf_investigation.json.

    python benchmarks/stf_investigation.py data             # synthetic set + decoded cache
    python benchmarks/stf_investigation.py check            # defect checks (seconds)
    python benchmarks/stf_investigation.py probe            # step-0 gradients, STD vs STD+STF
    python benchmarks/stf_investigation.py snr NAME         # step-0 gradient signal/noise
    python benchmarks/stf_investigation.py spread           # step-0 per-clip gains, magnitudes
    python benchmarks/stf_investigation.py train NAME ...   # one controlled run (~3-10 min)
    python benchmarks/stf_investigation.py collect F.json ... [--trainer-runs RUN ...]

Every run uses the ablation recipe (`mrstnet/presets/ablation.yaml`: C3D backbone with
width ×1/8 and fc 256, AdamW lr 1e-3, wd 1e-2, 1 epoch warm-up then cosine, label
smoothing 0.1, grad clip 5, batch 16, 16×64×64 clips) unless an option changes one thing.
The data are the ablation's synthetic set (4 classes, 150 videos each), decoded once into
a cache; the batches (clip offsets, crops, order) come from a generator seeded by
``--data-seed`` only, and the model from ``--seed`` only, so two runs that differ in the
unit or gate see the same weights at step 0 (STD and STD+STF have the same parameters)
and the same batches in the same order.

The STF gate variants (``--gate``) replace :meth:`Tube.fuse` of ``std_stf`` tubes inside
this script only; ``paper`` is the library's own code path, untouched:

* ``paper``       X* = S·σ(GAP(S)) + T·σ(GAP(T))               (Eq. 4–7 with S~ = S, T~ = T)
* ``detach``      the same forward, no gradient through σ(GAP(·))
* ``const``       X* = 0.6·S + 0.6·T (σ(GAP(·)) at init ≈ 0.6, frozen: STD rescaled)
* ``batch``       σ of the GAP over the batch too: one gate per channel, not per clip
* ``perm``        each clip gets the next clip's σ(GAP(·)) (no gradient): the same
                  per-clip spread of gains, unrelated to the clip's own content
* ``pre``         σ(GAP(BN(conv))) — the gate reads S and T before their ReLU
* ``two``         2·σ(GAP(S)): the same gate ×2
* ``pre_two``     2·σ(GAP(pre-ReLU)): 1 at init, range (0, 2)

Each command adds its entry to a JSON file (``--out``) under its name, so that runs can be
made one at a time (and in parallel, to different files); ``collect`` merges them into the
results file.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mrstnet.data import normalize, write_synthetic  # noqa: E402
from mrstnet.data.transforms import center_crop, resize_short_side  # noqa: E402
from mrstnet.data.video import read_all_frames  # noqa: E402
from mrstnet.models import create_model  # noqa: E402
from mrstnet.models.ops import gap
from mrstnet.models.tube import Tube  # noqa: E402

CACHE = Path("/tmp/stf_investigation")
OUT = Path(__file__).resolve().parent / "results" / "stf_investigation.json"
SHORT, CROP, FRAMES = 72, 64, 16


# -- data ----------------------------------------------------------------------------------
def make_data(cache: Path = CACHE) -> None:
    """The ablation's synthetic set (`mrstnet ablate` defaults), every video decoded and
    resized to short side 72 once: uint8 (N, 3, L, 72, 72) per split."""
    from mrstnet.data.readers import read_ucf101
    from mrstnet.engine.demo import SYNTH

    root = cache / "data"
    if not (root / "ucfTrainTestlist").exists():
        write_synthetic(root, seed=0, **SYNTH)
    for subset in ("train", "test"):
        videos, classes, _ = read_ucf101(root, subset=subset, split=1)
        clips = []
        for v in videos:
            frames = torch.from_numpy(read_all_frames(v.path)).permute(3, 0, 1, 2)
            clips.append(resize_short_side(frames, SHORT))
        length = min(c.shape[1] for c in clips)
        x = torch.stack([c[:, :length] for c in clips])
        y = torch.tensor([v.label for v in videos])
        torch.save({"video": x, "label": y, "classes": classes}, cache / f"{subset}.pt")
        print(f"{subset}: {tuple(x.shape)}, {len(classes)} classes")


def load(cache: Path, subset: str, short: int = SHORT) -> dict:
    """The cached split, resized to short side `short` (72: as cached)."""
    data = torch.load(cache / f"{subset}.pt", weights_only=True)
    if short != SHORT:
        data["video"] = torch.stack([resize_short_side(v, short) for v in data["video"]])
    return data


def batches(train: dict, steps: int, batch: int, seed: int, crop: int = CROP):
    """Shuffled epochs (drop_last), a random 16-frame window and random crop per clip."""
    g = torch.Generator().manual_seed(seed)
    video, label = train["video"], train["label"]
    n, _, length, h, w = video.shape
    per_epoch = n // batch
    order: list[int] = []
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(n, generator=g).tolist()
        idx = order[(step % per_epoch) * batch : (step % per_epoch + 1) * batch]
        out = []
        for i in idx:
            t0 = int(torch.randint(length - FRAMES + 1, (1,), generator=g))
            top = int(torch.randint(h - crop + 1, (1,), generator=g))
            left = int(torch.randint(w - crop + 1, (1,), generator=g))
            out.append(video[i, :, t0 : t0 + FRAMES, top : top + crop, left : left + crop])
        yield torch.stack(out), label[idx]


def test_set(test: dict, crop: int = CROP) -> tuple[torch.Tensor, torch.Tensor]:
    """The centre 16 frames and centre crop of every test video."""
    v = test["video"]
    t0 = (v.shape[2] - FRAMES) // 2
    clips = torch.stack([center_crop(c[:, t0 : t0 + FRAMES], crop) for c in v])
    return clips, test["label"]


# -- gate variants (script-local; "paper" is the library's code path) -----------------------
def _pre_relu(conv_bn_relu: nn.Sequential, x):
    """(pre-ReLU BN output, ReLU of it) of a ConvBN with ReLU."""
    pre = conv_bn_relu[1](conv_bn_relu[0](x))
    return pre, F.relu(pre)


def make_fuse(gate: str):
    def fuse(self: Tube, x):
        if self.unit.name != "std_stf":
            return Tube._library_fuse(self, x)
        x = self.reduce(x)
        pre_s, s = _pre_relu(self.spatial, x)
        pre_t, t = _pre_relu(self.temporal, x)
        if gate in ("pre", "pre_two"):
            z_s, z_t = gap(pre_s), gap(pre_t)
        elif gate == "batch":
            z_s = s.mean(dim=(0, 2, 3, 4)).expand(s.shape[0], -1)
            z_t = t.mean(dim=(0, 2, 3, 4)).expand(t.shape[0], -1)
        else:
            z_s, z_t = gap(s), gap(t)
        g_s, g_t = torch.sigmoid(z_s), torch.sigmoid(z_t)
        if gate == "detach":
            g_s, g_t = g_s.detach(), g_t.detach()
        elif gate == "perm":  # another clip's gate: the same spread, not this clip's content
            g_s, g_t = g_s.roll(1, 0).detach(), g_t.roll(1, 0).detach()
        elif gate == "const":
            g_s, g_t = torch.full_like(g_s, 0.6), torch.full_like(g_t, 0.6)
        elif gate in ("two", "pre_two"):
            g_s, g_t = 2 * g_s, 2 * g_t
        self._stats = (g_s.detach(), g_t.detach())
        return s * g_s[..., None, None, None] + t * g_t[..., None, None, None]

    return fuse


Tube._library_fuse = Tube.x_star


def set_gate(gate: str) -> None:
    Tube.x_star = Tube._library_fuse if gate == "paper" else make_fuse(gate)


# -- instrumentation -----------------------------------------------------------------------
def tubes(model: nn.Module) -> list[tuple[str, Tube]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, Tube)]


def gate_hooks(model: nn.Module, record: dict) -> None:
    """σ(GAP(S)), σ(GAP(T)) of every tube in the last forward (the library's STFGate)."""

    def hook(name):
        def fn(mod, args, out):
            _, _, z_s, z_t = args
            record[name] = (torch.sigmoid(z_s).detach(), torch.sigmoid(z_t).detach())

        return fn

    for name, t in tubes(model):
        if hasattr(t.unit, "gate"):
            t.unit.gate.register_forward_hook(hook(name))


def act_hooks(model: nn.Module, record: dict) -> None:
    """Per tube: the output's RMS and the fraction of it that the following ReLU zeroes."""

    def hook(name):
        def fn(mod, args, out):
            o = out.detach()
            record[name] = (float(o.pow(2).mean().sqrt()), float((o <= 0).float().mean()))

        return fn

    for name, t in tubes(model):
        t.register_forward_hook(hook(name))


def group_grad_norms(model: nn.Module) -> dict[str, float]:
    """Gradient norm per tube (all its parameters) and for the head."""
    out = {}
    for name, t in tubes(model):
        out[name] = float(
            torch.sqrt(sum(p.grad.pow(2).sum() for p in t.parameters() if p.grad is not None))
        )
    head = [p for n, p in model.named_parameters() if n.startswith("fc")]
    out["head"] = float(torch.sqrt(sum(p.grad.pow(2).sum() for p in head)))
    return out


# -- training ------------------------------------------------------------------------------
def lr_factor(step: int, warm: int, total: int) -> float:
    if step < warm:
        return (step + 1) / warm
    t = min((step - warm) / max(total - warm, 1), 1.0)
    return 0.5 * (1 + math.cos(math.pi * t))


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    model.eval()
    logits = torch.cat([model(normalize(x[i : i + 32])) for i in range(0, len(x), 32)])
    model.train()
    return {
        "top1": float((logits.argmax(1) == y).float().mean()),
        "loss": float(F.cross_entropy(logits, y)),
    }


def train(args) -> dict:
    torch.set_num_threads(args.threads)
    set_gate(args.gate)
    short = round(args.crop * SHORT / CROP)  # the recipe's short side / crop ratio
    train_data, test_data = load(args.cache, "train", short), load(args.cache, "test", short)
    torch.manual_seed(args.seed)
    model = create_model(
        f"c3d_{args.unit}",
        num_classes=len(train_data["classes"]),
        width_mult=args.width,
        fc_dim=args.fc,
        dropout=0.3,
        impl=args.impl,
    )
    if args.init_file:
        model.load_state_dict(torch.load(args.init_file, weights_only=True))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    per_epoch = len(train_data["label"]) // 16
    warm = per_epoch  # warmup_epochs: 1
    gates: dict = {}
    acts: dict = {}
    gate_hooks(model, gates)
    act_hooks(model, acts)
    log = []
    t_start = time.perf_counter()
    model.train()
    for step, (video, label) in enumerate(
        batches(train_data, args.steps, 16, args.data_seed, args.crop)
    ):
        for pg in opt.param_groups:
            pg["lr"] = args.lr * lr_factor(step, warm, args.total or args.steps)
        logits = model(normalize(video))
        loss = F.cross_entropy(logits, label, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = group_grad_norms(model)
        total_norm = float(nn.utils.clip_grad_norm_(model.parameters(), 5.0))
        opt.step()
        rec = {
            "step": step,
            "loss": round(float(loss.detach()), 4),
            "acc": float((logits.argmax(1) == label).float().mean()),
            "grad_norm": round(total_norm, 4),
        }
        if step % args.every == 0 or step == args.steps - 1:
            rec["grad"] = {k: round(v, 5) for k, v in grads.items()}
            rec["act"] = {k: [round(a, 4), round(z, 3)] for k, (a, z) in acts.items()}
            src = gates or {n: t._stats for n, t in tubes(model) if hasattr(t, "_stats")}
            rec["gate"] = {
                k: [
                    round(float(gs.mean()), 4),
                    round(float(gs.std(0).mean()), 4),  # spread over the batch
                    round(float(gt.mean()), 4),
                    round(float(gt.std(0).mean()), 4),
                ]
                for k, (gs, gt) in src.items()
            }
            print(
                f"{args.name} step {step:3d} loss {rec['loss']:.4f} |g| {total_norm:.3f}",
                flush=True,
            )
        log.append(rec)
    x_test, y_test = test_set(test_data, args.crop)
    result = {
        "config": {k: v for k, v in vars(args).items() if k not in ("func", "cache", "out")},
        "seconds": round(time.perf_counter() - t_start, 1),
        "final_loss_mean10": round(float(np.mean([r["loss"] for r in log[-10:]])), 4),
        "test": evaluate(model, x_test, y_test),
        "log": log,
    }
    print(
        f"{args.name}: last-10 loss {result['final_loss_mean10']}, test top1 "
        f"{result['test']['top1']:.3f} ({result['seconds']} s)"
    )
    return result


def save(out: Path, name: str, entry: dict) -> None:
    data = json.loads(out.read_text()) if out.exists() else {}
    data[name] = entry
    out.write_text(json.dumps(data, indent=1) + "\n")


# -- defect checks -------------------------------------------------------------------------
def _plain_std_stf(t: Tube, x):
    """Eq. 4–7 with S~ = S, T~ = T written with plain autograd ops only."""
    x = t.reduce(x)
    s, tt = t.spatial(x), t.temporal(x)
    g_s = torch.sigmoid(s.mean(dim=(2, 3, 4)))[..., None, None, None]
    g_t = torch.sigmoid(tt.mean(dim=(2, 3, 4)))[..., None, None, None]
    return s * g_s + tt * g_t


def check(args) -> dict:
    """(1) fast vs reference vs a plain-autograd rewrite of std_stf in the ablation backbone
    in train mode: outputs and every parameter's gradient; (2) no parameter without a
    gradient; (3) the gate's inputs are the tube's own S and T."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {}
    model = create_model("c3d_std_stf", num_classes=4, width_mult=0.125, fc_dim=256, dropout=0.0)
    model = model.double().train()
    x = torch.randn(4, 3, 16, 64, 64, dtype=torch.double)
    y = torch.tensor([0, 1, 2, 3])
    runs = {}
    for impl in ("fast", "reference", "plain"):
        m = copy.deepcopy(model)
        if impl == "plain":
            for _, t in tubes(m):
                t.fuse = _plain_std_stf.__get__(t)
        else:
            for _, t in tubes(m):
                t.impl = impl
        logits = m(x)
        F.cross_entropy(logits, y).backward()
        runs[impl] = (logits.detach(), {n: p.grad.clone() for n, p in m.named_parameters()})
    ref_logits, ref_grads = runs["plain"]
    for impl in ("fast", "reference"):
        logits, grads = runs[impl]
        out[f"{impl}_vs_plain"] = {
            "max_logit_diff": float((logits - ref_logits).abs().max()),
            "max_rel_grad_diff": max(
                float((grads[n] - ref_grads[n]).norm() / ref_grads[n].norm().clamp_min(1e-300))
                for n in grads
            ),
        }
    _, grads = runs["fast"]
    out["params_without_gradient"] = [n for n, g in grads.items() if float(g.abs().max()) == 0]
    out["n_params"] = len(grads)
    # the gate reads the tube's own S and T: compare the hooked z with GAP of S, T
    m = copy.deepcopy(model)
    seen = {}
    for name, t in tubes(m):
        t.spatial.register_forward_hook(
            lambda mod, a, o, n=name: seen.setdefault(n, {}).__setitem__(
                "s", o.mean(dim=(2, 3, 4)).clone()
            )
        )
        t.temporal.register_forward_hook(
            lambda mod, a, o, n=name: seen.setdefault(n, {}).__setitem__(
                "t", o.mean(dim=(2, 3, 4)).clone()
            )
        )
        t.unit.gate.register_forward_hook(
            lambda mod, a, o, n=name: seen[n].__setitem__("z", (a[2].clone(), a[3].clone()))
        )
    m(x)
    out["gate_inputs_are_gap_s_t"] = all(
        torch.allclose(v["z"][0], v["s"]) and torch.allclose(v["z"][1], v["t"])
        for v in seen.values()
    )
    print(json.dumps(out, indent=1))
    return out


def _grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y, label_smoothing=0.1).backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def _per_tube(grads: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for name, _ in tubes(model):
        out[name] = torch.cat([g.flatten() for n, g in grads.items() if n.startswith(name + ".")])
    out["head"] = torch.cat([g.flatten() for n, g in grads.items() if n.startswith("fc")])
    return out


def probe(args) -> dict:
    """At step 0, same weights and batches: the gradient of STD+STF beside STD's, split into
    the path through S·g, T·g (gate values held) and the path through σ(GAP(·)); and the
    fp32 gradient's error against fp64 (a sign of cancellation between large terms)."""
    torch.set_num_threads(args.threads)
    train_data = load(args.cache, "train")
    torch.manual_seed(args.seed)
    base = create_model("c3d_std", num_classes=4, width_mult=0.125, fc_dim=256, dropout=0.0)
    base.train()
    state = copy.deepcopy(base.state_dict())
    rows = []
    for b, (video, label) in enumerate(batches(train_data, args.batches, 16, args.data_seed)):
        x = normalize(video)
        per = {}
        for key, unit, gate, dtype in (
            ("std", "std", "paper", torch.float32),
            ("stf", "std_stf", "paper", torch.float32),
            ("stf_detach", "std_stf", "detach", torch.float32),
            ("stf_fp64", "std_stf", "paper", torch.float64),
            ("std_fp64", "std", "paper", torch.float64),
        ):
            set_gate(gate)
            torch.manual_seed(args.seed)
            m = create_model(
                f"c3d_{unit}", num_classes=4, width_mult=0.125, fc_dim=256, dropout=0.0
            )
            m.load_state_dict(state)
            m = m.to(dtype).train()
            per[key] = _per_tube(_grads(m, x.to(dtype), label), m)
        set_gate("paper")
        for name in per["std"]:
            g_std, g_stf, g_det = per["std"][name], per["stf"][name], per["stf_detach"][name]
            g_gate = g_stf - g_det
            rows.append(
                {
                    "batch": b,
                    "layer": name,
                    "norm_std": float(g_std.norm()),
                    "norm_stf": float(g_stf.norm()),
                    "norm_stf_gate_path": float(g_gate.norm()),
                    "cos_stf_std": float(F.cosine_similarity(g_stf, g_std, dim=0)),
                    "cos_gate_path_direct_path": float(F.cosine_similarity(g_gate, g_det, dim=0)),
                    "fp32_err_stf": float(
                        (g_stf.double() - per["stf_fp64"][name]).norm()
                        / per["stf_fp64"][name].norm()
                    ),
                    "fp32_err_std": float(
                        (g_std.double() - per["std_fp64"][name]).norm()
                        / per["std_fp64"][name].norm()
                    ),
                }
            )
        print(f"batch {b} done", flush=True)
    keys = [k for k in rows[0] if k not in ("batch", "layer")]
    summary = {
        layer: {
            k: round(float(np.mean([r[k] for r in rows if r["layer"] == layer])), 5) for k in keys
        }
        for layer in dict.fromkeys(r["layer"] for r in rows)
    }
    for layer, s in summary.items():
        print(layer, s)
    return {"batches": args.batches, "per_layer_mean": summary}


def snr(args) -> dict:
    """Gradient signal-to-noise at step 0: the same weights, K batches, per variant.

    For per-batch gradients g_1..g_K of a tube's parameters, noise = mean ||g_i - ḡ||² and
    signal = ||ḡ||² - noise / K (an unbiased estimate of ||E g||²); snr = signal / noise is
    how much of one batch's gradient is the direction all batches agree on. Adam divides by
    the gradient's RMS, so a lower snr means a slower walk along the useful direction."""
    torch.set_num_threads(args.threads)
    train_data = load(args.cache, "train")
    torch.manual_seed(args.seed)
    state = create_model("c3d_std", num_classes=4, width_mult=0.125, fc_dim=256).state_dict()
    data = list(batches(train_data, args.batches, 16, args.data_seed))
    out = {}
    for variant in args.variants:
        unit, _, gate = variant.partition(":")
        set_gate(gate or "paper")
        m = create_model(f"c3d_{unit}", num_classes=4, width_mult=0.125, fc_dim=256, dropout=0.0)
        m.load_state_dict(state)
        m.train()
        per = [_per_tube(_grads(m, normalize(v), y), m) for v, y in data]
        res = {}
        for name in per[0]:
            g = torch.stack([p[name] for p in per])
            mean = g.mean(0)
            noise = float((g - mean).pow(2).sum(1).mean())
            signal = float(mean.pow(2).sum()) - noise / len(per)
            res[name] = round(signal / noise, 4)
        res["all_tubes_mean"] = round(float(np.mean([v for k, v in res.items() if k != "head"])), 4)
        out[variant] = res
        print(variant, res, flush=True)
    set_gate("paper")
    return {"batches": args.batches, "seed": args.seed, "snr": out}


def spread(args) -> dict:
    """At step 0, same weights, one batch of 32 clips, per variant and tube:

    * ``clip_rms_spread``: std / mean over clips of each clip's RMS of the tube's output;
      how unequal the clips' feature magnitudes are (BN equalises them over the batch only);
    * ``gain_spread``: std / mean over clips of each channel's gate, averaged over channels;
    * ``common_mode``: the share of the gates' clip-to-clip variance that moves all channels
      of a clip together (its mean over channels); 1/C for independent channels."""
    torch.set_num_threads(args.threads)
    train_data = load(args.cache, "train")
    torch.manual_seed(args.seed)
    state = create_model("c3d_std", num_classes=4, width_mult=0.125, fc_dim=256).state_dict()
    video, _ = next(batches(train_data, 1, 32, args.data_seed))
    x = normalize(video)
    out = {}
    for variant in args.variants:
        unit, _, gate = variant.partition(":")
        set_gate(gate or "paper")
        m = create_model(f"c3d_{unit}", num_classes=4, width_mult=0.125, fc_dim=256)
        m.load_state_dict(state, strict=False)  # MRST's four layers keep their own init
        m.train()
        gates: dict = {}
        gate_hooks(m, gates)
        outs = {}
        for name, t in tubes(m):
            t.register_forward_hook(lambda mod, a, o, n=name, d=outs: d.__setitem__(n, o.detach()))
        with torch.no_grad():
            m.features(x)
        gates = gates or {n: t._stats for n, t in tubes(m) if hasattr(t, "_stats")}
        res = {}
        for name, o in outs.items():
            rms = o.pow(2).mean(dim=(1, 2, 3, 4)).sqrt()
            row = {"clip_rms_spread": round(float(rms.std() / rms.mean()), 3)}
            if name in gates:
                g = torch.cat(gates[name], 1)
                d = g - g.mean(0)
                row["gain_spread"] = round(float((g.std(0) / g.mean(0)).mean()), 3)
                row["common_mode"] = round(
                    float(d.mean(1).pow(2).sum() * g.shape[1] / d.pow(2).sum().clamp_min(1e-12)),
                    3,
                )
            res[name] = row
        out[variant] = res
        print(variant, {k.split(".")[1]: v for k, v in res.items()}, flush=True)
    set_gate("paper")
    return {"clips": 32, "seed": args.seed, "per_tube": out}


def _window_means(losses: list[float], width: int = 20) -> list[float]:
    return [round(float(np.mean(losses[i : i + width])), 3) for i in range(0, len(losses), width)]


def collect(args) -> dict:
    """One results file from the pieces: every JSON given (check / probe / snr / spread /
    train entries), each training run cut to its loss per step, its 20-step means and its
    diagnostics at the first, middle and last logged step; and any `mrstnet ablate` run
    folders (RUN/log.jsonl, RUN/result.json) as the library trainer's own record."""
    out: dict = {"runs": {}, "trainer_runs": {}}
    for path in args.pieces:
        for name, entry in json.loads(Path(path).read_text()).items():
            if "log" not in entry:
                out[name if name not in ("spread",) else f"spread_seed{entry['seed']}"] = entry
                continue
            log = entry["log"]
            diag = [r for r in log if "grad" in r]
            keep = {diag[0]["step"], diag[len(diag) // 2]["step"], diag[-1]["step"]}
            out["runs"][name] = {
                "config": entry["config"],
                "seconds": entry["seconds"],
                "final_loss_mean10": entry["final_loss_mean10"],
                "test": entry["test"],
                "loss_20_step_means": _window_means([r["loss"] for r in log]),
                "loss": [r["loss"] for r in log],
                "diagnostics": [r for r in diag if r["step"] in keep],
            }
    for run in args.trainer_runs:
        run = Path(run)
        log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        result = run / "result.json"
        out["trainer_runs"][f"{run.parent.parent.name}/{run.name}"] = {
            "log": [{k: r[k] for k in ("kind", "step", "lr", "loss", "acc")} for r in log],
            "result": json.loads(result.read_text()) if result.exists() else None,
        }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--out", type=Path, help=f"default: {CACHE}/pieces.json ({OUT} for collect)")
    p.add_argument("--threads", type=int, default=1)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("data")
    sub.add_parser("check")
    pr = sub.add_parser("probe")
    pr.add_argument("--batches", type=int, default=4)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--data-seed", type=int, default=0)
    sn = sub.add_parser("snr")
    sn.add_argument("name")
    sn.add_argument("--batches", type=int, default=8)
    sn.add_argument("--seed", type=int, default=0)
    sn.add_argument("--data-seed", type=int, default=0)
    sn.add_argument(
        "--variants",
        nargs="+",
        default=["std", "std_stf", "std_stf:detach", "std_stf:batch", "std_stf:pre_two"],
    )
    co = sub.add_parser("collect")
    co.add_argument("pieces", nargs="+", type=Path, help="JSON files written with --out")
    co.add_argument("--trainer-runs", nargs="*", default=[], help="ablate RUN folders")
    sp = sub.add_parser("spread")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--data-seed", type=int, default=0)
    sp.add_argument(
        "--variants",
        nargs="+",
        default=["std", "std_stf", "std_stf:batch", "std_stf:perm", "mrst_p", "mrst_s", "mrst_t"],
    )
    t = sub.add_parser("train")
    t.add_argument("name")
    t.add_argument("--unit", default="std_stf")
    t.add_argument("--gate", default="paper")
    t.add_argument("--impl", default="fast")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--steps", type=int, default=60)
    t.add_argument("--total", type=int, default=200, help="cosine length (the recipe's 200)")
    t.add_argument("--width", type=float, default=0.125)
    t.add_argument("--fc", type=int, default=256)
    t.add_argument("--crop", type=int, default=CROP)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-seed", type=int, default=0)
    t.add_argument("--every", type=int, default=10)
    t.add_argument("--init-file", type=Path)
    args = p.parse_args()
    if args.out is None:
        args.out = OUT if args.cmd == "collect" else args.cache / "pieces.json"
    if args.cmd == "data":
        args.cache.mkdir(parents=True, exist_ok=True)
        make_data(args.cache)
    elif args.cmd == "check":
        save(args.out, "check", check(args))
    elif args.cmd == "probe":
        save(args.out, "probe", probe(args))
    elif args.cmd == "collect":
        args.out.write_text(json.dumps(collect(args), indent=1) + "\n")
    elif args.cmd == "spread":
        save(args.out, "spread", spread(args))
    elif args.cmd == "snr":
        save(args.out, args.name, snr(args))
    else:
        save(args.out, args.name, train(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
