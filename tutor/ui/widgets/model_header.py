"""Textual's header with the model whose numbers are on screen at its right, where the clock would be: the
lesson's title is cut short before the model's name is, so that it shows at 80 columns too."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Header
from textual.widgets._header import HeaderIcon, HeaderTitle

from tutor.core.model_choice import HEADER_WIDTH, header_words
from tutor.core.session import Session
from tutor.ui.typed_app import ReachesTutorApp, follow_session, shows_ascii_only
from tutor.ui.widgets.steady_static import SteadyStatic

ASCII_ICON = "="  # where Textual's header draws ⭘ (it opens the palette), which an ASCII terminal shows as "?"


class HeaderModel(SteadyStatic):
    DEFAULT_CSS = f"""
    HeaderModel {{
        dock: right;
        width: auto;
        max-width: {HEADER_WIDTH + 2};
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }}
    """


class ModelHeader(ReachesTutorApp, Header):
    def compose(self) -> ComposeResult:
        yield HeaderIcon().data_bind(Header.icon)
        yield HeaderTitle()
        yield HeaderModel(id="header-model", markup=False)

    def on_mount(self) -> None:
        if shows_ascii_only(self):
            self.icon = ASCII_ICON
        follow_session(self, self._show_model)
        self._show_model(self.tutor_app.session)

    def _show_model(self, session: Session) -> None:
        report = session.report
        words = header_words(report.model.name, ascii_only=shows_ascii_only(self)) if report is not None else ""
        self.query_one(HeaderModel).update(words)
