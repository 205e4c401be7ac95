"""What the three lab panes (overfit, train on the text, generate) share: the lab they draw, and drawing again only
when `app.labs` publishes a change that alters what they show."""

from __future__ import annotations

from typing import ClassVar

from textual.containers import Vertical

from tutor.core.lab import Lab, Labs
from tutor.ui.typed_app import ReachesTutorApp


class LabPane(ReachesTutorApp, Vertical, can_focus=True):
    """Focusable, so that `tab` or a click and then `z` show it on the whole screen. A subclass names its lab in
    `LAB_KIND` and draws it in `_draw`, which compares what it would show with `_drawn` (None: draw anew)."""

    LAB_KIND: ClassVar[str]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._drawn: tuple | None = None

    @property
    def lab(self) -> Lab:
        return self.tutor_app.labs.labs[self.LAB_KIND]

    def on_mount(self) -> None:
        self.tutor_app.labs.changed.subscribe(self, self._labs_changed)
        self._draw()

    def _labs_changed(self, labs: Labs) -> None:
        self._draw()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None  # the component styles may have changed with the theme

    def _draw(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} draws its lab")
