import os
import subprocess
import sys
from pathlib import Path

import pytest

from mrstnet.cli import build_parser, main
from tests.engine.test_commands import TINY as COMMAND_TINY

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_every_command_module():
    import pkgutil

    from mrstnet import commands

    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    text = build_parser().format_help()
    for name in names:
        assert name.replace("_", "-") in text or name in text


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: mrstnet" in capsys.readouterr().out


def test_module_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "mrstnet", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("mrstnet ")


MODULES_AT_EXIT = """
import atexit, runpy, sys

atexit.register(lambda: print(*sorted(sys.modules), file=sys.stderr))
sys.argv = ["mrstnet", {flag!r}]
runpy.run_module("mrstnet", run_name="__main__")
"""


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_start_without_torch(flag):
    """`python -m mrstnet --help` builds every command's parser with light imports only:
    no torch, numpy, PyAV, YAML or tqdm (sys.modules at the interpreter's exit)."""
    out = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT.format(flag=flag)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.startswith("usage: mrstnet" if flag == "--help" else "mrstnet ")
    imported = set(out.stderr.split())
    assert {"mrstnet.cli", "mrstnet.commands.ablate", "mrstnet.commands.train"} <= imported
    heavy = {"torch", "numpy", "av", "yaml", "tqdm", "matplotlib"}
    assert not heavy & {name.split(".")[0] for name in imported}


def _every_command() -> list[str]:
    import pkgutil

    from mrstnet import commands

    return [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]


# one user error per command: (argv, what the line says after "mrstnet CMD: error: ")
ONE_USER_ERROR = {
    "ablate": (["ablate", "--root", "/nope", "--units", "c3d", "--seeds", "1"], "/nope"),
    "bench": (["bench", "--device", "gpu"], "--device 'gpu': expected cpu, cuda or cuda:N"),
    "data": (["data", "check", "--dataset", "ucf101", "--root", "/nope"], "/nope"),
    "demo": (["demo", "--root", "/nope"], "/nope"),
    "export": (["export", "--checkpoint", "/nope.pt", "--format", "torchscript"], "no check"),
    "plot": (["plot", "/nope"], "no log at /nope/log.jsonl"),
    "predict": (["predict", "--checkpoint", "/nope.pt", "v.avi"], "no checkpoint at /nope.pt"),
    "pretrain": (["pretrain", "nope"], "no pre-training recipe 'nope'; known: humans"),
    "profile": (["profile", "nonet"], "unknown model 'nonet'"),
    "serve": (["serve", "/nope.pt"], "no checkpoint at /nope.pt"),
    "synth": (["synth", "--classes", "1"], "classes must be between 2 and 16"),
    "test": (["test", "--checkpoint", "/nope.pt", "--dataset", "ucf101"], "/nope"),
    "train": (["train", "--dataset", "ucf101", "--root", "/nope", "--preset", "demo"], "/nope"),
    "timeline": (["timeline", "--checkpoint", "/nope.pt", "v.avi"], "no checkpoint at"),
    "watch": (["watch", "--checkpoint", "/nope.pt", "v.avi"], "no checkpoint at"),
    "visualize": (["visualize", "--checkpoint", "/nope.pt", "v.avi"], "no checkpoint at"),
}


def test_every_command_has_a_user_error_case():
    assert sorted(ONE_USER_ERROR) == sorted(_every_command())


@pytest.mark.parametrize("command", sorted(ONE_USER_ERROR))
def test_every_command_reports_a_user_error_in_one_line_with_exit_2(
    command, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # what a command would write goes here
    argv, says = ONE_USER_ERROR[command]
    needs_out = ("train", "ablate", "demo", "export", "visualize", "synth")
    out = ["--out", str(tmp_path / "out")] if command != "synth" else [str(tmp_path / "out")]
    argv = argv + (out if command in needs_out else [])
    if command == "test":
        argv += ["--root", "/nope"]
    assert main([*argv, "--no-progress"] if command in ("train", "test") else argv) == 2
    err = capsys.readouterr().err.strip()
    name = "data check" if command == "data" else command
    assert err.startswith(f"mrstnet {name}: error: ") and says in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


# the tiny run of the command tests, without validation
TINY = [*COMMAND_TINY, "val_every=0"]


@pytest.fixture
def broken_lists(tmp_path):
    """A UCF-101 root whose split files stop at split 1."""
    ann = tmp_path / "broken" / "ucfTrainTestlist"
    ann.mkdir(parents=True)
    (ann.parent / "x.pt").write_text("not a checkpoint\n")
    (ann / "classInd.txt").write_text("1 A\n2 B\n")
    (ann / "trainlist01.txt").write_text("A/a.avi 1\n")
    return ann.parent


def _train(root, out, *extra, sets=()):
    args = ["train", "--dataset", "ucf101", "--root", str(root), "--preset", "demo"]
    return [*args, "--out", str(out), "--no-progress", *extra, "--set", *TINY, *sets]


@pytest.mark.parametrize(
    "case, message",
    [
        ("test_checkpoint", "mrstnet test: error: no checkpoint at /nope.pt"),
        ("predict_checkpoint", "mrstnet predict: error: no checkpoint at /nope.pt"),
        ("not_a_checkpoint", "mrstnet predict: error: "),
        ("unknown_key", "mrstnet train: error: unknown config keys ['lrr']"),
        ("no_equals", "mrstnet train: error: --set expects key=value, got 'lr'"),
        ("bad_int", "mrstnet train: error: config key 'epochs': expected an integer, got 'abc'"),
        ("bad_bool", "mrstnet train: error: config key 'amp': expected true or false"),
        ("preset", "mrstnet train: error: unknown preset 'nope'"),
        ("split_file", "mrstnet train: error: "),  # then the data layer's SplitFileError
        ("root", "mrstnet train: error: "),
        ("init", "mrstnet train: error: no checkpoint at /missing.pt"),
        ("model", "mrstnet train: error: unknown model 'nonet'"),
        ("model_args", "mrstnet train: error: "),
        ("device", "mrstnet train: error: --device 'gpu': expected cpu, cuda or cuda:N"),
        ("split_all", "mrstnet test: error: --split all is for ucf101 and hmdb51"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    case, message, synthetic_root, broken_lists, tmp_path, capsys
):
    root, out = synthetic_root, tmp_path / "run"
    argv = {
        "test_checkpoint": ["test", "--checkpoint", "/nope.pt", "--dataset", "ucf101"]
        + ["--root", str(root)],
        "predict_checkpoint": ["predict", "--checkpoint", "/nope.pt", "v.avi"],
        "not_a_checkpoint": ["predict", "--checkpoint", str(broken_lists / "x.pt"), "v.avi"],
        "unknown_key": _train(root, out, sets=["lrr=1"]),
        "no_equals": _train(root, out, sets=["lr"]),
        "bad_int": _train(root, out, sets=["epochs=abc"]),
        "bad_bool": _train(root, out, sets=["amp=maybe"]),
        "preset": [*_train(root, out)[:6], "nope", *_train(root, out)[7:]],
        "split_file": _train(broken_lists, out, "--split", "2"),
        "root": _train(tmp_path / "missing", out),
        "init": _train(root, out, "--init", "/missing.pt"),
        "model": _train(root, out, "--model", "nonet"),
        "model_args": _train(root, out, sets=["model_args.bogus=1"]),
        "device": _train(root, out, "--device", "gpu"),
        "split_all": ["test", "--checkpoint", "x", "--dataset", "list", "--root", str(root)]
        + ["--split", "all"],
    }[case]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    if case == "split_file":
        assert "trainlist02.txt" in err
    if case == "model_args":
        assert "bogus" in err
    if case == "not_a_checkpoint":
        assert "x.pt is not a readable checkpoint" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--split", "4"], "argument --split: invalid choice: '4'"),
        (["--split", "x"], "argument --split: invalid choice: 'x'"),
        (["--resume", "--overwrite"], "not allowed with argument"),
    ],
)
def test_bad_arguments_are_usage_errors(extra, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(_train(tmp_path, tmp_path / "run", *extra))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "mrstnet train: error: " in err and message in err


def test_mrstnet_debug_keeps_the_traceback(monkeypatch):
    monkeypatch.setenv("MRSTNET_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="no checkpoint at /nope.pt"):
        main(["predict", "--checkpoint", "/nope.pt", "v.avi"])


def test_a_bug_is_not_reported_as_a_user_error(monkeypatch):
    import mrstnet.engine.inference as inference

    def broken(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.setattr(inference, "load_predictor", broken)
    with pytest.raises(TypeError, match="a bug"):
        main(["predict", "--checkpoint", "x.pt", "v.avi"])


ONE_RANK_FAILS = """
import sys

import torch.distributed as dist

import mrstnet.engine.runner as runner
from mrstnet.cli import main
from mrstnet.engine import distributed


def train_run(cfg, **kwargs):
    distributed.setup("cpu")
    if dist.get_rank() == 1:
        raise ValueError("only rank 1 fails")
    dist.barrier()  # rank 0 waits for rank 1, which has gone
    return {}


runner.train_run = train_run
sys.exit(main(sys.argv[1:]))
"""


def test_an_error_on_one_rank_fails_the_torchrun_job(tmp_path, synthetic_root):
    script = tmp_path / "one_rank_fails.py"
    script.write_text(ONE_RANK_FAILS)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    out = subprocess.run(
        [*torchrun, "--nproc_per_node", "2", str(script), *_train(synthetic_root, tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert out.returncode != 0
    assert "mrstnet train: error (rank 1): only rank 1 fails" in out.stderr


def test_an_error_from_a_dataloader_worker_is_reported_by_its_own_message():
    from torch.utils.data import DataLoader

    from mrstnet.cli import error_message, user_errors
    from mrstnet.data import TooManyBadVideosError

    class Bad:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise TooManyBadVideosError("10 unreadable videos in a row (last: x.avi)")

    with pytest.raises(user_errors()) as e:
        list(DataLoader(Bad(), num_workers=1))
    assert "Original Traceback" in str(e.value)  # what DataLoader re-raises
    assert error_message(e.value) == "10 unreadable videos in a row (last: x.avi)"
