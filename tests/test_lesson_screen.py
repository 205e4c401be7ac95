"""Pilot tests of the lesson screen: its keys, its lesson list, its check panel, and that every pane shows
the same numbers as `loss-tutor --json`."""

from __future__ import annotations

from app_helpers import assert_numbers_close, expected_report, press_and_settle, settle, shown, table_column, view
from textual.widgets import Input, Markdown

from tutor.core.formatting import format_number
from tutor.core.lessons import format_value
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.widgets.lesson_list import LessonList
from tutor.ui.widgets.lesson_text import LessonText

SIZE = (120, 40)


def lesson_text(screen) -> str:
    return screen.query_one("#lesson-text", LessonText).source


def ids_in(column: list[str]) -> list[int]:
    """`·word [123]` cells → [123, …]"""
    return [int(cell.rsplit("[", 1)[1].rstrip("]")) for cell in column]


def pane_of(screen) -> str | None:
    """Which of the three panes holds the focus: lesson-list, explanation or panes."""
    for pane_id in ("lesson-list", "explanation", "panes"):
        pane = screen.query_one(f"#{pane_id}")
        if pane.has_focus or pane.has_focus_within:
            return pane_id
    return None


# ----- moving between lessons ----------------------------------------------------------------------


async def test_next_and_previous_keys_move_one_lesson_within_bounds(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        assert app.lesson_index == 0
        last = len(app.lessons.lessons) - 1
        assert last == 12

        steps = [("right", 1), ("n", 2), ("space", 3), ("left", 2), ("p", 1), ("left", 0), ("p", 0)]
        for key, expected in steps:
            await press_and_settle(pilot, key)
            assert app.lesson_index == expected, f"after {key!r}"
        assert app.session.lesson_id == "overview"

        assert screen.title == f"loss-tutor · lesson 1 of 13: {app.lessons.lessons[0].title}"
        await press_and_settle(pilot, "0")  # lesson 10
        assert app.lesson_index == 9
        for _ in range(5):
            await press_and_settle(pilot, "right")
        assert app.lesson_index == last, "→ went past the last lesson"
        await press_and_settle(pilot, "space")
        assert app.lesson_index == last, "space went past the last lesson"
        assert screen.title == f"loss-tutor · lesson 13 of 13: {app.lessons.lessons[12].title}"


async def test_digit_keys_go_to_the_lesson_of_that_number_as_shown(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        for digit, number in (("7", 7), ("1", 1), ("0", 10), ("9", 9)):
            await press_and_settle(pilot, digit)
            assert app.lesson_index == number - 1
            assert app.session.lesson_id == app.lessons.lessons[number - 1].id
            assert screen.title.startswith(f"loss-tutor · lesson {number} of 13: ")
            assert lesson_text(screen).splitlines()[0].startswith("# ")


# ----- batch rows ----------------------------------------------------------------------------------


async def test_bracket_keys_change_the_batch_row_within_bounds(make_app):
    app = make_app(settings_overrides={"batch_size": 3})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "3")  # windows: the table shows input and target ids
        expected = expected_report(batch_size=3).to_json_dict()
        def shown_row() -> tuple[list[int], list[int]]:
            table = view(app.screen, "tokens")
            return ids_in(table_column(table, "input")), ids_in(table_column(table, "target"))

        assert app.session.row == 0
        assert shown_row() == (expected["inputs"][0], expected["targets"][0])
        for key, row in [("right_square_bracket", 1), ("right_square_bracket", 2), ("right_square_bracket", 2)]:
            await press_and_settle(pilot, key)
            assert app.session.row == row
            assert shown_row() == (expected["inputs"][row], expected["targets"][row])
        for key, row in [("left_square_bracket", 1), ("left_square_bracket", 0), ("left_square_bracket", 0)]:
            await press_and_settle(pilot, key)
            assert app.session.row == row
            assert shown_row() == (expected["inputs"][row], expected["targets"][row])
        assert expected["inputs"][0] != expected["inputs"][1]  # the rows really differ


# ----- focus, help, list, zoom -----------------------------------------------------------------------


async def test_tab_moves_focus_between_the_panes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "4")  # a lesson with all three: list, explanation (with a check), panes
        screen = app.screen
        screen.query_one(LessonList).focus()  # where the focus starts depends on when the layout settles
        await settle(pilot)
        assert pane_of(screen) == "lesson-list"

        visited = []
        for _ in range(5):
            await press_and_settle(pilot, "tab")
            visited.append(pane_of(screen))
        # list → explanation (its answer box, its Hint button) → the tabbed panes (the code: the tab strip never
        # takes the focus, ← → are lesson keys and `t` changes tab) → list again
        assert visited == ["explanation", "explanation", "explanation", "panes", "lesson-list"]

        await press_and_settle(pilot, "shift+tab")
        assert screen.focused is screen.query_one("#code-pane")


async def test_question_mark_opens_help_and_escape_closes_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lesson_screen = app.screen
        await press_and_settle(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = app.screen.query_one(Markdown).source
        assert help_text.startswith("# loss-tutor help")
        assert "| `]` `[` | next / previous row of the batch |" in help_text
        await press_and_settle(pilot, "right")  # the lesson keys do not act behind the modal
        assert app.lesson_index == 0
        await press_and_settle(pilot, "escape")
        assert app.screen is lesson_screen
        await press_and_settle(pilot, "right")
        assert app.lesson_index == 1

        await press_and_settle(pilot, "question_mark")  # q on the help screen closes it, not the app
        await press_and_settle(pilot, "q")
        assert app.screen is lesson_screen and app.is_running


async def test_l_toggles_the_lesson_list(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lessons = app.screen.query_one(LessonList).parent  # the list's place in the layout
        assert lessons.display  # wide terminal: shown by default
        await press_and_settle(pilot, "l")
        assert not lessons.display
        await press_and_settle(pilot, "l")
        assert lessons.display

        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not lessons.display  # narrow terminal: hidden by default, and l shows it
        await press_and_settle(pilot, "l")
        assert lessons.display
        await press_and_settle(pilot, "l")
        assert not lessons.display


async def test_z_zooms_the_focused_pane_and_again_unzooms(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one(LessonList).focus()
        await press_and_settle(pilot, "tab")
        assert pane_of(screen) == "explanation"
        await press_and_settle(pilot, "z")
        assert screen.maximized is screen.query_one("#explanation")
        await press_and_settle(pilot, "z")
        assert screen.maximized is None

        await press_and_settle(pilot, "3")  # a lesson with panes; focus the code pane
        screen.query_one("#code-pane").focus()
        await settle(pilot)
        await press_and_settle(pilot, "z")
        assert screen.maximized is screen.query_one("#panes")
        await press_and_settle(pilot, "z")
        assert screen.maximized is None


# ----- the lesson list --------------------------------------------------------------------------------


async def test_lesson_list_marks_current_visited_and_right_lessons(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "right", "right", "6", "3")  # seen: lessons 1, 2, 3 and 6
        lessons = app.screen.query_one(LessonList)

        def prompts() -> list[str]:
            return [str(lessons.get_option_at_index(i).prompt) for i in range(lessons.option_count)]

        titles = [lesson.title for lesson in app.lessons.lessons]
        assert prompts()[2] == f"▶ 3 {titles[2]}"
        for index in (0, 1, 5):
            assert prompts()[index] == f"• {index + 1} {titles[index]}"  # visited, checks not answered
        for index in (3, 4, 6, 7, 8, 9):
            assert prompts()[index] == f"  {index + 1} {titles[index]}"
        assert lessons.highlighted == 2
        assert app.session.seen == ["overview", "tokenize", "windows", "gather"]

        # ✓: every check of the lesson answered right; one right of two is still only visited
        app.session.record_answer("tokenize:token-count", True)
        app.session.record_answer("gather:uniform-prob", True)
        app.session.record_answer("gather:first-log-prob", False)
        app.session_changed.publish(app.session)
        await settle(pilot)
        assert prompts()[1] == f"✓ 2 {titles[1]}" and prompts()[5] == f"• 6 {titles[5]}"
        assert prompts()[0] == f"• 1 {titles[0]}"  # no checks: visited, never ✓

        lessons.focus()  # choosing a lesson in the list goes there
        await press_and_settle(pilot, "down", "enter")
        assert app.lesson_index == 3
        assert prompts()[3] == f"▶ 4 {titles[3]}"
        assert prompts()[2] == f"• 3 {titles[2]}"


async def test_lesson_titles_in_the_list_never_break_inside_a_word(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "l")  # narrow: the list is shown on l
        for size in ((80, 24), (120, 40)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            lessons = app.screen.query_one(LessonList)
            assert lessons.display and lessons.parent.display, size
            lines = []
            for top in range(0, lessons.virtual_size.height, lessons.size.height):  # at 80x24 a view at a time
                lessons.scroll_to(y=top, animate=False, immediate=True)
                await settle(pilot)
                lines += [lessons.render_line(y).text for y in range(lessons.size.height)]
            words_shown = {word for line in lines for word in line.split()}
            for lesson in app.lessons.lessons:
                for word in lesson.title.split():
                    assert word in words_shown, f"{size}: {word!r} of {lesson.title!r} is broken: {lines}"
            if size == (80, 24):
                await press_and_settle(pilot, "l")  # at 120 columns the list is shown without it


# ----- the numbers --------------------------------------------------------------------------------------


async def test_every_lesson_shows_the_numbers_of_loss_tutor_json(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert_numbers_close(app.session.report, expected_report())  # what `loss-tutor --json` prints
        report = app.session.report  # each number below as this report holds it, formatted as shown
        data = report.to_json_dict()
        values = report.values()

        def text() -> str:  # the explanation, with its line breaks and indents as single spaces
            return " ".join(lesson_text(screen).split())

        def tensors() -> str:
            return shown(view(screen, "tensors"))

        def table(key: str) -> list[str]:
            return table_column(view(screen, "tokens"), key)

        # 1 overview: the loss as the explanation writes it, from report.values()
        assert app.session.lesson_id == "overview"
        assert format_value(values["loss_manual"], ".3f") == f"{data['loss_manual']:.3f}"
        assert f"the cross-entropy loss is {data['loss_manual']:.3f}." in text()
        assert f"the text becomes {data['token_count']:,} GPT-2 token ids" in text()
        assert f"a tensor of shape ({', '.join(map(str, data['logits_shape']))})" in text()
        assert f"e to the loss is {data['perplexity']:,.0f}" in text()

        # 2 tokenize: the text's characters (its token count is the check's answer)
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "tokenize"
        assert f"This text has {values['character_count']:,} characters." in text()
        assert screen.title == f"loss-tutor · lesson 2 of 13: {app.lessons.lessons[1].title}"

        # 3 windows: the ids of row 1, in the table and in the tensor pane, and the first row drawn aligned
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "windows"
        assert ids_in(table("input")) == data["inputs"][0]
        assert ids_in(table("target")) == data["targets"][0]
        assert table("pos") == [str(i) for i in range(8)]
        assert tensors().startswith("inputs  torch.Size([2, 8])  torch.int64\n")
        assert report.tensors["inputs"].text in tensors() and report.tensors["targets"].text in tensors()
        assert f"{data['inputs'][0][0]}," in tensors()
        assert f"this is batch 1 of {data['batch_count']:,} (`batch_index` = 0 in the code" in text()
        assert values["first_window_aligned"] in lesson_text(screen)
        assert "Target t is the token after input t" in text()

        # 4 forward: the model, then the logits tensor
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "forward"
        assert tensors() == f"logits  torch.Size({data['logits_shape']})  torch.float32\n{report.tensors['logits'].text}"
        card = report.model
        assert f"vocabulary {card.vocab_size:,}, inputs of up to {card.context_length} tokens" in text()
        assert f"{card.emb_dim}-wide vectors, {card.n_heads} attention heads, {card.n_layers} layers" in text()
        assert f"dropout {card.drop_rate}, qkv bias: no" in text()
        assert f"{card.parameter_count:,} parameters, drawn at random after torch.manual_seed({card.seed}): it is " \
               "untrained" in text()
        assert "run in eval mode, so dropout is off" in text()

        # 5 softmax: predictions and ✓/✗ of row 1
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "softmax"
        assert ids_in(table("predicted")) == data["predicted"][0]
        assert ids_in(table("target")) == data["targets"][0]
        assert table("ok") == ["✓" if ok else "✗" for ok in data["correct"][0]]
        correct = sum(sum(row) for row in data["correct"])
        assert f"This run: {correct} ✓ out of {len(data['correct']) * 8} positions" in text()

        # 6 gather: log_probas whole, then each target's probability and log-probability
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "gather"
        assert table("p(target)") == [format_number(p, 6) for p in data["target_probs"][0]]
        assert table("log p") == [format_number(lp) for lp in data["target_log_probs"][0]]
        assert tensors().startswith(f"log_probas  torch.Size({data['logits_shape']})  torch.float32\n")
        assert report.tensors["log_probas"].text in tensors()
        assert tensors().index(report.tensors["log_probas"].text) < tensors().index(report.tensors["target_log_probs"].text)
        assert report.tensors["target_log_probs"].text in tensors()
        assert f"`log_probas`, shape ({', '.join(map(str, data['logits_shape']))})" in text()
        assert f"The first target got p = {data['target_probs'][0][0]:.2e}" in text()

        # 7 cross-entropy: by hand and by nn.CrossEntropyLoss
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "cross-entropy"
        assert f"- by hand: {data['loss_manual']:.6f}" in text()
        assert f"- `nn.CrossEntropyLoss`: {data['loss_pytorch']:.6f}" in text()
        assert f"that is {data['avg_log_prob']:.4f}." in text()

        # 8 perplexity: this run's, beside the vocabulary
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "perplexity"
        assert f"This run: loss {data['loss_pytorch']:.3f}, so the perplexity is **{data['perplexity']:,.0f}**," in text()
        assert f"loss ln {data['vocab_size']:,} = {data['uniform_loss']:.3f}" in text()
        assert f"This run's {data['perplexity']:,.0f} is higher than {data['vocab_size']:,}" in text()

        # 9 recap: per token, per window, per batch, and the heatmap of all three
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "recap"
        low, high = min(data["per_sequence_loss"]), max(data["per_sequence_loss"])
        assert f"range from {low:.3f} to {high:.3f}" in text()
        assert f"The first window's is {data['per_sequence_loss'][0]:.3f}" in text()
        assert f"so its loss is {-data['target_log_probs'][0][0]:.3f}" in text()
        assert f"(every window has the same length): {data['loss_pytorch']:.3f}" in text()
        heatmap = shown(view(screen, "heatmap"))
        sequences = ", ".join(format_number(loss) for loss in data["per_sequence_loss"])
        assert f"per-sequence losses: {sequences}   batch mean: {format_number(data['loss_manual'])}" in heatmap
        assert report.tensors["per_sequence_loss"].text in tensors()

        # 10 bug lab
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "bug-lab"
        assert screen.title == f"loss-tutor · lesson 10 of 13: {app.lessons.lessons[9].title}"
        assert shown(view(screen, "bug_lab")).startswith(f"correct loss: {format_number(data['loss_pytorch'])}\n")


# ----- the check panel ---------------------------------------------------------------------------------


async def test_check_panel_hints_wrong_and_right_answers(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "3")  # windows: two checks
        screen = app.screen
        lesson = screen.lesson
        first, second = lesson.checks
        assert (first.id, second.id) == ("inputs-shape", "window-count")
        question = lambda: shown(screen.query_one("#check-question"))  # noqa: E731
        hints = lambda: shown(screen.query_one("#check-hints"))  # noqa: E731
        feedback = lambda: shown(screen.query_one("#check-feedback"))  # noqa: E731
        answer = screen.query_one("#check-answer", Input)
        assert question().startswith("Check 1 of 2")
        assert hints() == "(h: hint 1 of 2 — F1 in the answer box)"

        # h: one hint at a time, with this run's numbers filled in
        await press_and_settle(pilot, "h")
        assert hints() == "hint 1: One row per window in the batch, one column per token of a window.\n(h: hint 2 of 2 — F1 in the answer box)"
        await press_and_settle(pilot, "h")
        assert hints().splitlines()[1] == "hint 2: This run uses batch_size = 2 and context_length = 8."
        assert len(hints().splitlines()) == 2
        await press_and_settle(pilot, "h")
        assert len(hints().splitlines()) == 2

        # a focuses the answer box; a wrong answer: ✗ and the explanation
        await press_and_settle(pilot, "a")
        assert screen.focused is answer
        await pilot.press(*"3, 3")
        await press_and_settle(pilot, "enter")
        assert feedback().startswith("✗ Not quite: this run's value is (2, 8). A batch stacks 2 windows of 8 token ids")
        assert app.session.checks == {"windows:inputs-shape": False}
        assert app.lesson_index == 2 and question().startswith("Check 1 of 2")

        # the right answer, taken from this run's values: recorded, shown with its explanation; a goes on to
        # the next check
        values = app.session.report.values()
        answer.value = ", ".join(str(n) for n in values[first.answer])
        await press_and_settle(pilot, "enter")
        assert app.session.checks["windows:inputs-shape"] is True
        assert feedback().startswith("✓ Right: this run's value is (2, 8). A batch stacks 2 windows of 8 token ids")
        assert app.lesson_index == 2
        assert question().startswith("Check 1 of 2 ✓")
        await press_and_settle(pilot, "a")
        assert question().startswith("Check 2 of 2")
        assert hints() == "(h: hint 1 of 2 — F1 in the answer box)"
        assert answer.value == "" and feedback() == ""

        # the last check answered right: it stays on this lesson until the learner moves on
        answer.value = str(values[second.answer])
        await press_and_settle(pilot, "enter")
        assert app.session.checks == {"windows:inputs-shape": True, "windows:window-count": True}
        assert app.lesson_index == 2
        await press_and_settle(pilot, "n")
        assert app.lesson_index == 3 and app.session.lesson_id == "forward"

        # back on lesson 3 both checks show as answered
        await press_and_settle(pilot, "3")
        assert question() == "Check — all 2 answered ✓"
        assert not screen.query_one("#check-answer-row").display  # the answer box and its Hint button
