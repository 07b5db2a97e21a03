import warnings

import pytest
import torch

from mrstnet.cli import main
from mrstnet.deploy.export import OPSET, export_onnx, export_torchscript, onnx_scores

from .conftest import FRAMES, SIZE, tiny_model

MODELS = {
    "mrst_t_net_lstm": ("mrst_t_net", dict(head="lstm")),
    "mrst_t_net_avg": ("mrst_t_net", dict(head="avg")),
    "c3d_mrst_t": ("c3d_mrst_t", dict(width_mult=0.125, fc_dim=32)),
}
# (model, example input L×S) -> the (L, H, W) inputs the graph is run at: the traced one, and
# others that reach the fixed-shape pools (LSTM head 2×2, C3D 1×4×4) at other map sizes
CASES = {
    ("mrst_t_net_lstm", FRAMES, 64): [(FRAMES, 64, 64), (12, 80, 80), (FRAMES, 96, 72)],
    ("mrst_t_net_avg", FRAMES, 64): [(FRAMES, 64, 64), (12, 80, 80), (FRAMES, 96, 72)],
    ("mrst_t_net_lstm", FRAMES, SIZE): [(FRAMES, SIZE, SIZE), (12, SIZE, SIZE)],
    ("c3d_mrst_t", 16, 64): [(16, 64, 64), (8, 80, 80), (16, 96, 112)],  # the ablation size
    ("c3d_mrst_t", 16, 112): [(16, 112, 112), (12, 64, 64)],  # C3D's own
    ("c3d_mrst_t", 16, 224): [(16, 224, 224), (16, 112, 112)],  # Table 3's
}


@pytest.mark.parametrize(("key", "frames", "size"), list(CASES))
def test_onnx_matches_pytorch(key, frames, size, tmp_path):
    pytest.importorskip("onnxruntime")
    name, kwargs = MODELS[key]
    model = tiny_model(name, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = export_onnx(model, tmp_path / "m.onnx", frames=frames, size=size)
    # nothing leaks into the command's output (the LSTM's batch-size warning included)
    assert not caught, [str(w.message) for w in caught]
    assert info["opset"] == OPSET == 17
    assert info["input"] == [1, 3, frames, size, size]
    assert info["dynamic_axes"] == ["batch", "frames", "height", "width"]
    torch.manual_seed(1)
    for shape in CASES[key, frames, size]:
        x = torch.randn(3, 3, *shape)  # traced with batch 1; 3 checks the dynamic batch axis
        with torch.no_grad():
            expected = model(x)  # the fast impl: the exported reference graph must agree
        got = onnx_scores(info["path"], x)
        assert got.shape == expected.shape
        assert expected.abs().max() > 0.1  # logits large enough for 1e-4 to be a real test
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_other_modules_keep_a_fixed_shape(tmp_path):
    pytest.importorskip("onnxruntime")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 4 * 4, 2))
    info = export_onnx(model, tmp_path / "m.onnx", frames=2, size=4)
    assert info["dynamic_axes"] == ["batch"]
    x = torch.randn(5, 3, 2, 4, 4)
    torch.testing.assert_close(onnx_scores(info["path"], x), model(x).detach(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("head", ["lstm", "avg"])
def test_torchscript_round_trip(head, tmp_path):
    model = tiny_model(head=head)
    info = export_torchscript(model, tmp_path / "m.ts", frames=FRAMES, size=SIZE)
    loaded = torch.jit.load(info["path"])
    for shape in [(FRAMES, SIZE, SIZE), (12, 96, 72)]:  # the trace keeps sizes symbolic too
        x = torch.randn(2, 3, *shape)
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
