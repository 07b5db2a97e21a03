import pytest
import torch

from mrstnet.cli import main
from mrstnet.deploy import weights
from mrstnet.deploy.weights import DEMO, MAX_BYTES, make_demo_weights, weights_info
from mrstnet.engine.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def trained_run(synthetic_root, tmp_path_factory):
    """Two training steps of a tiny MRST-T-Net on the synthetic set, through `mrstnet train`,
    started from a 2D stem (`--init imagenet:`)."""
    out = tmp_path_factory.mktemp("run")
    stem2d = {
        "conv1.weight": torch.randn(8, 3, 7, 7),
        "bn1.weight": torch.ones(8),
        "bn1.bias": torch.zeros(8),
        "bn1.running_mean": torch.zeros(8),
        "bn1.running_var": torch.ones(8),
    }
    stem_file = out / "resnet_stem.pth"
    torch.save(stem2d, stem_file)
    code = main(
        [
            "train",
            "--dataset",
            "ucf101",
            "--root",
            str(synthetic_root),
            "--preset",
            "demo",
            "--out",
            str(out),
            "--no-progress",
            "--init",
            f"imagenet:{stem_file}",
            "--set",
            "max_steps=2",
            "epochs=1",
            "batch_size=4",
            "frames=8",
            "short_side=32",
            "crop_size=32",
            "num_workers=0",
            "threads=1",
            "model_args.width_mult=0.125",
        ]
    )
    assert code == 0
    return out


def test_script_function_makes_weights_that_predict(
    trained_run, synthetic_root, tmp_path, monkeypatch, capsys
):
    best = load_checkpoint(trained_run / "best.pt")
    assert "optimizer" in best
    path = make_demo_weights(trained_run / "best.pt", tmp_path / "demo.pt")
    slim = load_checkpoint(path)
    assert set(slim) == {"model", "state_dict", "classes", "data", "source"}
    assert slim["classes"] == best["classes"] and slim["data"]["crop_size"] == 32
    for k, v in best["state_dict"].items():
        assert torch.equal(slim["state_dict"][k], v)
    assert path.stat().st_size < MAX_BYTES
    # `mrstnet predict VIDEO` without --checkpoint reads the shipped file
    monkeypatch.setattr(weights, "DEMO", path)
    video = next(synthetic_root.rglob("*.avi"))
    assert main(["predict", str(video), "--clips", "2", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"using the shipped demo weights {path}" in out and "%" in out


def test_script_runs(trained_run, tmp_path):
    import runpy
    import sys

    out = tmp_path / "w.pt"
    argv = ["make_demo_weights.py", str(trained_run / "best.pt"), "--out", str(out)]
    old, sys.argv = sys.argv, argv
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path("scripts/make_demo_weights.py", run_name="__main__")
    finally:
        sys.argv = old
    assert e.value.code == 0 and weights_info(out)["unit"] == "mrst_t"


def test_no_shipped_weights_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(weights, "DEMO", tmp_path / "absent.pt")
    assert main(["predict", "some.avi"]) == 2
    assert "make_demo_weights.py" in capsys.readouterr().err


def test_shipped_demo_weights_recognise_fresh_videos(tmp_path, capsys):
    """The package ships demo.pt; on synthetic videos it never saw (another seed) it
    names the right class (held-out top-1 of the run that made it: 0.97)."""
    import json

    from mrstnet.data import write_synthetic

    info = weights_info(DEMO)
    assert info["bytes"] < MAX_BYTES
    ckpt = load_checkpoint(DEMO)
    assert set(ckpt) <= {"model", "state_dict", "classes", "data", "source"}
    root = write_synthetic(
        tmp_path / "fresh",
        classes=len(ckpt["classes"]),
        videos_per_class=3,
        frames=24,
        size=80,
        seed=12345,
    )
    videos = sorted(root.glob("*/*.avi"))
    out = tmp_path / "p.json"
    assert (
        main(["predict", *map(str, videos), "--clips", "3", "--device", "cpu", "--json", str(out)])
        == 0
    )
    assert "using the shipped demo weights" in capsys.readouterr().out
    preds = json.loads(out.read_text())["predictions"]
    right = sum(p["top"][0]["class"] == v.parent.name for p, v in zip(preds, videos, strict=True))
    assert right >= len(videos) - 2, f"{right}/{len(videos)} right"
