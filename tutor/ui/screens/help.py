"""The help screen: the keys and how the tutor works, as a Markdown modal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# loss-tutor help

Each lesson is one step of how a GPT model's training loss is computed. Every number you see is
computed live by a real (untrained) GPT-2-sized model on your text.

## Keys

| Key | What it does |
|---|---|
| `→` `n` `space` | next lesson |
| `←` `p` | previous lesson |
| `0`–`9` | jump to lesson by number |
| `]` `[` | next / previous row of the batch |
| `tab` `shift+tab` | move focus between panes |
| `l` | show or hide the lesson list |
| `e` | edit the text, or open a file |
| `s` | change batch size, context length, stride, seed, shuffle, batch |
| `↑` `↓` `pgup` `pgdn` `home` `end` | move along the token table (`▶` marks the row) |
| `enter` on a token | inspect that position: top-10 predictions (or click it twice) |
| `a` | answer this lesson's check; `h` shows the next hint |
| `f` | in a workshop: go to the lesson the instructor suggests |
| `ctrl+p` | command palette: go to lesson …, start over, theme … |
| `?` | this help; `escape` closes it |
| `q` | quit (your place is saved) |

## Reading the tables

Spaces in tokens show as `·`, newlines as `↵`, tabs as `⇥`. A prediction that matches its
target is marked ✓, one that does not ✗.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="close-help"),
        Binding("question_mark", "dismiss", "Close", key_display="?", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)
        yield Footer()

    def action_dismiss(self) -> None:
        self.dismiss(None)
