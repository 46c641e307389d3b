"""Every flagfile in configs/ parses with tsn-train's flags and holds the reference's settings."""
import pathlib

import pytest
from absl import flags

from tsn_tf.trainers import train  # noqa: F401  (defines the flags)

CONFIGS = sorted((pathlib.Path(__file__).parents[1] / "configs").glob("*.cfg"))
FLOW = ("flow", "warped_flow")


@pytest.fixture
def parsed():
    def parse(path):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["tsn-train", f"--flagfile={path}"])
        return flags.FLAGS
    yield parse
    flags.FLAGS.unparse_flags()


def test_all_paper_settings_are_present():
    names = {path.stem for path in CONFIGS}
    for dataset in ("ucf101", "hmdb51"):
        assert {f"{dataset}_{m}" for m in ("rgb", "flow", "rgb_diff", "warped_flow")} <= names
    assert {"kinetics400_rgb_resnet50", "synthetic_demo"} <= names
    assert {f"{d}_{m}_k7" for d in ("ucf101", "hmdb51") for m in ("rgb", "flow")} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_is_consistent(parsed, path):
    values = parsed(path)
    steps = [int(s) for s in values.lr_steps]
    assert steps == sorted(steps) and all(s < values.train_steps for s in steps)
    assert values.batch_size % values.accumulation == 0
    if path.stem.startswith(("ucf101", "hmdb51")):
        flow = values.modality in FLOW
        assert (values.learning_rate, values.clip_norm, values.dropout) == \
            ((0.005, 20.0, 0.7) if flow else (0.001, 40.0, 0.8))
        assert values.backbone == "bn_inception" and values.batch_size == 128
        assert values.partial_bn and values.weight_decay == 5e-4


def test_reference_schedules(parsed):
    assert parsed(CONFIGS[0].parent / "ucf101_flow.cfg").lr_steps == ["10000", "16000"]
    assert parsed(CONFIGS[0].parent / "hmdb51_flow.cfg").train_steps == 7000
    assert parsed(CONFIGS[0].parent / "hmdb51_rgb.cfg").lr_steps == ["1000"]


def test_synthetic_config_matches_what_the_demo_runs():
    from tsn_tf.trainers.commands import FROM_SCRATCH_FLAGS
    lines = (CONFIGS[0].parent / "synthetic_demo.cfg").read_text().splitlines()
    assert set(FROM_SCRATCH_FLAGS) <= {line.strip() for line in lines}


@pytest.mark.parametrize("stem", ["ucf101_rgb", "ucf101_flow", "hmdb51_rgb", "hmdb51_flow"])
def test_k7_config_is_its_k3_config_with_7_segments(parsed, stem):
    """The TPAMI paper's K = 7 beside the ECCV paper's K = 3, all else equal."""
    folder = CONFIGS[0].parent
    k3 = dict(parsed(folder / f"{stem}.cfg").flag_values_dict())
    k7 = dict(parsed(folder / f"{stem}_k7.cfg").flag_values_dict())
    assert (k3.pop("num_segments"), k7.pop("num_segments")) == (3, 7)
    assert k7 == k3
