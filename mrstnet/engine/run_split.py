"""Where a run on your own folder (`--dataset folder`) gets its train/val split, and where it
is kept: RUN_DIR/splits, made at the start of training, reused on --resume and by
`mrstnet test` on that run's checkpoints.

    ROOT/train/ and ROOT/val/        used as given; nothing is split
    ROOT/train/ alone (+ test/)      train/ is split into train and val; test/ stays as given
    ROOT/<class>/ (flat)             ROOT is split into train and val

The split (mrstnet.data.folder_split) is made from the config's val_fraction, group_regex
and split_seed and written as list files with paths relative to ROOT, so it survives the
dataset moving. `--annotations DIR` trains on the split in DIR instead (another run's),
copied into RUN_DIR/splits.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from mrstnet.data.folder_split import FILES, make_split, read_record, write_split
from mrstnet.data.readers import dataset_root, labelled, text_lines
from mrstnet.data.readers.folder import is_given_layout, scan

from . import distributed
from .config import TrainConfig

SPLIT_DIR = "splits"  # in RUN_DIR
SETTINGS = {"val_fraction": "val_fraction", "group_regex": "group_regex", "seed": "split_seed"}


def training_split(
    cfg: TrainConfig,
    root,
    out,
    *,
    resume: bool,
    overwrite: bool,
    annotations=None,
    log: Callable = print,
) -> Path | None:
    """The split folder a folder run trains and validates with: RUN_DIR/splits, made now
    (or kept, when resuming a run that has one); None when ROOT gives train/ and val/.

    Every process computes the split (a directory listing; the same on each) so that an
    error stops them all; the first writes it. Raises FileExistsError for a RUN_DIR that
    holds a run (before touching its split), ValueError for a class that cannot be split or
    for --resume with other split settings than the run's."""
    root = dataset_root(root)
    given = is_given_layout(root)
    if given and (root / "val").is_dir() and annotations is None:
        return None
    if out is None:
        if annotations is not None:
            return Path(annotations)
        raise ValueError("a run on a folder needs a RUN_DIR (--out): its split is kept there")
    run_dir = Path(out)
    folder, last = run_dir / SPLIT_DIR, run_dir / "last.pt"
    if last.exists() and not (resume or overwrite):
        raise FileExistsError(
            f"{run_dir} already holds a run ({last.name}): --resume continues it, "
            "--overwrite starts afresh in it"
        )
    if annotations is not None:  # another run's split: kept in this run's folder too
        return _copy_split(Path(annotations), folder, log)
    if cfg.val_fraction == 0 and cfg.validates:
        raise ValueError(
            "val_fraction 0 holds no videos out for validation: turn validation off too "
            "(--val-every 0, or val_every=0 val_every_steps=0), or give a val_fraction above 0"
        )
    pool = root / "train" if given else root
    record = read_record(folder)
    if resume and last.exists() and record is not None:
        _check_settings(record, cfg, folder)
        _note_unlisted(folder, root, pool, log)
        log(f"--resume: the run's split in {folder} ({_sizes(record)})")
        return folder
    videos, classes = scan(pool)
    if not videos:
        raise FileNotFoundError(f"no videos in class folders under {pool}")
    split = make_split(
        videos,
        classes,
        val_fraction=cfg.val_fraction,
        group_regex=cfg.group_regex,
        seed=cfg.split_seed,
    )
    if distributed.rank() == 0:
        write_split(folder, root, split, pool=pool.relative_to(root).as_posix())
    distributed.barrier()
    log(
        f"split {pool}: {len(split.train)} train / {len(split.val)} val videos "
        f"(val_fraction {split.val_fraction:g} of each class, split_seed {split.seed}, "
        f"groups by {split.group_regex!r}: {sum(split.groups.values())} groups) -> {folder}"
    )
    return folder


def _copy_split(source: Path, folder: Path, log: Callable) -> Path:
    """The split files of `source` copied into `folder` (RUN_DIR/splits), which is returned:
    the run keeps the split it trained on wherever `source` goes."""
    if not (source / "train.txt").is_file():
        raise FileNotFoundError(
            f"--annotations for --dataset folder is a split folder holding train.txt "
            f"(RUN_DIR/splits of a run): none in {source}"
        )
    if folder.resolve() != source.resolve():
        if distributed.rank() == 0:
            folder.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                (folder / name).unlink(missing_ok=True)
                if (source / name).is_file():
                    shutil.copyfile(source / name, folder / name)
        distributed.barrier()
    log(f"the split of {source} -> {folder}")
    return folder


def _sizes(record: dict) -> str:
    return f"{record['videos']['train']} train / {record['videos']['val']} val videos"


def _check_settings(record: dict, cfg: TrainConfig, folder: Path) -> None:
    """A resumed run keeps its split: other split settings than it was made with are an
    error, not a silent new split."""
    for stored, key in SETTINGS.items():
        if record.get(stored) != getattr(cfg, key):
            raise ValueError(
                f"--resume keeps the run's split ({folder}, made with {key} "
                f"{record.get(stored)!r}): {key} cannot become {getattr(cfg, key)!r} "
                "(start a new run for another split)"
            )


def _note_unlisted(folder: Path, root: Path, pool: Path, log: Callable) -> None:
    """Say how many videos of the pool are in neither side (added since the split)."""
    listed = set()
    for name in ("train.txt", "val.txt"):
        if (folder / name).is_file():
            listed |= {pair[0] for _, line in text_lines(folder / name) if (pair := labelled(line))}
    videos, _ = scan(pool)
    new = [v for v in videos if v.path.relative_to(root).as_posix() not in listed]
    if new:
        log(
            f"{len(new)} videos in {pool} are in neither side of the run's split (added "
            f"since; first: {new[0].path}): this run does not use them"
        )


def test_split(checkpoint, dataset: str, annotations) -> Path | str | None:
    """The split `mrstnet test` reads: --annotations when given; for a folder run, the
    RUN_DIR/splits beside the checkpoint when there is one."""
    if annotations is not None or dataset != "folder":
        return annotations
    folder = Path(checkpoint).parent / SPLIT_DIR
    return folder if (folder / "train.txt").is_file() else None
