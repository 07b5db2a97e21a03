"""Training recipes: one dataclass, filled from a preset YAML and `--set key=value` overrides.

The resolved config is stored in every checkpoint (`preset` key) so a run can be
read back, resumed or repeated from its checkpoint alone.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from mrstnet.data.augment_spec import FIELDS as AUGMENT_KEYS
from mrstnet.data.augment_spec import Augment
from mrstnet.data.clip_spec import FIELDS as CLIP_FIELDS
from mrstnet.data.clip_spec import TEST_TIME, ClipSpec
from mrstnet.data.folder_split import DEFAULT_GROUP_REGEX, compile_group_regex

# the clip spec's fields a training recipe sets; the test-time views are chosen when testing
CLIP_KEYS = tuple(k for k in CLIP_FIELDS if k not in TEST_TIME)


@dataclass
class TrainConfig:
    # model
    model: str | None = None  # registry name; the command's --model wins over this
    dropout: float | None = None  # before the classifier; None keeps the model's default
    model_args: dict = field(default_factory=dict)  # other create_model overrides
    # how clips are cut (mrstnet.data.ClipSpec), stored in every checkpoint's `data` key for
    # test and predict; in a preset its fields are top-level keys (frames, frame_step,
    # short_side, crop_size, flip), as `--set frames=8`
    clip: ClipSpec = ClipSpec()
    # optimisation
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-4  # peak learning rate
    weight_decay: float = 5e-5
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"  # cosine | step | constant, per step after warm-up
    warmup_epochs: float = 0.0  # linear warm-up from 0, in (fractional) epochs
    step_epochs: int = 10  # step schedule: multiply by gamma every this many epochs
    gamma: float = 0.1
    min_lr_ratio: float = 0.0  # cosine floor as a fraction of lr
    label_smoothing: float = 0.0
    clip_grad: float = 0.0  # max gradient norm, 0 = off
    epochs: int = 10
    max_steps: int = 0  # stop (and end the lr schedule) after this many steps, 0 = no cap
    batch_size: int = 16  # global: split evenly over the processes under torchrun
    # runtime
    num_workers: int = 4  # data-loading processes per training process
    threads: int = 0  # torch intra-op threads on CPU, 0 = torch's default
    seed: int = 0
    amp: bool = True  # bf16 where it pays: CUDA, CPUs with AMX (hardware.bf16_pays); else fp32
    # under torchrun, BatchNorm statistics over the global batch (nn.SyncBatchNorm, CUDA only):
    # without it each process normalises by its own share of the batch (README "Several
    # processes or machines")
    sync_bn: bool = False
    # fast layout (README "Performance"): channels_last_3d weights and inputs, glibc malloc
    # that keeps freed activations on CPU, mrstnet.optimize for evaluation; exact, off = False
    fast: bool = True
    # torch.compile the training model (inductor), meant for CUDA: on a 2-core CPU it compiles
    # for a minute or more, then runs no faster than the eager oneDNN path (README Performance)
    compile: bool = False
    log_every: int = 20  # steps between JSON log lines
    ckpt_every: int = 0  # also checkpoint every N steps (0 = only at epoch ends)
    # validation after every val_every epochs (0 = never: best.pt follows last.pt), or, when
    # val_every_steps > 0, after every val_every_steps optimizer steps instead (short runs)
    val_every: int = 1
    val_every_steps: int = 0
    # what "better" means for best.pt, early stopping and the plateau schedule: val_top1
    # (higher) or val_loss (lower: the clips' mean cross-entropy), by more than min_delta
    monitor: str = "val_top1"
    min_delta: float = 0.0
    # when training ends besides epochs / max_steps (engine.train.should_stop): after
    # `patience` validation rounds in a row without improvement (0 = never), or once the
    # training loop has run time_budget seconds (validation and checkpoints included; a
    # resumed run counts its earlier time; 0 = no budget; "15m", "1.5h" are accepted)
    patience: int = 0
    # validation rounds before this optimizer step still keep best.pt but neither count
    # towards patience nor cut the plateau lr, so that a unit that leaves chance late is not
    # stopped (or slowed) at chance (Keras's EarlyStopping start_from_epoch, in steps)
    patience_from: int = 0
    time_budget: float = 0.0
    # schedule plateau: the lr is multiplied by gamma after every plateau_patience rounds
    # in a row without improvement (after the warm-up; the cut count is in the checkpoint)
    plateau_patience: int = 2
    val_clips: int = 3  # clips per video when validating during training
    # the subset validated on where the format leaves it open (Kinetics always uses val, its
    # test set has no labels; UCF-101/HMDB51 have only train and test)
    val_subset: str = "test"
    # your own videos (--dataset folder) with no val/ folder: the share of each class's videos
    # held out for validation (0: none, train on all; then val_every=0), the regex whose
    # first group names a video's source (the clips of one source stay on one side), and
    # the split's seed (its own, so that runs of several seeds validate on the same videos);
    # the split is written to RUN_DIR/splits (mrstnet.data.folder_split)
    val_fraction: float = 0.2
    group_regex: str = DEFAULT_GROUP_REGEX
    split_seed: int = 0
    # class imbalance (mrstnet.engine.balance): none, sampler (class-balanced draws) or loss
    # (class weights in the cross-entropy)
    balance: str = "none"
    # training-time augmentations beyond the paper's random crop and start
    # (mrstnet.data.augment: rrc_scale, rrc_ratio, msc_scales, frame_step_choices,
    # color_jitter, erase_p, erase_scale, mixup_alpha, cutmix_alpha, mix_p); top-level keys
    # in a preset, as the clip's; all off by default (docs/training.md "Augmentations")
    augment: Augment = Augment()

    @property
    def validates(self) -> bool:
        """Whether training validates (by epochs or by steps)."""
        return bool(self.val_every or self.val_every_steps)

    def to_dict(self) -> dict:
        """The flat mapping a preset holds (the clip's and the augmentations' fields as
        top-level keys): `config_from_dict` reads it back. Checkpoints store it as `preset`."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "clip":
                out.update({k: getattr(self.clip, k) for k in CLIP_KEYS})
            elif f.name == "augment":
                out.update(self.augment.to_dict())
            else:
                out[f.name] = copy.deepcopy(getattr(self, f.name))
        return out


def preset_dir() -> Path:
    return Path(str(resources.files("mrstnet") / "presets"))


def list_presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def load_preset(name: str) -> dict:
    """A preset by name (shipped in the package) or by path to a YAML file."""
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = preset_dir() / f"{name}.yaml"
        if not path.exists():
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(list_presets())}")
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a preset is a mapping of config keys")
    return values


def parse_overrides(pairs: list[str]) -> dict:
    """`["lr=3e-4", "model_args.width_mult=0.5"]` -> nested dict; values parsed as YAML."""
    out: dict = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        *parents, leaf = key.strip().split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def merge_overrides(values: dict, extra: dict) -> dict:
    """`--set` values over a preset's (or a checkpoint's): `model_args` keys are merged
    one by one, so `--set model_args.head=avg` keeps the other model_args."""
    values = dict(values)
    for key, value in extra.items():
        if key == "model_args" and isinstance(value, dict):
            values["model_args"] = {**(values.get("model_args") or {}), **value}
        else:
            values[key] = value
    return values


def build_config(
    preset: str | None = None, overrides: list[str] | dict | None = None, **explicit
) -> TrainConfig:
    """Defaults < preset < `--set` overrides < explicit keyword arguments (not None)."""
    values: dict = load_preset(preset) if preset else {}
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides or [])
    values = merge_overrides(values, extra)
    values.update({k: v for k, v in explicit.items() if v is not None})
    return config_from_dict(values)


MONITORS = ("val_top1", "val_loss")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str | float | int) -> float:
    """Seconds from `90`, `"90s"`, `"15m"` or `"1.5h"`; a ValueError that says the form."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    t = str(text).strip().lower()
    scale = _UNITS.get(t[-1:])
    try:
        value = float(t[:-1] if scale else t)
    except ValueError:
        raise ValueError(
            f"a duration is a number of seconds or a number with s, m or h (15m), not {text!r}"
        ) from None
    return value * (scale or 1)


def parse_val_every(text: str) -> dict:
    """`--val-every`: "2" or "2epochs" -> every 2 epochs, "50steps" -> every 50 steps; the
    config keys it sets (val_every, val_every_steps)."""
    t = str(text).strip().lower()
    for unit in ("steps", "step"):
        if t.endswith(unit):
            return {"val_every_steps": _whole(t[: -len(unit)], text), "val_every": 0}
    for unit in ("epochs", "epoch"):
        if t.endswith(unit):
            t = t[: -len(unit)]
            break
    return {"val_every": _whole(t, text), "val_every_steps": 0}


def _whole(t: str, text: str) -> int:
    if not t.strip().isdigit():
        raise ValueError(f"--val-every takes N, Nepochs or Nsteps (N >= 0), not {text!r}")
    return int(t)


# checks beyond the type, by key: (test, what the value must be)
_AT_LEAST_1 = (lambda v: v >= 1, "at least 1")
_NOT_NEGATIVE = (lambda v: v >= 0, "0 or more")
_CHECKS = {
    **dict.fromkeys(("step_epochs", "epochs", "batch_size", "log_every", "val_clips"), _AT_LEAST_1),
    **dict.fromkeys(
        ("weight_decay", "momentum", "warmup_epochs", "clip_grad", "max_steps", "num_workers"),
        _NOT_NEGATIVE,
    ),
    **dict.fromkeys(("threads", "seed", "ckpt_every", "val_every"), _NOT_NEGATIVE),
    **dict.fromkeys(
        ("val_every_steps", "patience", "patience_from", "time_budget", "min_delta"),
        _NOT_NEGATIVE,
    ),
    "plateau_patience": _AT_LEAST_1,
    "monitor": (lambda v: v in MONITORS, "val_top1 or val_loss"),
    "lr": (lambda v: v > 0, "positive"),
    "gamma": (lambda v: v > 0, "positive"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "min_lr_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "optimizer": (lambda v: v in ("adam", "adamw", "sgd"), "adam, adamw or sgd"),
    "schedule": (
        lambda v: v in ("cosine", "step", "constant", "plateau"),
        "cosine, step, constant or plateau",
    ),
    "val_subset": (lambda v: v in ("train", "val", "test"), "train, val or test"),
    "val_fraction": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "split_seed": _NOT_NEGATIVE,
    "group_regex": (lambda v: _compiles(v), "a regular expression"),
    "balance": (lambda v: v in ("none", "sampler", "loss"), "none, sampler or loss"),
}


def _compiles(text: str) -> bool:
    try:
        compile_group_regex(text)
    except ValueError:
        return False
    return True


_NAMES = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "dict": "a mapping {key: value, ...}",
}
_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def _convert(key: str, value, declared: str):
    """`value` as the field's declared type (the annotation's text), or a ValueError that
    names the key. YAML 1.1 reads "1e-4" as a string, so numbers in strings are accepted."""
    kinds = [k.strip() for k in declared.split("|")]
    if value is None:
        if "None" in kinds:
            return None
        raise ValueError(f"config key {key!r}: expected {kinds[0]}, got nothing")
    kind = kinds[0]
    bad = ValueError(f"config key {key!r}: expected {_NAMES.get(kind, kind)}, got {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _BOOLS:
            return _BOOLS[value.strip().lower()]
        raise bad
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = float(value) if kind == "float" else _int_text(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, (int, float)) or value != value:  # NaN
            raise bad
        if kind == "float":
            return float(value)
        if float(value).is_integer():
            return int(value)
        raise bad
    if kind == "str":
        if isinstance(value, str):
            return value
        raise bad
    if kind == "dict":
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return dict(value)
        raise bad
    if kind.startswith("tuple["):
        return _convert_list(key, value, kind)
    return value


def _convert_list(key: str, value, kind: str) -> tuple:
    """A YAML list as the declared `tuple[float, float]` (that many) or `tuple[int, ...]`
    (any number; a lone number is a list of one)."""
    inner = [t.strip() for t in kind[len("tuple[") : -1].split(",")]
    any_length = inner[-1] == "..."
    what = _NAMES[inner[0]].removeprefix("an ").removeprefix("a ")
    named = f"a list of {what}s" if any_length else f"a list of {len(inner)} {what}s"
    bad = ValueError(f"config key {key!r}: expected {named}, got {value!r}")
    if any_length and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or (not any_length and len(value) != len(inner)):
        raise bad
    try:
        return tuple(
            _convert(key, v, inner[0] if any_length else t)
            for v, t in zip(value, inner * len(value) if any_length else inner, strict=False)
        )
    except ValueError:
        raise bad from None


def _int_text(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)  # "1e3", then checked to be whole


def config_from_dict(values: dict) -> TrainConfig:
    """A checked TrainConfig: unknown keys, wrong types and out-of-range values are
    ValueErrors that name the key."""
    unknown = sorted(set(values) - set(_KEYS))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {', '.join(_KEYS)}")
    if isinstance(values.get("time_budget"), str):  # "15m"
        values = {**values, "time_budget": parse_duration(values["time_budget"])}
    converted = {k: _convert(k, v, _KEYS[k]) for k, v in values.items()}
    clip = ClipSpec(**{k: converted.pop(k) for k in CLIP_KEYS if k in converted})
    augment = Augment(**{k: converted.pop(k) for k in AUGMENT_KEYS if k in converted})
    cfg = TrainConfig(clip=clip, augment=augment, **converted)
    for key, (ok, what) in _CHECKS.items():
        value = getattr(cfg, key)
        if value is not None and not ok(value):
            raise ValueError(f"config key {key!r} must be {what}, not {value!r}")
    return cfg


def _keys() -> dict[str, str]:
    """Every config key and its declared type, in TrainConfig's order, the clip's and the
    augmentations' in place."""
    clip_types = {f.name: str(f.type) for f in dataclasses.fields(ClipSpec)}
    keys: dict[str, str] = {}
    for f in dataclasses.fields(TrainConfig):
        if f.name == "clip":
            keys.update({k: clip_types[k] for k in CLIP_KEYS})
        elif f.name == "augment":
            keys.update({g.name: str(g.type) for g in dataclasses.fields(Augment)})
        else:
            keys[f.name] = str(f.type)
    return keys


_KEYS = _keys()
