"""A missing optional extra: one line naming the extra and its pip command, exit status 1.

Each command runs for real in a fresh interpreter in which the extra's module cannot be
imported (`sys.modules[name] = None` makes `import name` raise ImportError, as when the
package is not installed).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mrstnet.extras import EXTRAS, MissingExtraError, require

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "mrstnet" / "weights" / "demo.pt"
WITHOUT = """
import sys

for name in {modules!r}:
    sys.modules[name] = None
from mrstnet.cli import main

sys.exit(main({argv!r}))
"""


def run_without(modules: list[str], argv: list[str]) -> subprocess.CompletedProcess:
    code = WITHOUT.format(modules=modules, argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def a_log(run_dir: Path) -> Path:
    """A run's log.jsonl as the trainer writes it: train and epoch records."""
    run_dir.mkdir()
    records = [
        {"kind": "train", "epoch": 1, "step": 1, "lr": 1e-3, "loss": 1.4, "acc": 0.2},
        {"kind": "epoch", "epoch": 1, "step": 2, "lr": 1e-3, "loss": 1.3, "acc": 0.3},
    ]
    (run_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir


@pytest.mark.parametrize("command", ["export", "plot", "visualize"])
def test_a_missing_extra_is_one_line_naming_it_and_exit_1(command, synthetic_root, tmp_path):
    video = str(sorted(synthetic_root.glob("*/*.avi"))[0])
    extra, missing, argv = {
        "export": ("onnx", ["onnx"], ["--checkpoint", str(DEMO), "--format", "onnx"]),
        "plot": ("plot", ["matplotlib"], [str(a_log(tmp_path / "run"))]),
        "visualize": ("plot", ["matplotlib"], ["--checkpoint", str(DEMO), video]),
    }[command]
    out = ["--out", str(tmp_path / "out.onnx" if command == "export" else tmp_path / "out")]
    done = run_without(missing, [command, *argv, *out])
    assert done.returncode == 1, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"mrstnet {command}: error: ")
    assert f"optional extra '{extra}' ({missing[0]} is not installed)" in err
    assert err.endswith(f"pip install 'mrstnet[{extra}]'")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.onnx").exists()


def test_the_same_command_runs_with_the_extra(tmp_path):
    pytest.importorskip("matplotlib")
    done = run_without([], ["plot", str(a_log(tmp_path / "run")), "--out", str(tmp_path / "c.png")])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c.png").stat().st_size > 0


def test_require_names_a_module_that_fails_inside(tmp_path, monkeypatch):
    """Installed but broken (one of its own imports fails): not called "not installed"."""
    (tmp_path / "brokenextra.py").write_text("import a_module_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(EXTRAS, "broken", ("brokenextra",))
    with pytest.raises(MissingExtraError, match="brokenextra fails to import") as e:
        require("broken", "brokenextra", "this test")
    assert isinstance(e.value, ImportError) and e.value.extra == "broken"
    assert str(e.value).endswith("pip install 'mrstnet[broken]'")


def test_every_extra_is_declared_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.optional-dependencies]")[1].split("\n[")[0]
    for extra, modules in EXTRAS.items():
        # `extra = [...]`, on one line or several
        start = section.index(f"\n{extra} = [")
        line = section[start : section.index("]", start)]
        for module in modules:  # a module's distribution name may spell _ as -
            assert module in line or module.replace("_", "-") in line, (extra, module)
