import pytest

from mrstnet.engine.checkpoint import save_checkpoint
from mrstnet.engine.config import build_config
from mrstnet.engine.runner import resolve_config


@pytest.mark.parametrize(
    "pair, value",
    [
        ("lr=1e-4", 1e-4),  # YAML 1.1 reads this as a string
        ("epochs=1e3", 1000),
        ("epochs=7", 7),
        ("amp=off", False),
        ("amp=1", True),
        ("dropout=null", None),
        ("dropout=0.5", 0.5),
        ("warmup_epochs=1", 1.0),
        ("model=mrst_t_net", "mrst_t_net"),
    ],
)
def test_set_values_become_the_declared_types(pair, value):
    key = pair.partition("=")[0]
    got = getattr(build_config(None, [pair]), key)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "pair, message",
    [
        ("epochs=abc", "'epochs': expected an integer, got 'abc'"),
        ("epochs=2.5", "'epochs': expected an integer"),
        ("batch_size=true", "'batch_size': expected an integer"),
        ("amp=maybe", "'amp': expected true or false, got 'maybe'"),
        ("lr=fast", "'lr': expected a number"),
        ("lr=0", "'lr' must be positive"),
        ("model=3", "'model': expected a string"),
        ("model_args=3", "'model_args': expected a mapping"),
        ("epochs=0", "'epochs' must be at least 1"),
        ("num_workers=-1", "'num_workers' must be 0 or more"),
        ("dropout=1.5", "'dropout' must be in [0, 1)"),
        ("optimizer=rmsprop", "'optimizer' must be adam, adamw or sgd"),
        ("val_subset=dev", "'val_subset' must be train, val or test"),
        ("crop_size=200", "crop_size 200 is larger than short_side 128"),
        ("lrr=1", "unknown config keys ['lrr']"),
        ("lr", "--set expects key=value"),
    ],
)
def test_bad_values_name_their_key(pair, message):
    with pytest.raises(ValueError) as e:
        build_config(None, [pair])
    assert message in str(e.value)


def _stored_run(tmp_path, *sets):
    cfg = build_config("ablation", list(sets))
    save_checkpoint(tmp_path / "last.pt", {"preset": cfg.to_dict()})
    return cfg


def test_resume_merges_set_over_the_stored_config(tmp_path):
    stored = _stored_run(tmp_path, "epochs=3")
    cfg = resolve_config("demo", ["epochs=5", "lr=3e-4"], tmp_path, True)
    assert (cfg.epochs, cfg.lr) == (5, 3e-4)
    assert cfg.model == stored.model and cfg.model_args == stored.model_args  # not demo's
    # the same model_args again is no change
    same = resolve_config(None, ["model_args.width_mult=0.125"], tmp_path, True)
    want = {"width_mult": 0.125, "fc_dim": 256, "fc_norm": True}  # the ablation preset's
    assert same.model_args == stored.model_args == want


@pytest.mark.parametrize(
    "sets, explicit",
    [(["model_args.fc_dim=128"], {}), ([], {"model": "c3d_std"}), (["model=c3d"], {})],
)
def test_resume_refuses_another_architecture(tmp_path, sets, explicit):
    _stored_run(tmp_path)
    with pytest.raises(ValueError, match="--resume continues .* with its own architecture"):
        resolve_config(None, sets, tmp_path, True, **explicit)


def test_without_resume_the_preset_is_the_base(tmp_path):
    _stored_run(tmp_path)
    cfg = resolve_config("demo", ["model_args.head=avg"], tmp_path, False)
    assert cfg.model == "mrst_t_net_small" and cfg.model_args == {"head": "avg"}
