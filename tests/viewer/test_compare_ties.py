"""The compare table bolds every best value as shown, ties included (pure: no window)."""
from __future__ import annotations

from viewer.panels.compare_table import Column, best_rows, cell_text

ACC = Column("acc", "accuracy")                                   # percent, 1 decimal, higher is better
LOSS = Column("loss", "loss", unit="", better="low", decimals=3)


def test_values_that_read_the_same_are_all_bold():
    values = [0.83412, 0.8, 0.83398]
    assert [cell_text(ACC, v) for v in values] == ["83.4 %", "80.0 %", "83.4 %"]
    assert best_rows(ACC, values) == {0, 2}


def test_exact_ties_and_values_with_errors_count_alike():
    assert best_rows(ACC, [(0.9, 0.01), 0.9, 0.7]) == {0, 1}
    assert best_rows(LOSS, [0.1234, 0.12341, 0.2]) == {0, 1}


def test_a_value_that_reads_differently_is_not_a_tie():
    assert best_rows(ACC, [0.834, 0.836]) == {1}                  # 83.4 % vs 83.6 %
    assert best_rows(LOSS, [0.1234, 0.1244]) == {0}
