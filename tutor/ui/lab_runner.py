"""Runs the labs (tutor/core/lab.py) on the app's engine: one slice of work per request, in a thread worker, the
next asked for when the last is answered, until the lab finishes or the learner pauses it. Only one lab runs
at a time: starting one pauses the others. The event loop only changes the labs' state and publishes it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual.message import Message
from textual.signal import Signal
from textual.worker import get_current_worker

from tutor.core.answers import GenerationProgress, ModelMenu, OverfitProgress
from tutor.core.jobs import TRAINED, GenerateJob, Job, LoadWeightsJob, ModelsJob, OverfitJob, SaveTrainedJob, TextRunJob
from tutor.core.lab import OVERFIT, OVERFIT_TARGET_STEPS, TEXT_RUN, Lab, Labs
from tutor.core.protocol import EngineClosed, LearnerError, Request, RequestSuperseded
from tutor.core.training import TextRunSettings

if TYPE_CHECKING:
    from tutor.ui.app import TutorApp


@dataclass
class LabAnswered(Message):
    kind: str
    ticket: int
    answer: object


@dataclass
class LabFailed(Message):
    kind: str
    ticket: int
    reason: str
    superseded: bool = False


@dataclass
class MenuAnswered(Message):
    menu: ModelMenu | None
    problem: str | None
    ticket: int = 0  # which request of `LabRunner.refresh_menu` this answers
    quiet: bool = False  # asked in the background: a problem is not worth a notice


class LabRunner:
    def __init__(self, app: TutorApp):
        self.app = app
        self.labs = Labs()
        self.menu: ModelMenu | None = None
        self.menu_tickets = 0  # how many menu requests were made: each one's number is its ticket
        self.menu_answer: MenuAnswered | None = None  # the last one answered, with its problem if it failed
        # The model form on screen showed the learner the last answer (its problem, where it saved): told once, there.
        self.menu_answer_shown = False
        self.generation_job = GenerateJob()  # the settings of the next generation, as the learner set them
        self.text_run_epochs = 0  # 0: the run's default (TextRunSettings.epochs)
        self.changed: Signal[Labs] = Signal(app, "labs-changed")
        self._ready_to_train_asked = False

    # ----- what the panes ask for ---------------------------------------------------------------------

    def start(self, kind: str) -> None:
        """Begin `kind` again from the model in force (generation: from the prompt), and run it."""
        lab = self.labs[kind]
        self._pause_others(kind)
        lab.latest, lab.problem, lab.steps, lab.steps_to_take = None, None, [], 0
        lab.started_from = self.app.session.model
        lab.running = True
        self._ask(lab, self._first_job(kind))

    def resume(self, kind: str) -> None:
        lab = self.labs[kind]
        if not lab.started or lab.finished:
            self.start(kind)
            return
        self._pause_others(kind)
        lab.running, lab.problem, lab.steps_to_take = True, None, 0
        if not lab.waiting:
            self._ask(lab, self._next_job(lab))
        self._publish()

    def step_once(self) -> None:
        """One more overfitting step, then pause."""
        lab = self.labs.overfit
        if lab.waiting:
            if not lab.running:
                lab.steps_to_take += 1
            return
        self._pause_others(OVERFIT)
        lab.running, lab.problem = False, None
        first = not lab.started
        if first:
            lab.started_from = self.app.session.model
        self._ask(lab, OverfitJob(steps=1, restart=first))

    def pause(self, kind: str) -> None:
        lab = self.labs[kind]
        lab.running, lab.steps_to_take = False, 0
        self._publish()

    def cancel(self, kind: str) -> None:
        """Stop `kind` and forget it: the lab is as if never started (a slice still being computed is not shown
        when it arrives). What the engine trained stays on offer as the trained model until another run."""
        lab = self.labs[kind]
        lab.tickets += 1
        lab.running = lab.waiting = False
        lab.queue_place, lab.problem, lab.latest, lab.started_from, lab.steps = None, None, None, None, []
        lab.target_steps, lab.steps_to_take = OVERFIT_TARGET_STEPS, 0
        self._publish()

    def toggle(self, kind: str) -> None:
        lab = self.labs[kind]
        if lab.running:
            self.pause(kind)
        else:
            self.resume(kind)

    def _pause_others(self, kind: str) -> None:
        for other in (self.labs.overfit, self.labs.text_run, self.labs.generate):
            if other.kind != kind:
                other.running, other.steps_to_take = False, 0

    # ----- asking the engine ----------------------------------------------------------------------------

    def _first_job(self, kind: str) -> Job:
        if kind == OVERFIT:
            return OverfitJob(steps=1, restart=True)
        if kind == TEXT_RUN:
            return TextRunJob(restart=True, epochs=self.text_run_epochs or TextRunSettings().epochs)
        return replace(self.generation_job, restart=True)

    def _next_job(self, lab: Lab) -> Job | None:
        """The next slice of a running lab, or None once it is done."""
        if lab.kind == OVERFIT:
            done = lab.latest.steps[-1].step if isinstance(lab.latest, OverfitProgress) and lab.latest.steps else 0
            return OverfitJob(steps=1) if done < lab.target_steps else None
        if lab.finished:
            return None
        return TextRunJob() if lab.kind == TEXT_RUN else replace(self.generation_job, restart=False)

    def _ask(self, lab: Lab, job: Job | None) -> None:
        if job is None:
            lab.running = False
            self._publish()
            return
        lab.tickets += 1
        lab.waiting, lab.queue_place = True, None
        session = self.app.session
        model = lab.started_from if job_restarts(job) else session.model
        request = Request(text=session.text.text, settings=session.settings, source=session.source,
                          model=model or session.model, job=job)
        self.app.run_worker(lambda: self._compute(lab.kind, lab.tickets, request), thread=True, group="lab",
                            name=f"lab-{lab.kind}")
        self._publish()

    def _compute(self, kind: str, ticket: int, request: Request) -> None:
        worker = get_current_worker()
        try:
            answer = self.app.compute_on_an_engine(request, worker)
        except RequestSuperseded:
            message = LabFailed(kind, ticket, "the numbers of the lessons were recomputed meanwhile", superseded=True)
        except EngineClosed:
            return
        except LearnerError as error:
            message = LabFailed(kind, ticket, str(error))
        except Exception as error:  # the engine's own failure: shown, never a traceback
            message = LabFailed(kind, ticket, str(error))
        else:
            message = LabAnswered(kind, ticket, answer)
        if not worker.is_cancelled:
            self.app.post_message(message)

    def answered(self, message: LabAnswered) -> None:
        lab = self.labs[message.kind]
        if message.ticket != lab.tickets:
            return
        lab.waiting, lab.queue_place = False, None
        answer = message.answer
        if isinstance(answer, GenerationProgress):
            lab.steps.extend(answer.new_steps)
        lab.latest = answer
        if lab.kind in (OVERFIT, TEXT_RUN):
            self.labs.trained_by = lab.kind  # the engine's trained model is this lab's now
            if not trained_offered(self.menu):
                self.refresh_menu()  # a trained model is on offer now (the model form asks again when opened)
        if lab.running:
            self._ask(lab, self._next_job(lab))
        elif lab.steps_to_take:
            lab.steps_to_take -= 1
            self._ask(lab, OverfitJob(steps=1))
        else:
            self._publish()

    def failed(self, message: LabFailed) -> None:
        lab = self.labs[message.kind]
        if message.ticket != lab.tickets:
            return
        lab.waiting, lab.running, lab.queue_place, lab.steps_to_take = False, False, None, 0
        lab.problem = message.reason
        self._publish()

    def queued(self, place: int) -> None:
        """A shared engine says where the waiting lab's slice is in its queue (0: being computed)."""
        lab = self.labs.running()
        if lab is not None and lab.waiting:
            lab.queue_place = place
            self._publish()

    # ----- the models on offer ----------------------------------------------------------------------------

    def refresh_menu(self, job: Job | None = None, *, quiet: bool = False) -> int:
        """Ask the engine which models it offers (or to open or save a file, which answers the same). Returns
        the request's ticket: `menu_answer.ticket` once it is answered. `quiet`: asked in the background, so a
        problem is kept in `menu_answer` but not told."""
        session = self.app.session
        request = Request(text=session.text.text, settings=session.settings, source=session.source,
                          job=job or ModelsJob())
        self.menu_tickets += 1
        ticket = self.menu_tickets
        self.app.run_worker(lambda: self._ask_menu(request, ticket, quiet), thread=True, group="menu")
        return ticket

    def get_ready_to_train(self) -> None:
        """Once: ask the engine for the models on offer (whether the text may be trained on), getting ready to
        train on the way."""
        if not self._ready_to_train_asked:
            self._ready_to_train_asked = True
            self.refresh_menu(ModelsJob(get_ready_to_train=True), quiet=True)

    def open_weights(self, path: str) -> int:
        return self.refresh_menu(LoadWeightsJob(path=path))

    def save_trained(self, path: str) -> int:
        return self.refresh_menu(SaveTrainedJob(path=path))

    def _ask_menu(self, request: Request, ticket: int, quiet: bool) -> None:
        worker = get_current_worker()
        try:
            menu, problem = self.app.compute_on_an_engine(request, worker), None
        except EngineClosed:
            return
        except Exception as error:  # a learner's error (no such file) or the engine's: shown, never a traceback
            menu, problem = None, str(error)
        if problem is None and not isinstance(menu, ModelMenu):
            menu, problem = None, "the model process did not answer with the models it offers"
        if not worker.is_cancelled:
            self.app.post_message(MenuAnswered(menu, problem, ticket, quiet))

    def menu_answered(self, message: MenuAnswered) -> None:
        self.menu_answer, self.menu_answer_shown = message, False
        if message.menu is not None:
            self.menu = message.menu
        self._publish()

    def _publish(self) -> None:
        self.changed.publish(self.labs)


def job_restarts(job: Job) -> bool:
    return bool(getattr(job, "restart", False))


def trained_offered(menu: ModelMenu | None) -> bool:
    return menu is not None and menu.option(TRAINED) is not None
