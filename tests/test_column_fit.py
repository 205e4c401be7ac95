"""A text table's columns narrowed to a width: which give up cells, in which order, and how their cells are cut."""

from __future__ import annotations

from tutor.core.column_fit import FitColumn, cut_label, cut_to_tail, fitted_widths, label_least_width
from tutor.core.text_chart import cell_width


def test_columns_that_fit_keep_their_widths():
    columns = [FitColumn(3, 3), FitColumn(16, 9, turn=0), FitColumn(18, 14, turn=1)]
    assert fitted_widths(columns, 40) == [3, 16, 18]


def test_the_first_turn_gives_up_its_cells_before_the_next():
    columns = [FitColumn(3, 3), FitColumn(16, 9, turn=0), FitColumn(15, 11, turn=1), FitColumn(18, 14, turn=1)]
    assert fitted_widths(columns, 52 - 5) == [3, 11, 15, 18]  # the context alone
    assert fitted_widths(columns, 52 - 10) == [3, 9, 15, 15]  # then the widest label, down to the next
    assert fitted_widths(columns, 52 - 12) == [3, 9, 14, 14]  # then the widest of those, in turn


def test_no_column_goes_below_its_least_width_and_untouchable_ones_are_never_cut():
    columns = [FitColumn(11, 11), FitColumn(16, 9, turn=0), FitColumn(18, 14, turn=1)]
    assert fitted_widths(columns, 10) == [11, 9, 14]  # wider than the room: the table scrolls


def test_a_label_is_cut_in_its_text_and_keeps_its_id():
    assert cut_label("·unsatisf [39264]", 17) == "·unsatisf [39264]"
    assert cut_label("·unsatisf [39264]", 14) == "·unsa… [39264]"
    assert cut_label("·unsatisf [39264]", 14, ellipsis="...") == "·un... [39264]"
    assert label_least_width("·unsatisf [39264]") == len(" [39264]") + 2  # one cell of text and the ellipsis
    assert label_least_width("a [7]") == 5  # already narrower than that
    assert cut_label("·[x] [12]", 8) == "·[… [12]"  # the id is the last bracket


def test_wide_characters_are_cut_by_the_cells_they_take():
    label = "東京都 [23]"
    assert cell_width(label) == 11
    cut = cut_label(label, 9)
    assert cut.endswith("… [23]") and cell_width(cut) <= 9
    tail = cut_to_tail("·東京都", 6)
    assert tail.startswith("…") and tail.endswith("京都") and cell_width(tail) <= 6


def test_a_context_keeps_its_end():
    assert cut_to_tail("At·3:17·on", 10) == "At·3:17·on"
    assert cut_to_tail("At·3:17·on", 9) == "…·3:17·on"
    assert cut_to_tail("…n·a·wet·Tuesday", 9) == "…·Tuesday"
