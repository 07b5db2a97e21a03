"""`--init pretrained:NAME`: weights pre-trained on a large generated set, to fine-tune from.

The paper (§4.1) fine-tunes on UCF-101 and HMDB51 from a network pre-trained on a larger
set. This is that recipe in miniature: `mrstnet pretrain NAME` writes a large synthetic
set (RECIPES[NAME]: thousands of videos of the human-actions generator), trains the
`humans_pretrain` preset on it until its held-out validation loss stalls or the time budget
is spent, and keeps best.pt, reduced to its weights (mrstnet.deploy.weights), where
`pretrained:NAME` finds it. NAME resolves to the first of these files that exists:

    $MRSTNET_HOME/pretrained/NAME.pt     made on this machine by `mrstnet pretrain NAME`
                                         (MRSTNET_HOME defaults to ~/.cache/mrstnet)
    mrstnet/weights/NAME_pretrained.pt   shipped with the package

`humans` is shipped (mrstnet/weights/README.md says how it was made and what it scores), so
that fine-tuning works right after install; `mrstnet pretrain humans` remakes it here in
about 20 minutes on 2 CPU cores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "pretrained:"


@dataclass(frozen=True)
class Recipe:
    """What `mrstnet pretrain NAME` writes and trains. The actions are the generator's first
    ten: its other eight stay unseen, so that fine-tuning on actions the network never saw
    can be measured too. The seed is far from the small sets' (0 by default), so that the
    pre-training videos are not the target's."""

    actions: tuple[str, ...]
    # 9 groups of 40 (mrstnet.data.layouts): 3 tested, 1 validated, 5 (2000 videos) trained on
    videos_per_class: int = 360
    frames: int = 24  # as the demo's set: a 16-frame clip sees most of one motion
    size: int = 80
    difficulty: str = "easy"
    seed: int = 1000
    preset: str = "humans_pretrain"


def _humans() -> Recipe:
    from mrstnet.data.humans import CLASSES

    return Recipe(actions=tuple(CLASSES[:10]))


RECIPES = {"humans": _humans}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"no pre-training recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]()


def home() -> Path:
    """Where `mrstnet pretrain` keeps what it makes: $MRSTNET_HOME, or ~/.cache/mrstnet."""
    return Path(os.environ.get("MRSTNET_HOME") or Path.home() / ".cache" / "mrstnet")


def made_path(name: str) -> Path:
    return home() / "pretrained" / f"{name}.pt"


def shipped_path(name: str) -> Path:
    from mrstnet.deploy.weights import WEIGHTS_DIR

    return WEIGHTS_DIR / f"{name}_pretrained.pt"


def resolve(name: str) -> Path:
    """The file `pretrained:NAME` stands for (module docstring), or a FileNotFoundError
    saying where it looked and the command that makes it."""
    if name not in RECIPES:
        known = ", ".join(PREFIX + n for n in RECIPES)
        raise ValueError(f"{PREFIX}{name}: no such pre-trained weights; known: {known}")
    for path in (made_path(name), shipped_path(name)):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{PREFIX}{name}: no pre-trained weights on this machine ({made_path(name)}) and none "
        f"shipped ({shipped_path(name)}); `mrstnet pretrain {name}` makes them "
        "(at most 30 minutes on 2 CPU cores), or give --init a checkpoint of your own"
    )


def run_pretrain(
    name: str = "humans",
    work: str | Path | None = None,
    *,
    to: str | Path | None = None,
    sets: list[str] | None = None,
    stopping: dict | None = None,
    videos_per_class: int | None = None,
    actions: list[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    """Write RECIPES[name]'s set to WORK/data (kept when it is there: writing it is the
    slow part after training), train its preset with one training group held out for
    validation in WORK/run, and write best.pt's weights to `to` (default: where
    `pretrained:NAME` looks first). `videos_per_class` and `actions` shrink the set (tests);
    `seed` is the training seed (the set's is the recipe's). Returns a summary."""
    from mrstnet.data.humans import write_humans
    from mrstnet.deploy.weights import make_demo_weights

    from .config import build_config
    from .runner import train_synthetic_run

    r = recipe(name)
    work = Path(work) if work else home() / "pretrain" / name
    to = Path(to) if to else made_path(name)
    n = videos_per_class or r.videos_per_class
    names = list(actions or r.actions)
    t0 = time.perf_counter()
    root = work / "data"
    stamp = f"{','.join(names)} x{n} f{r.frames} s{r.size} {r.difficulty} seed {r.seed}"
    marker = root / "SET.txt"
    if not (marker.is_file() and marker.read_text().strip() == stamp):
        log(f"writing {len(names)} actions x {n} videos to {root} ...")
        write_humans(
            root,
            classes=names,
            videos_per_class=n,
            frames=r.frames,
            size=r.size,
            difficulty=r.difficulty,
            seed=r.seed,
        )
        marker.write_text(stamp + "\n")
    else:
        log(f"the set is there: {root} ({stamp})")
    t_data = time.perf_counter()
    cfg = build_config(r.preset, sets, seed=seed, **(stopping or {}))
    run_dir = work / "run"
    summary = train_synthetic_run(
        cfg,
        root,
        run_dir,
        work / "splits",
        overwrite=True,
        device=device,
        progress=progress,
        log=log,
    )
    source = f"mrstnet pretrain {name}: {stamp}, preset {r.preset}, step {summary.get('best_step')}"
    path = make_demo_weights(run_dir / "best.pt", to, source=source)
    init = f"{PREFIX}{name}" if to == made_path(name) else str(path)
    log(f"wrote {path} ({source}): fine-tune from it with --init {init}")
    return {
        "weights": str(path),
        "root": str(root),
        "run_dir": str(run_dir),
        "steps": summary["steps"],
        "stopped": summary["stopped"],
        "best_step": summary.get("best_step"),
        "val_top1": summary.get("best_top1"),
        "seconds_data": round(t_data - t0, 1),
        "seconds_train": round(time.perf_counter() - t_data, 1),
    }
