"""A validation set held out of a UCF-101-layout training list, by group.

UCF-101 has only train and test lists; validating on the test list would pick best.pt and
the stopping step on the very videos that are then tested. `hold_out_groups` moves whole
groups (`v_<Class>_gXX_cYY`: the clips of one group share a source) of one split's
training list into a validation list, and writes two annotation folders the ucf101 reader
takes::

    OUT/train/  classInd.txt, trainlist0S.txt (the training list without those groups),
                testlist0S.txt (the official test list, unchanged)
    OUT/val/    classInd.txt, testlist0S.txt (the held-out groups: the validation set)

Train with `annotations=OUT/train, val_annotations=OUT/val` (val_subset test); test on the
dataset's own lists. Train, validation and test then share no group.
"""

from __future__ import annotations

import re
from pathlib import Path

from .readers.common import SplitFileError, find_annotations, labelled, text_lines

_GROUP = re.compile(r"_g(\d+)_c\d+")


def group_of(path: str) -> int | None:
    """The group number in a UCF-style file name (v_Walk_g08_c01.avi -> 8), or None."""
    m = _GROUP.search(Path(path).stem)
    return int(m.group(1)) if m else None


def hold_out_groups(root: Path | str, out: Path | str, groups, *, split: int = 1) -> Path:
    """Write OUT/train and OUT/val (module docstring) holding `groups` of split `split`'s
    training list out for validation; returns OUT. A ValueError when a held-out group is
    not in the training list or would leave a class without training videos."""
    ann = find_annotations(Path(root), "ucfTrainTestlist", None)
    groups = set(groups)
    train_list = ann / f"trainlist0{split}.txt"
    keep, held = [], []
    for n, line in text_lines(train_list):
        pair = labelled(line)
        group = group_of(pair[0]) if pair else None
        if group is None:
            raise SplitFileError(
                train_list, n, "expected 'Class/v_Class_gXX_cYY.avi <label>'", line
            )
        (held if group in groups else keep).append((pair[0], pair[1]))
    found = {group_of(p) for p, _ in held}
    if found != groups:
        missing = ", ".join(str(g) for g in sorted(groups - found))
        raise ValueError(f"group(s) {missing} are not in {train_list}: hold out training groups")
    labels = {lab for _, lab in keep}
    if labels != {lab for _, lab in keep + held}:
        raise ValueError(
            f"holding out groups {sorted(groups)} leaves a class with no training video"
        )
    out = Path(out)
    classes = (ann / "classInd.txt").read_bytes()
    for sub in ("train", "val"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        (out / sub / "classInd.txt").write_bytes(classes)
    _write(out / "train" / f"trainlist0{split}.txt", [f"{p} {lab}" for p, lab in keep])
    test = ann / f"testlist0{split}.txt"
    (out / "train" / test.name).write_bytes(test.read_bytes())
    _write(out / "val" / f"testlist0{split}.txt", [p for p, _ in held])
    return out


def _write(path: Path, lines: list[str]) -> None:
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())


def hold_out_first_group(root: Path | str, out: Path | str, *, split: int = 1) -> tuple[Path, Path]:
    """`hold_out_groups` with the lowest-numbered group of the training list (the demo's and
    the ablation's validation set); the (train, val) annotation folders."""
    from .readers import read_ucf101

    videos, _, _ = read_ucf101(root, subset="train", split=split)
    groups = {group_of(v.path.name) for v in videos}
    if None in groups or len(groups) < 2:
        raise ValueError(
            f"{root}: holding a training group out for validation needs UCF-style names "
            "(v_Class_gXX_cYY) of two or more groups in the training list"
        )
    out = hold_out_groups(root, out, [min(groups)], split=split)
    return out / "train", out / "val"
