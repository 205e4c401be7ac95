"""The help screen: the keys and how the tutor works, as a Markdown modal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

from tutor.core.glyphs import to_ascii
from tutor.ui.typed_app import shows_ascii_only

HELP = """\
# loss-tutor help

Each lesson is one step of how a GPT model's training loss is computed. Every number you see is
computed live by a real GPT-2-sized model on your text: untrained unless you choose another (`m`).

## Keys

| Key | What it does |
|---|---|
| `→` `n` `space` | next lesson |
| `←` `p` | previous lesson (`←` `→` work whatever has the focus; in the answer box they move the cursor) |
| `1`–`9`, `0` | go to lesson 1–9, `0` to lesson 10 (lessons are numbered from 1) |
| `]` `[` | next / previous row of the batch |
| `tab` `shift+tab` | move focus between panes |
| `l` | show or hide the lesson list |
| `z` | zoom the pane in focus to the whole screen; `z` or `escape` shows all panes again, and so does changing lesson |
| `t` | the next tab of the panes (code, tensors, tokens…), with the focus in it |
| `e` | edit the text, or open a file |
| `s` | change batch size, context length, stride, seed, shuffle, batch |
| `m` | choose the model: untrained, trained in this session, or a weights file (open one, save one) |
| `↑` `↓` `pgup` `pgdn` `home` `end` | move along the token table (`▶` marks the row) |
| `enter` on a token | inspect that position: top-10 predictions (or click it twice) |
| `a` | answer this lesson's check (after a right answer: on to the next check); `h` shows the next hint |
| in the answer box | `enter` checks your answer, `F1` or the Hint button shows a hint, `escape` gives the lesson's keys back |
| `↓` `↑` `pgdn` `pgup` on the heatmap | select the next / previous token, the next / previous row |
| in the training lessons | `r` runs or pauses the training, `o` takes one overfitting step, `x` starts over, `u` makes every lesson use the model trained here (`m` saves it) |
| `g` | in the generation lesson: type the prompt, from anywhere (`escape` gives the lesson keys back) |
| in the Generate pane | `enter` edits the prompt and, in a field, generates; `r` pauses / resumes; `,` `.` the previous / next token's candidates; `↑` `↓` scroll; `escape` leaves a field |
| `f` | in a workshop: go to the lesson the instructor suggests |
| `ctrl+p` | command palette: go to lesson …, start over, theme … |
| `?` | this help; `escape` closes it |
| `q` | quit (your place is saved) |

## Reading the tables

Spaces in tokens show as `·`, newlines as `↵`, tabs as `⇥`. A prediction that matches its
target is marked ✓, one that does not ✗.

Lessons, batches and batch rows are counted from 1 ("lesson 1 of 10", "batch row 1 of 2"); where code is
shown, tensor indices count from 0 as Python does (`inputs[0]` is batch row 1).

## The lesson list

`▶` the lesson you are on · `✓` all its checks answered right · `•` visited.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="close-help"),
        Binding("question_mark", "dismiss", "Close", key_display="?", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(to_ascii(HELP) if shows_ascii_only(self) else HELP)
        yield Footer()

    def action_dismiss(self) -> None:
        self.dismiss(None)
