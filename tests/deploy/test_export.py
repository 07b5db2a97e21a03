import pytest
import torch

from mrstnet.cli import main
from mrstnet.deploy.export import OPSET, export_onnx, export_torchscript, onnx_scores

from .conftest import FRAMES, SIZE, tiny_model

MODELS = {
    "mrst_t_net_lstm": ("mrst_t_net", dict(head="lstm")),
    "mrst_t_net_avg": ("mrst_t_net", dict(head="avg")),
    # C3D's pools need 112×112 to end on its 4×4 adaptive pool with whole kernels
    "c3d_mrst_t": ("c3d_mrst_t", dict(width_mult=0.125, fc_dim=32, size=112)),
}


@pytest.mark.parametrize("key", list(MODELS))
def test_onnx_matches_pytorch(key, tmp_path):
    pytest.importorskip("onnxruntime")
    name, kwargs = MODELS[key]
    model = tiny_model(name, **kwargs)
    size = model.default_input[1] if name.startswith("c3d") else SIZE
    info = export_onnx(model, tmp_path / "m.onnx", frames=FRAMES, size=size)
    assert info["opset"] == OPSET == 17
    # traced with batch 1; batch 3 checks the dynamic batch axis
    lengths = [FRAMES, 12] if "frames" in info["dynamic_axes"] else [FRAMES]
    if name.startswith("mrst"):
        assert info["dynamic_axes"] == ["batch", "frames"]
    torch.manual_seed(1)
    for frames in lengths:
        x = torch.randn(3, 3, frames, size, size)
        with torch.no_grad():
            expected = model(x)  # the fast impl: the exported reference graph must agree
        got = onnx_scores(info["path"], x)
        assert got.shape == expected.shape
        assert expected.abs().max() > 0.1  # logits large enough for 1e-4 to be a real test
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("head", ["lstm", "avg"])
def test_torchscript_round_trip(head, tmp_path):
    model = tiny_model(head=head)
    info = export_torchscript(model, tmp_path / "m.ts", frames=FRAMES, size=SIZE)
    loaded = torch.jit.load(info["path"])
    x = torch.randn(2, 3, FRAMES, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), atol=1e-5, rtol=1e-5)
    assert model.config.impl == "fast"  # the export worked on a copy


def test_export_command(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "m.ts"
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(tiny_checkpoint),
                "--format",
                "torchscript",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.is_file() and "torchscript" in capsys.readouterr().out


def test_onnx_missing_says_how_to_install(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    code = main(
        [
            "export",
            "--checkpoint",
            str(tiny_checkpoint),
            "--format",
            "onnx",
            "--out",
            str(tmp_path / "m.onnx"),
        ]
    )
    assert code == 1 and "pip install 'mrstnet[onnx]'" in capsys.readouterr().err
