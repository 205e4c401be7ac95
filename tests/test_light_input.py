"""Keys read from the terminal wait for the app in little memory: a paste typed key by key (no bracketed
paste) queues one key per character, 200,000 for 200 kB, faster than the editor takes them. Textual's own
hand-over cost 2.7 kB a key (a task and a thread-safe future each) and took the interface to 630 MB."""

from __future__ import annotations

import threading
import tracemalloc

from app_helpers import settle
from textual import events
from textual.driver import Driver

from tutor.ui.screens.lesson import LessonScreen

KEYS = 5_000


def terminal_driver(app) -> Driver:
    """The driver the app reads a real terminal with, without taking over this process's terminal."""
    driver_class = app.get_driver_class()
    driver = driver_class.__new__(driver_class)
    Driver.__init__(driver, app)
    return driver


async def test_keys_waiting_for_the_app_take_under_a_kilobyte_each(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        driver = terminal_driver(app)
        keys = [events.Key("f12", None) for _ in range(KEYS)]  # a key nothing is bound to
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            sender = threading.Thread(target=lambda: [driver.process_message(key) for key in keys])
            sender.start()
            sender.join()  # all sent, none handled yet: the event loop is here
            waiting, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await settle(pilot)  # every key handled
        assert isinstance(app.screen, LessonScreen)
    assert (waiting - before) / KEYS < 1_000


async def test_keys_from_the_terminal_arrive_in_order(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        driver = terminal_driver(app)
        sender = threading.Thread(
            target=lambda: [driver.process_message(events.Key(key, key)) for key in ("4", "n", "n", "p")]
        )
        sender.start()
        sender.join()
        await settle(pilot)
        assert app.lesson_index == 4  # "4" is lesson 4 (index 3), then next, next, previous
