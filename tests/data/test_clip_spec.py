"""ClipSpec alone: defaults, the dict/YAML round trip, replace for test-time views, and one
clear error per bad value. (Through a checkpoint: tests/engine/test_clip_spec_checkpoint.py.)"""

import dataclasses
import subprocess
import sys

import pytest
import yaml

from mrstnet.data import ClipSpec


def test_defaults_are_one_small_training_clip():
    spec = ClipSpec()
    assert (spec.frames, spec.frame_step, spec.short_side, spec.crop_size) == (16, 1, 128, 112)
    assert (spec.num_clips, spec.crops, spec.flip, spec.views) == (1, 1, False, 1)


def test_dict_and_yaml_round_trip():
    spec = ClipSpec(frames=8, frame_step=2, short_side=72, crop_size=64, num_clips=5, crops=3)
    assert ClipSpec.from_dict(spec.to_dict()) == spec
    assert ClipSpec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec
    # keys left out take their defaults: a checkpoint that stored only the geometry
    old = {"frames": 8, "frame_step": 1, "short_side": 72, "crop_size": 64}
    assert ClipSpec.from_dict(old) == ClipSpec(frames=8, short_side=72, crop_size=64)


def test_replace_changes_only_what_it_names_and_checks_again():
    train = ClipSpec(frames=8, short_side=72, crop_size=64, flip=True)
    test = train.replace(num_clips=20, crops=3)
    assert (test.num_clips, test.crops, test.views) == (20, 3, 60)
    assert dataclasses.replace(test, num_clips=1, crops=1) == train  # nothing else moved
    with pytest.raises(ValueError, match="'crops' must be 1 or 3, not 2"):
        train.replace(crops=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        train.frames = 4


@pytest.mark.parametrize(
    "values, message",
    [
        ({"frames": 0}, "clip spec 'frames' must be an integer >= 1, not 0"),
        ({"frame_step": 1.5}, "clip spec 'frame_step' must be an integer >= 1, not 1.5"),
        ({"num_clips": True}, "clip spec 'num_clips' must be an integer >= 1, not True"),
        ({"short_side": "128"}, "clip spec 'short_side' must be an integer >= 1, not '128'"),
        ({"crops": 2}, "clip spec 'crops' must be 1 or 3, not 2"),
        ({"flip": "yes"}, "clip spec 'flip' must be true or false, not 'yes'"),
        ({"crop_size": 200}, "crop_size 200 is larger than short_side 128"),
        ({"clips": 20}, "unknown clip spec keys ['clips']; known: frames, frame_step"),
    ],
)
def test_bad_values_say_which_field_and_why(values, message):
    with pytest.raises(ValueError) as e:
        ClipSpec.from_dict(values)
    assert message in str(e.value)


def test_from_dict_wants_a_mapping():
    with pytest.raises(ValueError, match="a clip spec is a mapping of frames, frame_step"):
        ClipSpec.from_dict([16, 1])


def test_spec_and_readers_import_without_torch():
    # the CLI reads READERS (its --dataset choices) and config reads ClipSpec: no torch for that
    code = (
        "import sys, mrstnet.data.clip_spec, mrstnet.data.readers; "
        "from mrstnet.data import ClipSpec, READERS; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
