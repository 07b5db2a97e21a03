"""An honest train/val split of your own videos: stratified by class, grouped by source, seeded.

Clips cut from one recording share its person, place and light. If some train and others
validate, validation measures how well the model remembers that recording, and best.pt is
chosen on it. So videos are grouped by a key taken from the file name and every group goes
whole to one side: the first group of `group_regex` (re.search on the file name), or its
whole match when it has no group; a video it does not match is a group of its own. The
default reads UCF-101's names: `v_ApplyEyeMakeup_g08_c01.avi` is in group
`v_ApplyEyeMakeup_g08` (separators "_" or " "). A key shared by several classes is one
source (one recording cut into clips of several actions): that group too stays on one side.

Stratified: each class sends about `val_fraction` of its videos to validation, and at least
one video to each side; a class with fewer than two videos, or all its videos in one group,
cannot be split and is an error that names it. Seeded: the groups are visited in an order
shuffled by `seed`, so the same videos, fraction, regex and seed give the same split and
another seed another split.

The split is kept as list files (`mrstnet.data.readers.list_file`: "relative/path label",
the label the last field, so names with spaces round-trip), `classes.txt` (one name a line)
and `split.json` (how it was made, and the videos per class), in UTF-8.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mrstnet.data.readers import VideoRecord

DEFAULT_GROUP_REGEX = r"^(.+?[_ ]g\d+)[_ ]c\d+"
FILES = ("train.txt", "val.txt", "classes.txt", "split.json")


def compile_group_regex(text: str) -> re.Pattern:
    try:
        return re.compile(text)
    except re.error as e:
        raise ValueError(f"group_regex {text!r} is not a regular expression ({e})") from None


def group_key(name: str, pattern: re.Pattern) -> str | None:
    """The group of a file name: the regex's first group, or its whole match; None when it
    does not match (the video is then a group of its own)."""
    m = pattern.search(name)
    if m is None:
        return None
    if pattern.groups and m.group(1) is not None:
        return m.group(1)
    return m.group(0)


@dataclass
class Split:
    """A split of the videos of `classes` into `train` and `val` (VideoRecords), made from
    `pool` (the folder whose class folders were split) with these settings."""

    train: list[VideoRecord]
    val: list[VideoRecord]
    classes: list[str]
    val_fraction: float
    group_regex: str
    seed: int
    groups: dict[str, int]  # class -> number of groups its videos are in

    def counts(self) -> dict[str, dict[str, int]]:
        """{class: {train, val, groups}}."""
        train = Counter(v.label for v in self.train)
        val = Counter(v.label for v in self.val)
        return {
            c: {"train": train[i], "val": val[i], "groups": self.groups.get(c, 0)}
            for i, c in enumerate(self.classes)
        }


def make_split(
    videos: list[VideoRecord],
    classes: list[str],
    *,
    val_fraction: float,
    group_regex: str = DEFAULT_GROUP_REGEX,
    seed: int = 0,
) -> Split:
    """Split `videos` (labels index `classes`): stratified, grouped, seeded (module
    docstring). `val_fraction` 0 keeps every video for training. ValueError naming every
    class that cannot be split, with its number of videos and groups."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), not {val_fraction!r}")
    pattern = compile_group_regex(group_regex)
    videos = sorted(videos, key=lambda v: str(v.path))
    members: dict[str, list[int]] = {}
    for i, v in enumerate(videos):
        key = group_key(v.path.name, pattern)
        # a video matching nothing is its own group ("\0" keeps it apart from any key)
        members.setdefault(f"\0{v.path}" if key is None else key, []).append(i)
    count = Counter(v.label for v in videos)
    groups_of = {c: 0 for c in range(len(classes))}
    for idx in members.values():
        for c in {videos[i].label for i in idx}:
            groups_of[c] += 1
    groups = {classes[c]: n for c, n in groups_of.items()}
    if val_fraction == 0:
        return Split(videos, [], list(classes), 0.0, group_regex, seed, groups)
    bad = [
        f"{classes[c]!r} has {_videos(count[c])}"
        + (f" in {groups_of[c]} group" if count[c] >= 2 else "")
        for c in range(len(classes))
        if count[c] < 2 or groups_of[c] < 2
    ]
    if bad:
        raise ValueError(
            "cannot split into train and val: class "
            + ", class ".join(bad)
            + "; each class needs at least 2 videos in at least 2 groups (one for each side; "
            f"groups by group_regex {group_regex!r}). Add videos, set group_regex to tell "
            "the sources apart, or give ROOT/train/ and ROOT/val/ yourself"
        )
    order = sorted(members)
    random.Random(seed).shuffle(order)
    target = {c: val_fraction * n for c, n in count.items()}
    in_val: set[str] = set()
    val = Counter()
    for key in order:  # greedy: a group goes to val when that brings val nearer its targets
        g = Counter(videos[i].label for i in members[key])
        before = sum(((val[c] - target[c]) / count[c]) ** 2 for c in g)
        after = sum(((val[c] + n - target[c]) / count[c]) ** 2 for c, n in g.items())
        if after < before:
            in_val.add(key)
            val.update(g)
    _both_sides(order, members, videos, in_val, count, classes)
    chosen = {i for key in in_val for i in members[key]}
    train = [v for i, v in enumerate(videos) if i not in chosen]
    held = [v for i, v in enumerate(videos) if i in chosen]
    return Split(train, held, list(classes), val_fraction, group_regex, seed, groups)


def _videos(n: int) -> str:
    return f"{n} video" + ("" if n == 1 else "s")


def _both_sides(
    order: list[str],
    members: dict[str, list[int]],
    videos: list[VideoRecord],
    in_val: set[str],
    count: Counter,
    classes: list[str],
) -> None:
    """In place: move whole groups until every class has a video on each side (the greedy
    pass leaves a small class with none in val when its share rounds to 0)."""
    labels = {key: Counter(videos[i].label for i in idx) for key, idx in members.items()}
    for _ in range(2 * len(count) + 1):  # each move settles one (class, side) for good
        val = Counter()
        for key in in_val:
            val.update(labels[key])
        short = [(c, "val") for c in sorted(count) if val[c] == 0]
        short += [(c, "train") for c in sorted(count) if val[c] == count[c]]
        if not short:
            return
        c, side = short[0]
        to_val = side == "val"
        for key in order:  # the seeded order: the first group that can move
            g = labels[key]
            if c not in g or (key in in_val) == to_val:
                continue
            # the side it leaves keeps at least one video of each of its classes
            left = val if not to_val else Counter({d: count[d] - val[d] for d in count})
            if all(left[d] - n >= 1 for d, n in g.items()):
                (in_val.add if to_val else in_val.discard)(key)
                break
        else:
            raise ValueError(
                f"cannot split into train and val: class {classes[c]!r} "
                f"({_videos(count[c])}) shares its groups with other classes so that no "
                f"group can move to {side} without emptying another class's side; set "
                "group_regex, or give ROOT/train/ and ROOT/val/ yourself"
            )
    raise RuntimeError("the split did not settle")


def relative(path: Path, root: Path) -> str:
    """`path` relative to `root`, with "/", checked to survive a list-file line."""
    rel = path.relative_to(root).as_posix()
    if any(ch in rel for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") or rel != rel.strip():
        raise ValueError(
            f"{str(path)!r}: a name with a line break, or with spaces at its start or end, "
            "cannot be written to a split file; rename it"
        )
    return rel


def write_split(folder: Path | str, root: Path | str, split: Split, *, pool: str = ".") -> Path:
    """Write `split` into `folder` (created): train.txt, val.txt (absent for val_fraction
    0), classes.txt, split.json. Paths are relative to `root`. Returns `folder`."""
    folder, root = Path(folder), Path(root)
    for c in split.classes:
        if c != c.strip() or "\n" in c or "\r" in c:
            raise ValueError(f"class folder {c!r}: rename it (spaces at its ends or a line break)")
    lines = {
        name: "".join(f"{relative(v.path, root)} {v.label}\n" for v in videos)
        for name, videos in (("train.txt", split.train), ("val.txt", split.val))
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (folder / name).unlink(missing_ok=True)
    (folder / "train.txt").write_text(lines["train.txt"], encoding="utf-8")
    if split.val:
        (folder / "val.txt").write_text(lines["val.txt"], encoding="utf-8")
    (folder / "classes.txt").write_text("".join(f"{c}\n" for c in split.classes), "utf-8")
    record = {
        "root": str(root.resolve()),
        "pool": pool,
        "val_fraction": split.val_fraction,
        "group_regex": split.group_regex,
        "seed": split.seed,
        "videos": {"train": len(split.train), "val": len(split.val)},
        "classes": split.counts(),
    }
    (folder / "split.json").write_text(
        json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return folder


def read_record(folder: Path | str) -> dict | None:
    """split.json of a split folder, or None when there is none."""
    path = Path(folder) / "split.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
