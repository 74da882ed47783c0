"""What a checker prints is computed by the worker, outside any box: bounded."""

import time

import pytest

from sio.executors.checker import CheckerError, _points_percentage, parse_percentage
from sio.workers.environ import validate


@pytest.mark.parametrize('text', ['1e15000000', '1e31', '1' * 65, '3/' + '1' * 70])
def test_huge_percentages_are_refused_at_once(text):
    started = time.process_time()
    with pytest.raises(CheckerError):
        parse_percentage(text)
    assert time.process_time() - started < 1  # not the minutes of computing it


def test_percentages_within_bounds_are_exact():
    assert parse_percentage('4.2e1') == (42, 1)
    assert parse_percentage('42e-30') == (21, 5 * 10 ** 29)  # reduced


@pytest.mark.parametrize('number', ['1e99999999', '0.' + '5' * 70])
def test_huge_testlib_points_are_refused(number):
    with pytest.raises(CheckerError, match='points out of range'):
        _points_percentage(number)


def test_an_environ_with_a_huge_int_is_described_without_printing_it():
    with pytest.raises(ValueError, match=r"environ\['x'\]: int of 33220 bits is out of the 64-bit"):
        validate({'x': 10 ** 10000})
