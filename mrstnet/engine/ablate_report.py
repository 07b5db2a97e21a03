"""The ablation's tables: per unit, mean and 95 % t interval over seeds; paired differences
against STD and against C3D; the paper's Table 2 beside them; the validation curves.

Reads the rows of OUT/results.jsonl (engine/ablate.py) and writes OUT/summary.json,
OUT/summary.md and OUT/curves_<family>.png (when matplotlib is installed).
"""

from __future__ import annotations

import json
from pathlib import Path

from mrstnet.models import UNITS

from .stats import mean_ci, paired

REFERENCES = ("std", "c3d")  # the paired comparisons: each unit against these
FAMILY_NAMES = {
    "c3d": "Table 2 backbone (C3D with the unit in every conv)",
    "mrst_net": "small MRST-Net (mrst_t_net_small) with the unit swapped",
}


def summarize(rows: list[dict], *, families, units) -> dict:
    """Per family and unit: top-1, shuffled top-1 and test loss as mean ± 95 % CI over
    seeds, the steps and stop reasons, the last fifth's flatness, and the paired
    differences in top-1 against each unit of REFERENCES (on the seeds both have)."""
    out: dict = {"families": {}, "cpus": sorted({r["cpu"] for r in rows if r.get("cpu")})}
    for family in families:
        by_unit = {
            u: {r["seed"]: r for r in rows if r["family"] == family and r["unit"] == u}
            for u in units
        }
        table = []
        for unit in units:
            runs = by_unit[unit]
            if not runs:
                continue
            seeds = sorted(runs)
            rs = [runs[s] for s in seeds]
            row = {
                "unit": unit,
                "label": UNITS[unit].label,
                "seeds": seeds,
                "top1": mean_ci([100 * r["top1"] for r in rs]),
                "shuffled_top1": mean_ci([100 * r["shuffled_top1"] for r in rs]),
                "test_loss": mean_ci([r["test_loss"] for r in rs]),
                "steps": mean_ci([r["steps"] for r in rs]),
                "stopped": {
                    k: sum(r["stopped"] == k for r in rs) for k in ("patience", "steps", "budget")
                },
                "flat": sum(bool(r["last_fifth"]["flat"]) for r in rs),
                "best_late": sum(late_best(r) for r in rs),
                "last_fifth_change": mean_ci(
                    [r["last_fifth"]["val_loss_change"] or 0.0 for r in rs]
                ),
                "params": rs[0]["params"],
                "seconds": sum(r["seconds"] for r in rs),
                "paper": UNITS[unit].table2,
                "vs": {},
            }
            for ref in REFERENCES:
                other = by_unit.get(ref, {})
                common = [s for s in seeds if s in other]
                if ref == unit or len(common) < 2:
                    continue
                d = paired(
                    [100 * runs[s]["top1"] for s in common],
                    [100 * other[s]["top1"] for s in common],
                )
                row["vs"][ref] = {**d, "seeds": common}
            table.append(row)
        out["families"][family] = table
    return out


def late_best(row: dict) -> bool:
    """Did the run's lowest validation loss come in its last tenth of steps? Then it may
    still have been learning when it stopped: a flat last fifth does not rule that out,
    since a cosine schedule flattens every curve by taking the lr to zero."""
    return row["best_step"] >= 0.9 * row["steps"]


def _ci(m: dict, digits: int = 1) -> str:
    if m["half"] is None:
        return f"{m['mean']:.{digits}f}"
    return f"{m['mean']:.{digits}f} ± {m['half']:.{digits}f}"


def _diff(d: dict | None) -> str:
    if not d:
        return "–"
    p = "–" if d["p_t"] is None else f"{d['p_t']:.2g}"
    s = d["sign"]
    return f"{d['mean']:+.1f} ± {d['half']:.1f} (p={p}; {s['wins']}–{s['losses']})"


def ordering(table: list[dict], key=lambda r: r["top1"]["mean"]) -> str:
    ranked = sorted(table, key=key, reverse=True)
    return " > ".join(r["label"] for r in ranked)


def markdown(summary: dict) -> str:
    lines = []
    for family, table in summary["families"].items():
        if not table:
            continue
        lines += [
            f"### {FAMILY_NAMES.get(family, family)}",
            "",
            "| unit | top-1 % | shuffled top-1 % | test loss | Δ top-1 vs STD (pp) "
            "| Δ top-1 vs C3D (pp) | steps | stopped p/s/b | flat | best late | params "
            "| paper UCF101 | paper HMDB51 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in table:
            p = r["paper"] or ("–", "–", "–")
            st, n = r["stopped"], len(r["seeds"])
            lines.append(
                f"| {r['label']} | {_ci(r['top1'])} | {_ci(r['shuffled_top1'])} "
                f"| {_ci(r['test_loss'], 3)} | {_diff(r['vs'].get('std'))} "
                f"| {_diff(r['vs'].get('c3d'))} | {r['steps']['mean']:.0f} "
                f"| {st['patience']}/{st['steps']}/{st['budget']} | {r['flat']}/{n} "
                f"| {r['best_late']}/{n} | {r['params'] / 1e6:.2f}M | {p[0]} | {p[1]} |"
            )
        seeds = sorted({s for r in table for s in r["seeds"]})
        paper = [r for r in table if r["paper"]]
        lines += [
            "",
            f"Seeds {seeds}. Mean ± the 95 % t interval over seeds; Δ: paired by seed, mean ± "
            "95 % t interval, paired t-test p, sign test wins–losses. Stopped: patience / "
            "step cap / time budget. Flat: runs whose validation loss changed by less than "
            "0.05 over the last fifth of training (least-squares fit). Best late: runs whose "
            "lowest validation loss came in their last tenth of steps (maybe still learning; "
            "the cosine schedule flattens every curve as the lr reaches zero).",
            "",
            f"Our order (top-1): {ordering(table)}.  ",
            f"Paper's order (UCF101): {ordering(paper, key=lambda r: r['paper'][0])}.",
            "",
        ]
    if summary.get("cpus"):
        lines.append(f"Runs made on: {'; '.join(summary['cpus'])}.")
    return "\n".join(lines)


def plot_curves(rows: list[dict], family: str, path: Path) -> Path | None:
    """Validation loss and top-1 against step, one thin line a run, one colour a unit."""
    from mrstnet.extras import MissingExtraError, pyplot

    try:
        plt = pyplot("the ablation's curves")
    except MissingExtraError:
        return None
    runs = [r for r in rows if r["family"] == family]
    if not runs:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    units = [u for u in UNITS if any(r["unit"] == u for r in runs)]
    for i, unit in enumerate(units):
        c = colours[i % len(colours)]
        for j, r in enumerate(x for x in runs if x["unit"] == unit):
            label = UNITS[unit].label if j == 0 else None
            for ax, key in zip(axes, ("train_loss", "val_loss", "val_top1"), strict=True):
                pts = r["curves"][key]
                ax.plot(
                    [s for s, _ in pts],
                    [v for _, v in pts],
                    color=c,
                    lw=0.8,
                    alpha=0.7,
                    label=label,
                )
    for ax, title in zip(
        axes,
        ("training loss (smoothed labels)", "validation loss", "validation top-1"),
        strict=True,
    ):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(FAMILY_NAMES.get(family, family))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(out: Path, rows: list[dict], *, families, units) -> dict:
    summary = summarize(rows, families=families, units=units)
    summary["markdown"] = markdown(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(summary["markdown"] + "\n")
    for family in families:
        plot_curves(rows, family, out / f"curves_{family}.png")
    return summary
