"""The training and generation labs as the app sees them: what each has been told so far by the engine, whether
it is running, and why it stopped. Plain data, no Textual: `tutor/ui/lab_runner.py` changes it as answers
arrive, and the lab panes draw it.

A lab runs by asking the engine for one slice of work after another (tutor/core/jobs.py): pausing is not
asking again, and a slice being computed when the learner pauses is still shown when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OVERFIT, TEXT_RUN, GENERATE = "overfit", "text-run", "generate"
LAB_KINDS = (OVERFIT, TEXT_RUN, GENERATE)
OVERFIT_TARGET_STEPS = 25  # `r` runs the overfitting to this many steps, as the issue measured


@dataclass
class Lab:
    kind: str
    running: bool = False  # another slice is asked for when this one is answered
    waiting: bool = False  # a slice is being computed (or waits in a shared engine's queue)
    queue_place: int | None = None  # what a shared engine says of the slice's place (0: computing)
    problem: str | None = None  # why it stopped, if not by finishing or by the learner
    latest: object | None = None  # the last answer: OverfitProgress, TextRunProgress or GenerationProgress
    started_from: str | None = None  # the model choice it started from
    target_steps: int = OVERFIT_TARGET_STEPS  # overfitting only
    steps: list = field(default_factory=list)  # generation only: every GenerationStep so far, in order
    tickets: int = 0  # counts slices asked for, so an answer to one the learner has moved past is ignored
    steps_to_take: int = 0  # overfitting: one-step presses made while a step was being computed, taken after it

    @property
    def started(self) -> bool:
        return self.latest is not None

    @property
    def finished(self) -> bool:
        return bool(getattr(self.latest, "finished", False))

    @property
    def state_words(self) -> str:
        """What the lab is doing, in a few words, for its pane's status line."""
        if self.waiting and self.queue_place:
            return f"waiting for the shared model: place {self.queue_place} in the queue…"
        if self.running:
            return "running…"
        if self.waiting:
            return "pausing after this step…"
        if self.problem:
            return f"stopped: {self.problem}"
        if self.finished:
            return "finished"
        return "paused" if self.started else "not started"


@dataclass
class Labs:
    overfit: Lab = field(default_factory=lambda: Lab(OVERFIT))
    text_run: Lab = field(default_factory=lambda: Lab(TEXT_RUN))
    generate: Lab = field(default_factory=lambda: Lab(GENERATE))
    # The lab (OVERFIT or TEXT_RUN) that last trained: the engine keeps one trained model per session, its model.
    trained_by: str | None = None

    def __getitem__(self, kind: str) -> Lab:
        return {OVERFIT: self.overfit, TEXT_RUN: self.text_run, GENERATE: self.generate}[kind]

    def running(self) -> Lab | None:
        return next((lab for lab in (self.overfit, self.text_run, self.generate) if lab.running or lab.waiting), None)
