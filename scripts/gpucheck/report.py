"""What the runner prints, and the reproduction estimates computed from the measured speed.

Estimate of one run, in hours (docs/reproduce.md shows the same formula):

    hours = runs x (epochs x train_clips / train_rate
                    + epochs x val_clips / infer_rate + test_clips / infer_rate) / 3600

train_clips = the training videos (one clip each per epoch), val_clips = validation videos
x 3 clips (the presets' val_clips), test_clips = test videos x 20 clips (the paper's); the
rates are the best measured on this GPU at the largest batch size (clips/s; compiled or
eager), so these are GPU-bound lower bounds: decoding 16 frames at short side 256 may be
slower than the GPU (see the `train` check's data_wait).
"""

from __future__ import annotations

# (key, what, model, epochs, training videos, validation clips an epoch, test clips, runs)
WORKLOADS = (
    ("kinetics400_scratch", "Table 3: MRST-T-Net, Kinetics-400 from scratch (60 epochs)",
     "mrst_t_net", 60, 240_000, 20_000 * 3, 20_000 * 20, 1),
    ("ucf101_finetune_3_splits", "Table 4: UCF-101 fine-tuning, 3 splits (30 epochs each)",
     "mrst_t_net", 30, 9_582, 3_738 * 3, 3_738 * 20, 3),
    ("hmdb51_finetune_3_splits", "Table 4: HMDB51 fine-tuning, 3 splits (30 epochs each)",
     "mrst_t_net", 30, 3_570, 1_530 * 3, 1_530 * 20, 3),
    ("table2_kinetics_per_mrst_unit", "Table 2: one C3D-backbone MRST/STD unit on Kinetics-400 "
     "(60 epochs; x5 units; training only)", "c3d_mrst_t", 60, 240_000, 0, 0, 1),
    ("table2_kinetics_c3d", "Table 2: the C3D baseline on Kinetics-400 (60 epochs; training only)",
     "c3d", 60, 240_000, 0, 0, 1),
)  # fmt: skip


def best_rate(throughput: list[dict], what: str, model: str) -> dict | None:
    """The fastest entry at the largest batch size measured for (what, model)."""
    rows = [
        e
        for e in throughput
        if e.get("what") == what and e.get("model") == model and e.get("clips_per_s")
    ]
    if not rows:
        return None
    largest = max(e["batch"] for e in rows)
    return max((e for e in rows if e["batch"] == largest), key=lambda e: e["clips_per_s"])


def estimates(throughput: list[dict]) -> dict:
    out = {}
    for key, what, model, epochs, train, val, test, runs in WORKLOADS:
        tr = best_rate(throughput, "train", model)
        inf = best_rate(throughput, "infer", model) if (val or test) else None
        if tr is None or ((val or test) and inf is None):
            continue
        seconds = epochs * train / tr["clips_per_s"]
        if inf is not None:
            seconds += (epochs * val + test) / inf["clips_per_s"]
        out[key] = {
            "what": what,
            "hours": round(runs * seconds / 3600, 1),
            "train_clips_per_s": round(tr["clips_per_s"], 1),
            "train_from": f"{tr['variant']} b{tr['batch']}",
            "infer_clips_per_s": round(inf["clips_per_s"], 1) if inf else None,
            "inputs": {
                "epochs": epochs,
                "train_videos": train,
                "val_clips_per_epoch": val,
                "test_clips": test,
                "runs": runs,
            },
        }
    return out


def check_line(name: str, rec: dict) -> str:
    status = rec.get("status", "?")
    text = rec.get("summary") or rec.get("reason") or rec.get("error") or ""
    if status in ("FAIL", "TIMEOUT") and rec.get("error") and rec.get("error") not in text:
        text = (text + "; " if text else "") + rec["error"]
    secs = rec.get("seconds")
    t = f"{secs:6.1f} s" if isinstance(secs, (int, float)) else " " * 8
    return f"{name:18s} {status:7s} {t}  {text}"


def throughput_lines(throughput: list[dict]) -> list[str]:
    lines = []
    for e in throughput:
        head = f"  {e['what']:5s} {e['model']:11s} {e['variant']:15s} b{e['batch']:<3d}"
        head += f" {e.get('dtype', ''):4s}"
        if e.get("oom"):
            lines.append(f"{head}  out of memory")
            continue
        mem = e.get("peak_mem_gib")
        lines.append(
            f"{head} {e['clips_per_s']:9.1f} clips/s  {e['step_ms']:8.1f} ms"
            + (f"  {mem:6.1f} GiB" if mem is not None else "")
        )
    return lines


def estimate_lines(est: dict) -> list[str]:
    return [f"  {v['hours']:8.1f} h  {v['what']}" for v in est.values()]
