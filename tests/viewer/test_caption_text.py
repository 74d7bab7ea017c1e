"""Caption wrapping (pure): broken at separators, then words, then characters; never elided."""
from __future__ import annotations

from viewer.caption_text import wrap, wrap_lines


def chars(n):
    return lambda text: len(text) <= n


LINE = "chair_0941 · true label: chair · all 2,048 points used by the model"


def test_a_line_that_fits_is_unchanged():
    assert wrap(LINE, chars(200)) == [LINE]


def test_a_long_line_breaks_at_its_separators_first():
    assert wrap(LINE, chars(40)) == ["chair_0941 · true label: chair", "all 2,048 points used by the model"]


def test_a_part_wider_than_the_view_breaks_between_words():
    assert wrap(LINE, chars(20)) == ["chair_0941", "true label: chair", "all 2,048 points", "used by the model"]


def test_a_word_wider_than_the_view_is_split_by_characters_and_nothing_is_lost():
    out = wrap("a_very_long_sample_name_0941 · true label: chair", chars(10))
    assert all(len(l) <= 10 for l in out)
    assert "".join(out).replace(" ", "") == "a_very_long_sample_name_0941truelabel:chair"   # breaks drop " · "
    assert not any("…" in l for l in out)


def test_every_line_of_a_caption_is_wrapped_in_order():
    assert wrap_lines(["a · b", "c"], chars(3)) == ["a", "b", "c"]
