"""Learning-rate schedules against the reference solver values."""
import math

import numpy as np
import pytest

from tsn_tf.schedules import TSNSchedule


def test_ucf101_rgb_multistep():
    schedule = TSNSchedule(0.001, "multistep", boundaries=(1500,))
    assert [float(schedule(s)) for s in (0, 1499, 1500, 3499)] == pytest.approx(
        [0.001, 0.001, 0.0001, 0.0001])


def test_hmdb51_flow_two_steps():
    schedule = TSNSchedule(0.005, "multistep", boundaries=(4000, 6000))
    assert float(schedule(3999)) == pytest.approx(0.005)
    assert float(schedule(4000)) == pytest.approx(0.0005)
    assert float(schedule(6500)) == pytest.approx(0.00005)


def test_cosine_with_warmup():
    schedule = TSNSchedule(0.1, "cosine", total_steps=100, warmup_steps=10)
    steps = np.arange(0, 120, 7)
    reference = [0.05 * (1 + math.cos(math.pi * min(s / 100, 1))) * min(1, (s + 1) / 10) for s in steps]
    np.testing.assert_allclose([float(schedule(s)) for s in steps], reference, rtol=1e-5, atol=1e-8)


def test_config_round_trip_and_errors():
    schedule = TSNSchedule(0.01, "multistep", boundaries=(5, 9), decay=0.5, warmup_steps=2)
    clone = TSNSchedule.from_config(schedule.get_config())
    assert [float(clone(s)) for s in range(12)] == [float(schedule(s)) for s in range(12)]
    with pytest.raises(ValueError, match="kind='poly'"):
        TSNSchedule(0.1, "poly")
    with pytest.raises(ValueError, match="increase"):
        TSNSchedule(0.1, boundaries=(9, 5))
