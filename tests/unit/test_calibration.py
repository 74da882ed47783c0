"""A node's calibration summed up from its runs (no box here: the runs are given)."""

import pytest

from sio.workers import settings
from sio.workers.calibration import REFERENCE_MS, Calibration


def test_speed_is_the_reference_over_the_median_elapsed_time_and_noise_its_cv():
    steady = Calibration.of_runs([200, 200, 200, 200], [202, 202, 202, 202])
    assert steady.speed == pytest.approx(REFERENCE_MS / 202, abs=1e-3) and steady.noise == 0
    assert (steady.cpu_ms, steady.wall_ms, steady.runs) == (200, 202, 4)
    twice_as_slow = Calibration.of_runs([400, 400, 400], [401, 401, 401])
    assert twice_as_slow.speed == pytest.approx(steady.speed / 2, rel=0.01)
    noisy = Calibration.of_runs([100, 100, 100, 100], [150, 250, 150, 250])
    assert noisy.noise == pytest.approx(0.289, abs=1e-3)  # sample standard deviation / mean


def test_a_box_given_part_of_a_core_is_slow_though_its_cpu_time_is_not():
    # Under a quota of a quarter of a core the CPU time stays, the wall-clock time grows.
    quota = Calibration.of_runs([200, 200, 200], [800, 800, 800])
    assert quota.speed == pytest.approx(REFERENCE_MS / 800, abs=1e-3)


def test_bad_runs_and_bad_dicts_are_named():
    with pytest.raises(ValueError, match='two runs at least'):
        Calibration.of_runs([200], [200])
    with pytest.raises(ValueError, match="calibration\\['noise'\\]"):
        Calibration.from_dict({'speed': 1.0, 'noise': 'x', 'cpu_ms': 1, 'wall_ms': 1, 'runs': 2})
    same = Calibration.of_runs([200, 210], [205, 215])
    assert Calibration.from_dict(same.to_dict()) == same


@pytest.mark.parametrize('name, text, expected', [
    ('SIO_CALIBRATION_RUNS', '0', 0), ('SIO_CALIBRATION_RUNS', '5', 5),
    ('SIO_RAY_SLOW_NODE_RATIO', '0.5', 0.5), ('SIO_RAY_NOISY_NODE_MARGIN', '0', 0.0),
])
def test_calibration_settings(monkeypatch, name, text, expected):
    monkeypatch.setenv(name, text)
    assert settings.get(name) == expected


@pytest.mark.parametrize('name, text', [
    ('SIO_CALIBRATION_RUNS', '1'), ('SIO_CALIBRATION_RUNS', '-2'),
    ('SIO_RAY_SLOW_NODE_RATIO', '0'), ('SIO_RAY_SLOW_NODE_RATIO', '1.5'),
    ('SIO_RAY_NOISY_NODE_MARGIN', '-0.1'), ('SIO_RAY_NOISY_NODE_MARGIN', 'nan'),
])
def test_bad_calibration_settings_are_named(monkeypatch, name, text):
    monkeypatch.setenv(name, text)
    with pytest.raises(ValueError, match=f'\\${name}'):
        settings.get(name)
