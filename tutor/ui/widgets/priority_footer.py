"""A footer that drops its least needed keys when the screen is too narrow for all of them, instead of cutting
off the last ones (Quit and Help) and drawing the palette's hint over what is left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.binding import ActiveBinding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

TRAILING_MARGIN = 1  # each key's width counts its right margin, which the last one shown needs no room for


class PriorityFooter(Footer):
    """`keep` lists action names (a group by its first key's), most needed first; keys not in it go first, then
    the listed ones from the end. Each key's width is measured once its footer is laid out, so a resize
    only shows and hides."""

    def __init__(self, keep: Sequence[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep = tuple(keep)
        self._widths: list[tuple[list[Widget], str, int]] | None = None  # each unit: its widgets, action, width
        self._keys_composed: tuple | None = None  # `_key_list` when the keys were last composed

    def on_mount(self) -> None:
        self.call_after_refresh(self._measure_and_fit)

    async def recompose(self) -> None:
        self._widths = None
        self._keys_composed = self._key_list(self.screen.active_bindings)
        await super().recompose()
        self.call_after_refresh(self._measure_and_fit)

    def bindings_changed(self, screen: Screen) -> None:
        """Textual's footer composes its keys again whenever one may have changed, and that lays the whole screen
        out twice (30-60 ms while a model trains). When the same keys are shown and only some turn on or off, this
        dims or brightens them where they are."""
        if self._keys_composed is None or screen is not self.screen or not self.is_attached:
            super().bindings_changed(screen)
        elif screen.app.app_focus:
            self.call_after_refresh(self._update_keys)

    async def _update_keys(self) -> None:
        if not self.is_attached:
            return
        active_bindings = self.screen.active_bindings  # asks every binding's `check_action`: once
        if self._key_list(active_bindings) != self._keys_composed:
            await self.recompose()
            return
        enabled = {(active.binding.key, active.binding.action): active.enabled for active in active_bindings.values()}
        for footer_key in self.query(FooterKey):
            disabled = not enabled.get((footer_key.key, footer_key.action), True)
            footer_key._disabled = disabled  # what a click on it does: ring the bell, or press the key
            footer_key.set_class(disabled, "-disabled")

    @staticmethod
    def _key_list(active_bindings: Mapping[str, ActiveBinding]) -> tuple:
        """What the footer's keys are and say, apart from which of them are enabled."""
        return tuple((key, active.binding.action, active.binding.description, active.binding.show,
                      active.binding.group, active.tooltip) for key, active in active_bindings.items())

    def on_resize(self) -> None:
        if self._widths is not None:
            self._fit()

    def _units(self) -> list[tuple[list[Widget], str]]:
        """The footer's children as what is shown or hidden together: a key, or a group of keys with its label."""
        units: list[tuple[list[Widget], str]] = []
        children = list(self.children)
        for index, child in enumerate(children):
            if isinstance(child, KeyGroup):
                keys = list(child.query(FooterKey))
                label = children[index + 1] if index + 1 < len(children) else None
                members: list[Widget] = [child, *keys]
                if isinstance(label, FooterLabel):
                    members.append(label)
                units.append((members, keys[0].action if keys else ""))
            elif isinstance(child, FooterKey):
                units.append(([child], child.action))
        return units

    def _measure_and_fit(self) -> None:
        if not self.is_attached:
            return
        measured = []
        for members, action in self._units():
            outer = [member for member in members if not isinstance(member, FooterKey) or member.parent is self]
            width = sum(member.outer_size.width + member.styles.margin.width for member in outer)
            measured.append((members, action, width))
        self._widths = measured
        self._fit()

    def _rank(self, action: str) -> int:
        name = action.partition("(")[0]  # "step(1)": the action's name, without its arguments
        names = {name, name.removeprefix("app."), name.removeprefix("screen.")}
        ranks = [self.keep.index(name) for name in names if name in self.keep]
        return min(ranks) if ranks else len(self.keep)

    def _fit(self) -> None:
        assert self._widths is not None
        room = self.size.width + TRAILING_MARGIN
        shown = set()
        for index in sorted(range(len(self._widths)), key=lambda index: self._rank(self._widths[index][1])):
            width = self._widths[index][2]
            if width <= room:
                shown.add(index)
                room -= width
            else:
                room = -1  # keys of lower rank stay hidden too, so the order on screen follows the ranking
        for index, (members, _action, _width) in enumerate(self._widths):
            for member in members:
                member.display = index in shown
