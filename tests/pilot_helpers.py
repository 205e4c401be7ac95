"""Shared steps for pilot and snapshot tests."""

from __future__ import annotations

from tutor.ui.screenshots import settle

__all__ = ["settle", "press_and_settle"]


async def press_and_settle(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
