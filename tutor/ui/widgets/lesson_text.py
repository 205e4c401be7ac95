"""A lesson's Markdown drawn as one widget, so changing lesson repaints it instead of mounting a widget per block."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Heading, Markdown
from rich.segment import Segment
from rich.theme import Theme
from textual.widget import Widget

# Rich's Markdown looks its styles up by these names; each is drawn with one of our tcss component classes.
STYLE_COMPONENTS = {
    "markdown.h1": "lesson-text--h1",
    "markdown.h2": "lesson-text--h2",
    "markdown.h3": "lesson-text--h3",
    "markdown.h4": "lesson-text--h3",
    "markdown.h5": "lesson-text--h3",
    "markdown.h6": "lesson-text--h3",
    "markdown.code": "lesson-text--code",
    "markdown.code_block": "lesson-text--code",
    "markdown.block_quote": "lesson-text--quote",
    "markdown.list": "lesson-text--bullet",
    "markdown.item.bullet": "lesson-text--bullet",
    "markdown.item.number": "lesson-text--bullet",
    "markdown.link": "lesson-text--link",
    "markdown.link_url": "lesson-text--link",
    "markdown.hr": "lesson-text--rule",
    "markdown.table.border": "lesson-text--rule",
    "markdown.table.header": "lesson-text--h3",
    "markdown.kbd": "lesson-text--code",
}


class _LeftHeading(Heading):
    LEVEL_ALIGN = dict.fromkeys(Heading.LEVEL_ALIGN, "left")


class LessonMarkdown(Markdown):
    """Rich's Markdown with every heading set flush left, like the rest of the pane."""

    elements = {**Markdown.elements, "heading_open": _LeftHeading}


class ThemedMarkdown:
    """Markdown rendered under a theme of the widget's styles. The segments are kept for the last width:
    Textual renders once to measure the height and again to draw, and both get the same lines."""

    def __init__(self, source: str, theme: Theme, code_theme: str):
        self.markdown = LessonMarkdown(source, code_theme=code_theme, hyperlinks=False)
        self.theme = theme
        self._width: int | None = None
        self._segments: list[Segment] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._width != options.max_width:
            with console.use_theme(self.theme):
                self._segments = list(console.render(self.markdown, options))
            self._width = options.max_width
        yield from self._segments


class LessonText(Widget):
    """The explanation's Markdown, with this run's numbers already filled in."""

    COMPONENT_CLASSES = set(STYLE_COMPONENTS.values())

    def __init__(self, source: str = "", **kwargs):
        super().__init__(**kwargs)
        self._source = source
        self._theme: Theme | None = None
        self._renderable: ThemedMarkdown | None = None

    @property
    def source(self) -> str:
        return self._source

    def update(self, source: str) -> None:
        if source != self._source:
            self._source = source
            self._renderable = None
            self.refresh(layout=True)

    def on_mount(self) -> None:
        # Only a new theme changes the colours the Markdown is drawn in. (Restyling on every
        # notify_style_update redrew it at each focus change nearby.)
        self.watch(self.app, "theme", self._restyle, init=False)

    def _restyle(self) -> None:
        self._theme = None
        self._renderable = None
        self.refresh(layout=True)

    def _markdown_theme(self) -> Theme:
        if self._theme is None:
            self._theme = Theme(
                {name: self.get_component_rich_style(component, partial=True) for name, component in STYLE_COMPONENTS.items()}
            )
        return self._theme

    def render(self) -> ThemedMarkdown:
        if self._renderable is None:
            code_theme = "monokai" if self.app.current_theme.dark else "default"
            self._renderable = ThemedMarkdown(self._source, self._markdown_theme(), code_theme)
        return self._renderable
