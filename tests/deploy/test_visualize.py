import sys

import pytest
import torch

from mrstnet.cli import main
from mrstnet.deploy.visualize import feature_maps, find_tube

from .conftest import FRAMES, SIZE, tiny_model, write_checkpoint

pytest.importorskip("matplotlib")


def a_video(root):
    return next(root.rglob("*.avi"))


@pytest.mark.parametrize("block", [None, "stages.1.1"])
def test_writes_png(block, synthetic_root, tiny_checkpoint, tmp_path, capsys):
    args = [
        "visualize",
        "--checkpoint",
        str(tiny_checkpoint),
        str(a_video(synthetic_root)),
        "--out",
        str(tmp_path / "viz"),
        "--frame",
        "3",
    ]
    if block:
        args += ["--block", block]
    assert main(args) == 0
    (png,) = (tmp_path / "viz").glob("*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert ("stages.1.1.tube" if block else "stem") in png.name and "_t3" in png.name
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("unit", ["mrst_p", "mrst_s", "mrst_t"])
def test_reinforced_maps_follow_the_equations(unit):
    model = tiny_model(f"{unit}_net")
    x = torch.randn(1, 3, FRAMES, SIZE, SIZE)
    name, maps, logits = feature_maps(model, x, "stem")
    tube = find_tube(model, "stem")[1]
    s, t = maps["S"][None], maps["T"][None]
    relu = torch.relu
    if unit == "mrst_p":
        s_r, t_r = tube.ss(s) + tube.ts(t), tube.st(s) + tube.tt(t)
    elif unit == "mrst_s":
        t_r = tube.st(s) + tube.tt(t)
        s_r = tube.ss(s) + tube.ts(relu(t_r))
    else:
        s_r = tube.ss(s) + tube.ts(t)
        t_r = tube.st(relu(s_r)) + tube.tt(t)
    torch.testing.assert_close(maps["S~"], s_r[0].detach())
    torch.testing.assert_close(maps["T~"], t_r[0].detach())
    assert model.config.impl == "fast" and tube.impl == "fast"  # restored after the run
    torch.testing.assert_close(logits, model(x), atol=1e-5, rtol=1e-5)


def test_unknown_block_lists_the_tubes(synthetic_root, tiny_checkpoint, tmp_path, capsys):
    assert (
        main(
            [
                "visualize",
                "--checkpoint",
                str(tiny_checkpoint),
                str(a_video(synthetic_root)),
                "--out",
                str(tmp_path),
                "--block",
                "nope",
            ]
        )
        == 2
    )
    assert "stages.0.1.tube" in capsys.readouterr().err


def test_matplotlib_missing(synthetic_root, tmp_path, monkeypatch, capsys):
    ckpt = write_checkpoint(tmp_path / "m.pt", tiny_model(head="avg"))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert (
        main(
            [
                "visualize",
                "--checkpoint",
                str(ckpt),
                str(a_video(synthetic_root)),
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "pip install 'mrstnet[plot]'" in capsys.readouterr().err
