"""The room's shared engine: running (its process and memory) or being started again, and how many times it has
been, or why it would not start; and while it runs, a line on its queue: how many wait, whose request it computes
and for how long, how long the last computation took, how many requests it has answered."""

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


def seconds(value: float) -> str:
    return f"{value:,.1f} s"


def queue_words(facts: EngineFacts) -> str | None:
    """The engine's queue, as it said it; None while it is not running."""
    if facts.pid is None or facts.refused is not None:
        return None
    status = facts.status
    if status is None:
        return f"Queue: unknown: {safe_to_draw(facts.status_unavailable or 'it did not say')}"
    parts = [f"Queue: {len(status.waiting)} waiting" if status.waiting else "Queue: empty"]
    if not status.loaded:
        parts.append("loading the model")
    elif status.computing is not None:
        parts.append(f"computing for {facts.computing_for or 'a session'}, {seconds(status.computing.for_s)} so far")
    else:
        parts.append("idle")
    if status.last_compute_s is None:
        parts.append("nothing computed yet")
    else:
        parts.append(f"last took {seconds(status.last_compute_s)}")
    parts.append(f"{status.answered:,} answered, {status.from_cache:,} from cache")
    return " · ".join(parts)


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
        queue = queue_words(facts)
        self.update(Text(engine_words(facts) if queue is None else f"{engine_words(facts)}\n{queue}"))
