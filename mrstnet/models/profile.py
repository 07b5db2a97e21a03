"""Model report: parameters, FLOPs and fp32 size, beside the paper's figures.

FLOPs come from :class:`torch.utils.flop_counter.FlopCounterMode` on the meta
device (no memory, no compute): convolutions and matrix products only, a
multiply-add counted as 2 FLOPs; BN, ReLU, pooling and sigmoid are not counted.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .registry import create_model
from .tube import set_impl
from .units import UNITS

# The paper's figures beyond Table 2's model sizes (those are in the unit table,
# ``units.UNITS[...].table2``; "321M" = fp32 bytes of the parameters, matched by C3D with a
# 487-way classifier). Table 3 gives parameters and FLOPs at 16×3×224×224 with 400 classes
# (the C3D row is quoted from Carreira & Zisserman).
PAPER: dict[str, dict] = {
    "c3d": {"params_m": 79.0, "gflops": 296.7, "flops_input": (16, 224)},
    "mrst_t_net": {"params_m": 31.7, "gflops": 99.6, "flops_input": (16, 224), "classes": 400},
}


def paper_figures(name: str, model: torch.nn.Module) -> dict:
    """The paper's figures for a registered model: Table 2's size for the C3D backbone
    with a unit of the paper, Table 3's parameters and FLOPs where it has them."""
    config = getattr(model, "config", None)
    figures = {}
    if getattr(config, "arch", None) == "c3d":
        table2 = UNITS[config.unit].table2
        if table2 is not None:
            figures["size_mb"] = float(table2[2])
    return {**figures, **PAPER.get(name, {})}


def count_flops(model: torch.nn.Module, frames: int, size: int) -> int:
    """FLOPs of one forward pass on one clip (the model must be on the meta device)."""
    x = torch.empty(1, 3, frames, size, size, device="meta")
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def profile_model(
    name: str, *, frames: int | None = None, size: int | None = None, classes: int | None = None
) -> dict:
    """Parameters, FLOPs (fast and reference implementations) and fp32 size of a registered
    model, with the paper's figures and ratios ours / paper where the paper has them."""
    with torch.device("meta"):
        model = create_model(name, num_classes=classes).eval()
    d_frames, d_size = model.default_input
    frames, size = frames or d_frames, size or d_size
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        flops_fast = count_flops(set_impl(model, "fast"), frames, size)
        flops_ref = count_flops(set_impl(model, "reference"), frames, size)
    row = {
        "model": name,
        "input": [frames, size, size],
        "classes": model.num_classes,
        "params_m": params / 1e6,
        "size_mb": params * 4 / 1e6,
        "gflops": flops_ref / 1e9,
        "gflops_fast": flops_fast / 1e9,
    }
    paper = paper_figures(name, model)
    for key in ("params_m", "size_mb"):
        if key in paper:
            row[f"paper_{key}"] = paper[key]
            row[f"ratio_{key}"] = row[key] / paper[key]
    if "gflops" in paper:
        # FLOPs grow with the input: the paper's figure sits beside ours (with a ratio) only
        # when both are for the same clip; otherwise it is kept apart, with its own input
        f, s = paper["flops_input"]
        if (f, s) == (frames, size):
            row["paper_gflops"] = paper["gflops"]
            row["ratio_gflops"] = row["gflops"] / paper["gflops"]
        else:
            row["paper_gflops_other_input"] = {"input": [f, s, s], "gflops": paper["gflops"]}
    return row


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`profile_model` rows."""

    def fig(row: dict, key: str, fmt: str) -> str:
        ours = format(row[key], fmt)
        other = row.get(f"paper_{key}_other_input")
        if other is not None:  # never a ratio across inputs
            at = "×".join(map(str, other["input"]))
            return f"{ours} (paper at {at}: {format(other[key], fmt)})"
        if f"paper_{key}" not in row:
            return ours
        ratio = row.get(f"ratio_{key}")
        tail = f" ×{ratio:.2f}" if ratio is not None else ""
        return f"{ours} / {format(row[f'paper_{key}'], fmt)}{tail}"

    header = ["model", "input", "classes", "params M (paper, ratio)", "fp32 MB (paper, ratio)",
              "GFLOPs (paper, ratio)", "GFLOPs fast"]  # fmt: skip
    lines = [header]
    for r in rows:
        lines.append([
            r["model"],
            "×".join(map(str, r["input"])),
            str(r["classes"]),
            fig(r, "params_m", ".2f"),
            fig(r, "size_mb", ".1f"),
            fig(r, "gflops", ".1f"),
            format(r["gflops_fast"], ".1f"),
        ])  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
