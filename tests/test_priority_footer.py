"""The footer's keys turn on and off where they are; only a key that comes or goes composes them again."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets._footer import FooterKey

from tutor.ui.widgets.priority_footer import PriorityFooter

ON, DIMMED, HIDDEN = True, None, False


class FooterApp(App[None]):
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("u", "use", "Use it"), Binding("g", "go", "Go")]

    def __init__(self) -> None:
        super().__init__()
        self.use_state: bool | None = DIMMED
        self.used = 0

    def compose(self) -> ComposeResult:
        yield PriorityFooter(("quit", "use"), compact=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.use_state if action == "use" else True

    def action_use(self) -> None:
        self.used += 1

    def set_use(self, state: bool | None) -> None:
        self.use_state = state
        self.refresh_bindings()


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.screen.query_one(PriorityFooter).wait_for_refresh()
    await pilot.pause()


def keys(app: App) -> dict[str, FooterKey]:
    return {key.key: key for key in app.screen.query(FooterKey)}


async def test_a_key_turned_on_or_off_changes_in_place_and_a_dimmed_key_does_nothing():
    app = FooterApp()
    async with app.run_test(size=(80, 4)) as pilot:
        await settle(pilot)
        before = keys(app)
        assert set(before) == {"q", "u", "g"} and before["u"].has_class("-disabled")
        await pilot.press("u")
        assert app.used == 0

        app.set_use(ON)
        await settle(pilot)
        after = keys(app)
        assert all(after[key] is before[key] for key in before)  # the same widgets: nothing composed again
        assert not after["u"].has_class("-disabled") and not after["u"]._disabled
        await pilot.press("u")
        assert app.used == 1

        app.set_use(DIMMED)
        await settle(pilot)
        assert keys(app)["u"] is before["u"] and before["u"].has_class("-disabled") and before["u"]._disabled


async def test_a_key_that_comes_or_goes_composes_the_keys_again():
    app = FooterApp()
    async with app.run_test(size=(80, 4)) as pilot:
        await settle(pilot)
        app.set_use(HIDDEN)
        await settle(pilot)
        assert set(keys(app)) == {"q", "g"}

        app.set_use(ON)
        await settle(pilot)
        shown = keys(app)
        assert set(shown) == {"q", "u", "g"} and not shown["u"].has_class("-disabled")
        assert all(key.display for key in shown.values())  # measured and fitted again: there is room for all
