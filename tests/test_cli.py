import subprocess
import sys

from mrstnet.cli import build_parser, main


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
