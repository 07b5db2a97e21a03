"""Training on your own folder end to end, on real tiny videos named as people name them
(spaces, accents, CJK, dots, brackets): the split written to RUN_DIR/splits and reused by
--resume and `mrstnet test`, the given train/ val/ test/ layout, errors that name the class,
--balance stored and kept, UCF-101 split files with such names through data check and
training."""

import json
import shutil

import pytest

from mrstnet.cli import main
from mrstnet.data.folder_split import DEFAULT_GROUP_REGEX, compile_group_regex, group_key
from mrstnet.data.readers import labelled, text_lines
from mrstnet.engine.balance import _shown_width
from mrstnet.engine.checkpoint import load_checkpoint
from mrstnet.engine.config import build_config
from mrstnet.engine.run_split import training_split
from tests.data.own_folder import CLASSES, clip_name, write_folder

TINY = [
    "model_args={width_mult: 0.125, depths: [1, 1, 1, 1, 1], head: avg}",
    "frames=4",
    "short_side=32",
    "crop_size=32",
    "epochs=1",
    "batch_size=4",
    "num_workers=0",
    "threads=1",
    "lr=1e-3",
    "val_every=1",
    "val_clips=1",
    "log_every=1",
]


def _train(root, out, *extra, sets=()):
    return main(
        [
            "train",
            "--dataset",
            "folder",
            "--root",
            str(root),
            "--model",
            "mrst_t_net_small",
            "--preset",
            "demo",
            "--out",
            str(out),
            "--no-progress",
            *extra,
            "--set",
            *TINY,
            *sets,
        ]
    )


def _test(ckpt, root, report, *extra):
    code = main(
        [
            "test",
            "--checkpoint",
            str(ckpt),
            "--dataset",
            "folder",
            "--root",
            str(root),
            "--clips",
            "1",
            "--workers",
            "0",
            "--json",
            str(report),
            "--no-progress",
            *extra,
        ]
    )
    assert code == 0
    return json.loads(report.read_text(encoding="utf-8"))


def _listed(path):
    return [labelled(line)[0] for _, line in text_lines(path)]


@pytest.fixture(scope="module")
def own_root(tmp_path_factory):
    """4 classes, 6 videos each in 3 groups: the split holds out one group (2) a class."""
    return write_folder(tmp_path_factory.mktemp("own") / "My videos (2024)")


def test_folder_run_splits_validates_resumes_and_tests_on_its_split(own_root, tmp_path, capsys):
    root = tmp_path / "videos"
    shutil.copytree(own_root, root)
    out = tmp_path / "run"
    assert _train(root, out, "--balance", "sampler") == 0
    said = capsys.readouterr().out
    splits = out / "splits"
    train, val = _listed(splits / "train.txt"), _listed(splits / "val.txt")
    assert len(train) == 16 and len(val) == 8
    pattern = compile_group_regex(DEFAULT_GROUP_REGEX)
    groups = [{group_key(p.split("/")[1], pattern) for p in side} for side in (train, val)]
    assert not groups[0] & groups[1]  # no source on both sides
    assert "videos per class (train / val):" in said
    rows = [line for line in said.splitlines() if line.endswith("     4 / 2")]
    assert [r.strip().split("  ")[0] for r in rows] == CLASSES, said
    assert len({_shown_width(r) for r in rows}) == 1  # aligned: 走る takes 2 columns a letter
    assert "16 training videos, 4 classes, 8 validation videos" in said
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["classes"] == CLASSES
    assert ckpt["preset"]["balance"] == "sampler" and ckpt["preset"]["val_fraction"] == 0.2
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    epoch = [x for x in lines if x["kind"] == "epoch"][-1]
    assert "val_top1" in epoch and lines[-1]["kind"] == "stop"

    # test reads the run's own split: the 8 held-out videos, by default
    m = _test(out / "best.pt", root, tmp_path / "m.json")
    assert m["num_videos"] == 8 and m["subset"] == "val"
    assert "café [é]" in (tmp_path / "m.json").read_text(encoding="utf-8")  # not \\u00e9
    assert set(m["per_class"]) == set(CLASSES)
    assert "走る" in (out / "test_per_class.csv").read_text(encoding="utf-8")
    assert (out / "test_confusion.png").stat().st_size > 0

    # --resume keeps the split, even with a video added since
    before = {f.name: f.read_bytes() for f in splits.iterdir()}
    shutil.copy(root / "Walk" / clip_name("Walk", 1, 1), root / "Walk" / clip_name("Walk", 9, 9))
    assert _train(root, out, "--resume", sets=["epochs=2"]) == 0
    said = capsys.readouterr().out
    assert {f.name: f.read_bytes() for f in splits.iterdir()} == before
    assert "1 videos in" in said and "this run does not use them" in said
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["preset"]["balance"] == "sampler"

    # ... and refuses to change it
    assert _train(root, out, "--resume", "--val-fraction", "0.3", sets=["epochs=3"]) == 2
    assert "--resume keeps the run's split" in capsys.readouterr().err
    # a RUN_DIR with a run is refused before its split is touched
    assert _train(root, out, "--val-fraction", "0.5") == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {f.name: f.read_bytes() for f in splits.iterdir()} == before


def test_given_layout_is_used_as_given_and_test_reads_test(own_root, tmp_path, capsys):
    root = tmp_path / "given"
    for subset, per_class in (("train", 3), ("val", 1), ("test", 2)):
        write_folder(root / subset, per_class=per_class, seed=len(subset))
    out = tmp_path / "run"
    assert _train(root, out, sets=["max_steps=1"]) == 0
    assert "12 training videos, 4 classes, 4 validation videos" in capsys.readouterr().out
    assert not (out / "splits").exists()
    m = _test(out / "best.pt", root, tmp_path / "m.json")
    assert m["subset"] == "test" and m["num_videos"] == 8
    m = _test(out / "best.pt", root, tmp_path / "v.json", "--subset", "val")
    assert m["num_videos"] == 4


def test_train_folder_alone_is_split_and_test_folder_kept(tmp_path):
    root = tmp_path / "given"
    write_folder(root / "train", per_class=6)
    write_folder(root / "test", per_class=1)
    cfg = build_config(None, ["split_seed=3"])
    folder = training_split(cfg, root, tmp_path / "run", resume=False, overwrite=False, log=print)
    val = _listed(folder / "val.txt")
    assert len(val) == 8 and all(p.startswith("train/") for p in val)
    record = json.loads((folder / "split.json").read_text(encoding="utf-8"))
    assert record["pool"] == "train" and record["seed"] == 3
    from mrstnet.data.readers import read_folder

    assert read_folder.test_subset(root) == "test"
    test, classes, _ = read_folder(root, subset="test", annotations=folder)
    assert len(test) == 4 and classes == CLASSES


def test_a_class_too_small_to_split_is_named(tmp_path, capsys):
    root = write_folder(tmp_path / "mine", classes=["Walk", "Run fast"], per_class=[4, 1])
    assert _train(root, tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert "class 'Run fast' has 1 video;" in err and "'Walk'" not in err
    assert not (tmp_path / "run" / "splits").exists()


def test_balance_loss_trains_is_stored_and_survives_resume(tmp_path, capsys):
    root = write_folder(tmp_path / "mine", classes=CLASSES[:2], per_class=[9, 3])
    out = tmp_path / "run"
    sets = ["max_steps=1", "val_every=0", "val_every_steps=0", "val_fraction=0"]
    assert _train(root, out, "--balance", "loss", sets=sets) == 0
    said = capsys.readouterr().out
    assert "3.0x the training videos of the smallest (balance: loss)" in said
    assert (
        not (out / "splits" / "val.txt").exists()
        and len(_listed(out / "splits" / "train.txt")) == 12
    )
    assert load_checkpoint(out / "last.pt")["preset"]["balance"] == "loss"
    assert (
        _train(
            root,
            out,
            "--resume",
            sets=["max_steps=2", "val_every=0", "val_every_steps=0", "val_fraction=0"],
        )
        == 0
    )
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 2 and ckpt["preset"]["balance"] == "loss"
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if x["kind"] == "train"] == [1, 2]


def test_ucf_split_files_with_such_names_check_and_train(own_root, tmp_path, capsys):
    """UCF-101's formats, names with spaces: `data check` reads them, training runs."""
    root = tmp_path / "ucf"
    shutil.copytree(own_root, root)
    ann = root / "ucfTrainTestlist"
    ann.mkdir()
    (ann / "classInd.txt").write_text(
        "".join(f"{i + 1} {c}\r\n" for i, c in enumerate(CLASSES)), encoding="utf-8"
    )
    train, test = [], []
    for label, c in enumerate(CLASSES):
        for j in range(6):
            rel = f"{c}/{clip_name(c, j % 3 + 1, j // 3 + 1)}"
            (test if j % 3 == 0 else train).append(rel if j % 3 == 0 else f"{rel} {label + 1}")
    (ann / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n", encoding="utf-8")
    (ann / "testlist01.txt").write_text("\r\n".join(test) + "\r\n", encoding="utf-8")
    report = tmp_path / "check.json"
    code = main(
        ["data", "check", "--dataset", "ucf101", "--root", str(root), "--no-progress"]
        + ["--json", str(report), "--strict"]
    )
    assert code == 0, capsys.readouterr()
    checked = json.loads(report.read_text(encoding="utf-8"))
    assert checked["classes"] == CLASSES and checked["checked"] == 24
    assert checked["unreadable"] == [] and checked["missing"] == []
    code = main(
        ["train", "--dataset", "ucf101", "--root", str(root), "--model", "mrst_t_net_small"]
        + ["--preset", "demo", "--out", str(tmp_path / "run"), "--no-progress"]
        + ["--set", *TINY, "max_steps=1"]
    )
    assert code == 0
    said = capsys.readouterr().out
    assert "16 training videos, 4 classes, 8 validation videos" in said


def test_another_runs_split_is_copied_into_the_run(own_root, tmp_path):
    first = training_split(
        build_config(None, ["split_seed=5"]),
        own_root,
        tmp_path / "first",
        resume=False,
        overwrite=False,
        log=print,
    )
    again = training_split(
        build_config(None, []),
        own_root,
        tmp_path / "second",
        resume=False,
        overwrite=False,
        annotations=first,
        log=print,
    )
    assert again == tmp_path / "second" / "splits"
    for name in ("train.txt", "val.txt", "classes.txt", "split.json"):
        assert (again / name).read_bytes() == (first / name).read_bytes()
    with pytest.raises(FileNotFoundError, match="split folder holding train.txt"):
        training_split(
            build_config(None, []),
            own_root,
            tmp_path / "third",
            resume=False,
            overwrite=False,
            annotations=tmp_path,
            log=print,
        )
