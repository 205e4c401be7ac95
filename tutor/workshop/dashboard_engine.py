"""One line on the room's shared engine: running (its process and memory) or being started again, and how many
times it has been; or why it would not start."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.core.formatting import counted, safe_to_draw
from tutor.workshop.dashboard_facts import EngineFacts, Memory


def megabytes(kilobytes: int) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def memory_words(memory: Memory | None) -> str:
    if memory is None:
        return "memory unknown"
    return f"memory {megabytes(memory.rss_kb)} resident, {megabytes(memory.pss_kb)} proportional (PSS)"


def engine_words(facts: EngineFacts) -> str:
    if facts.refused is not None:
        return f"Engine: stopped: {safe_to_draw(facts.refused)}"
    restarted = f"restarted {counted(facts.restarts, 'time')}"
    if facts.pid is None:
        return f"Engine: starting again (it stopped: see the log) · {restarted}"
    return f"Engine: running, process {facts.pid} · {restarted} · {memory_words(facts.memory)}"


class EngineLine(Static):
    def __init__(self, **kwargs):
        super().__init__("Engine: …", markup=False, **kwargs)

    def show(self, facts: EngineFacts) -> None:
        self.update(Text(engine_words(facts)))
