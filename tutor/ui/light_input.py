"""Key presses handed from the terminal to the app at a tenth of the memory.

Textual's driver reads the terminal in a thread and hands over every event with
`asyncio.run_coroutine_threadsafe`: a coroutine, a task and a thread-safe future each, 2.7 kB per key
while it waits its turn. Text pasted into a terminal without bracketed paste arrives as one key per
character, read far faster than the editor takes them: 200 kB of it waited as 200,000 keys and took the
interface to 630 MB. Here each event is one callback on the event loop instead (0.4 kB with the key), in
the same order, and `App.post_message` runs on the loop as before."""

from __future__ import annotations

from textual.driver import Driver
from textual.message import Message


def with_light_input(driver_class: type[Driver]) -> type[Driver]:
    """`driver_class` with events handed to the app as one loop callback each."""

    class LightInputDriver(driver_class):
        def send_message(self, message: Message) -> None:
            self._loop.call_soon_threadsafe(self._app.post_message, message)

    LightInputDriver.__name__ = LightInputDriver.__qualname__ = f"LightInput{driver_class.__name__}"
    return LightInputDriver
