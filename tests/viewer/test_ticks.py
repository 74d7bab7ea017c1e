"""Nice tick numbers for colour bars (pure functions: no Qt, no VTK)."""
from __future__ import annotations

import pytest

from viewer.ticks import labels, log_ticks, max_ticks_for, nice_ticks


def test_a_small_range_gets_steps_of_one_hundredth_not_fifths_of_the_range():
    ticks, fmt = nice_ticks(0.0, 0.0332)
    assert labels(ticks, fmt) == ["0.00", "0.01", "0.02", "0.03"]


def test_ticks_start_at_the_first_multiple_inside_the_range():
    ticks, fmt = nice_ticks(0.0011, 0.0332, max_ticks=4)
    assert labels(ticks, fmt) == ["0.01", "0.02", "0.03"]
    ticks, fmt = nice_ticks(0.0011, 0.0332, max_ticks=6)     # room for more: a finer step
    assert labels(ticks, fmt) == ["0.005", "0.010", "0.015", "0.020", "0.025", "0.030"]


@pytest.mark.parametrize("lo, hi, expected", [
    (0.0, 1.0, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
    (0.0, 100.0, ["0", "20", "40", "60", "80", "100"]),
    (-0.5, 0.5, ["-0.4", "-0.2", "0.0", "0.2", "0.4"]),
    (3.0, 7.0, ["3", "4", "5", "6", "7"]),
    (1000.2, 1000.3, ["1000.20", "1000.22", "1000.24", "1000.26", "1000.28", "1000.30"]),
])
def test_labels_are_multiples_of_a_1_2_5_step(lo, hi, expected):
    ticks, fmt = nice_ticks(lo, hi)
    assert labels(ticks, fmt) == expected
    assert all(lo <= t <= hi for t in ticks)


def test_float_noise_never_reaches_a_label_and_zero_has_no_sign():
    ticks, fmt = nice_ticks(-0.25, 0.25)
    assert labels(ticks, fmt) == ["-0.2", "-0.1", "0.0", "0.1", "0.2"]
    ticks, fmt = nice_ticks(0.0, 0.31, max_ticks=4)
    assert labels(ticks, fmt) == ["0.0", "0.1", "0.2", "0.3"]          # not 0.30000000000000004


def test_tiny_and_huge_values_switch_to_scientific_notation():
    ticks, fmt = nice_ticks(0.0, 3.3e-6)
    assert labels(ticks, fmt) == ["0e+00", "1e-06", "2e-06", "3e-06"]
    ticks, fmt = nice_ticks(0.0, 4.2e7)
    assert labels(ticks, fmt)[1:] == ["1e+07", "2e+07", "3e+07", "4e+07"]


@pytest.mark.parametrize("width, font, count", [(234, 11, 4), (600, 11, 6), (80, 11, 2), (468, 22, 4)])
def test_the_number_of_ticks_follows_the_room_for_labels(width, font, count):
    assert max_ticks_for(width, font) == count


def test_a_degenerate_range_gets_one_tick():
    assert nice_ticks(2.0, 2.0)[0] == [2.0]


def test_log_ticks_over_four_decades_are_powers_of_ten():
    ticks, fmt = log_ticks(0.001, 10.0)
    assert labels(ticks, fmt) == ["0.001", "0.01", "0.1", "1", "10"]


def test_log_ticks_over_one_decade_use_1_2_5():
    ticks, fmt = log_ticks(0.01, 0.1)
    assert labels(ticks, fmt) == ["0.01", "0.02", "0.05", "0.1"]


def test_log_ticks_over_many_decades_are_thinned():
    ticks, _ = log_ticks(1e-9, 1e3)
    assert 2 <= len(ticks) <= 6 and ticks[0] == 1e-9
