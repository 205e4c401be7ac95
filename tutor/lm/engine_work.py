"""What an engine does with a request: the model it names, and the job it asks for (tutor/core/jobs.py).

`EngineModels` is what one engine process offers: the tutor's untrained model, the weights files it was given
or (the learner's own engine only) was asked to open, each loaded once and memory-mapped where the format
allows, so that every session of a shared engine uses the same pages. `SessionWork` is what the engine keeps
for one session between its requests: the model it trained, and the continuation it is generating. Training and
generation advance a slice at a time (about `job.seconds`) so that a shared engine can serve others between.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tutor.core.answers import GenerationProgress, ModelMenu, ModelOption, OverfitProgress
from tutor.core.formatting import safe_to_draw
from tutor.core.generation import GenerationSettings, GenerationStep
from tutor.core.jobs import (
    OVERFIT_WORDS,
    TEXT_RUN_WORDS,
    TRAINED,
    UNTRAINED,
    GenerateJob,
    LoadWeightsJob,
    ModelsJob,
    OverfitJob,
    ReportJob,
    SaveTrainedJob,
    TextRunJob,
    file_choice,
    file_label,
    trained_name,
    untrained_name,
    weights_label,
)
from tutor.core.protocol import Request
from tutor.lm import walkthrough
from tutor.lm.compute import check_fits, compute_report
from tutor.lm.model import GPTModel

Checkpoint = Callable[[], None]


def default_model() -> GPTModel:
    """The tutor's untrained model (tutor.lm.walkthrough's, looked up when asked for)."""
    return walkthrough.default_model()
TEXT_RUN_IDLE_S = 120.0  # a paused run on the text stops holding a shared engine's one place after this long
CONFIG_KEYS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers", "drop_rate", "qkv_bias")


class NotAllowed(ValueError):
    """The engine does not do this for this session (a shared engine opening a file, say): the learner is told."""


@dataclass
class _Trained:
    """The model this session trained, and the run that trains it further."""

    run: object  # tutor.lm.training.OverfitRun or TextRun
    kind: str  # "overfit" or "text-run"
    source_choice: str  # the model it started from
    source_name: str
    results: list = field(default_factory=list)  # an overfit run's OverfitStepResult, step 0 first

    @property
    def model(self) -> GPTModel:
        return self.run.model


@dataclass
class _Continuation:
    prompt: str
    prompt_ids: list[int]
    steps: Iterator[GenerationStep]
    model: GPTModel  # its KV cache holds keys and values this model's weights computed
    model_name: str
    max_new_tokens: int
    token_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class SessionWork:
    """What an engine keeps for one session between its requests."""

    trained: _Trained | None = None
    continuation: _Continuation | None = None
    dropped: bool = False  # its trained model was let go to make room for other sessions' (a shared engine)
    continuation_lost: str | None = None  # why the paused generation cannot go on, if something ended it

    def train_on(self) -> None:
        """The trained model is about to change: a generation paused on it cannot go on with a cache of keys and
        values its earlier weights computed."""
        if self.continuation is not None and self.trained is not None and self.continuation.model is self.trained.model:
            self.continuation = None
            self.continuation_lost = "the model was trained on since this text was begun: start again"


class EngineModels:
    """The models an engine offers. `files` maps a label to a weights file (a shared engine's instructor's
    files, or the learner's `--weights`); `may_open_files` lets sessions open more (the learner's own engine)."""

    def __init__(self, files: dict[str, Path] | None = None, *, may_open_files: bool = True,
                 may_train_on_text: bool = True, max_trained: int | None = None):
        self._files = dict(files or {})
        self._loaded: dict[str, object] = {}  # label -> tutor.lm.weight_files.LoadedWeights
        self.may_open_files = may_open_files
        self.may_train_on_text = may_train_on_text
        # A trained 124M model with its optimizer holds about 2 GB: a shared engine keeps this many, the most
        # recently trained, and lets the others go (their sessions are told). None: no limit (one learner).
        self.max_trained = max_trained
        self._training: list[SessionWork] = []  # sessions holding a trained model, least recently trained first
        self._text_run: tuple[SessionWork, float] | None = None  # whose run on the text goes on, and when it last did

    def keep_trained(self, work: SessionWork, trained: _Trained) -> None:
        """`work` has a new trained model; past `max_trained`, the least recently trained session's is let go."""
        if work.trained is not None and work.trained.kind == "text-run":
            self.release_text_run(work)
        work.trained, work.dropped = trained, False
        self._training = [other for other in self._training if other is not work] + [work]
        while self.max_trained is not None and len(self._training) > self.max_trained:
            oldest = self._training.pop(0)
            if oldest.trained is not None and oldest.trained.kind == "text-run":
                self.release_text_run(oldest)
            oldest.trained, oldest.dropped = None, True

    def forget(self, work: SessionWork) -> None:
        """The session has gone: its trained model and its place in the run on the text go too."""
        self.release_text_run(work)
        self._training = [other for other in self._training if other is not work]
        work.trained = work.continuation = None

    def claim_text_run(self, work: SessionWork) -> None:
        """One run on the text at a time in a shared engine: `ValueError` if another session's is going on (a run
        left alone for TEXT_RUN_IDLE_S no longer counts)."""
        now = time.monotonic()
        if self._text_run is not None and self._text_run[0] is not work and self.max_trained is not None:
            if now - self._text_run[1] < TEXT_RUN_IDLE_S:
                raise ValueError("another participant's training run on the text is going on, and the room's "
                                 "engine runs one at a time: try again in a few minutes (overfitting a batch works now)")
            self.release_text_run(self._text_run[0])
        self._text_run = (work, now)

    def release_text_run(self, work: SessionWork) -> None:
        if self._text_run is not None and self._text_run[0] is work:
            self._text_run = None

    def load_all(self) -> list[str]:
        """Open every file now (a shared engine does, at start, so the first participant to choose one waits for
        nothing). A file that is not a model is no longer offered; returns a line saying why for each."""
        problems = []
        for label in list(self._files):
            try:
                self._weights(label)
            except ValueError as error:  # WeightsFileError
                del self._files[label]
                problems.append(f"--weights {label}: not offered: {error}")
        return problems

    def model(self, choice: str, work: SessionWork) -> GPTModel:
        """The model `choice` names, ready for a forward pass in eval mode; `ValueError` for the learner if there
        is no such model here."""
        if choice == UNTRAINED:
            return default_model()
        if choice == TRAINED:
            if work.trained is None and work.dropped:
                raise ValueError(f"your trained model was let go to make room: the shared engine keeps "
                                 f"{self.max_trained} trained models at a time; train again")
            if work.trained is None:
                raise ValueError("no model has been trained in this session yet: overfit a batch or train on the text")
            return work.trained.model.eval()
        label = file_label(choice)
        if label is None or label not in self._files:
            raise ValueError(f"no model called {safe_to_draw(choice)!r} is offered here")
        return self._weights(label).model

    def _weights(self, label: str):
        if label not in self._loaded:
            from tutor.lm.weight_files import read_weights_file

            loaded = read_weights_file(self._files[label])
            loaded.model.choice = file_choice(label)
            loaded.model.display_name = label
            self._loaded[label] = loaded
        return self._loaded[label]

    def open_file(self, path: str) -> str:
        """Load the weights file at `path` and offer it; its choice. Only the learner's own engine does this."""
        if not self.may_open_files:
            raise NotAllowed("this engine opens no files: choose among the models offered")
        from tutor.lm.weight_files import read_weights_file

        file = Path(path).expanduser()
        loaded = read_weights_file(file)
        label = weights_label(file, self._files)
        self._files[label] = file
        loaded.model.choice = file_choice(label)
        loaded.model.display_name = label
        self._loaded[label] = loaded
        return file_choice(label)


    def menu(self, work: SessionWork, **extra) -> ModelMenu:
        untrained = default_model()
        options = [ModelOption(UNTRAINED, untrained_name(getattr(untrained, "seed", None)), "untrained",
                               _parameter_count(untrained), _config_of(untrained))]
        if work.trained is not None:
            model = work.trained.model
            options.append(ModelOption(TRAINED, model.display_name, "trained", _parameter_count(model),
                                       _config_of(model)))
        for label in self._files:
            loaded = self._loaded.get(label)
            options.append(ModelOption(
                file_choice(label), label, loaded.kind if loaded else "weights file",
                loaded.parameter_count if loaded else None, tuple(loaded.config.items()) if loaded else (),
            ))
        return ModelMenu(tuple(options), self.may_open_files, self.may_train_on_text, **extra)


def _parameter_count(model: GPTModel) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def _config_of(model: GPTModel) -> tuple[tuple[str, object], ...]:
    from tutor.lm.report_builder import model_card

    card = model_card(model)
    return tuple((key, getattr(card, key)) for key in CONFIG_KEYS)


def answer(request: Request, models: EngineModels, work: SessionWork, *, checkpoint: Checkpoint | None = None,
           bug_lab: bool = True):
    """The answer to `request`: a `Report` for a report job, else the job's own answer (tutor/core/answers.py).
    `ValueError` (and `NotAllowed`) say what the learner can change."""
    job = request.job
    if isinstance(job, ReportJob):
        model = models.model(request.model, work)
        return compute_report(request, bug_lab=bug_lab, checkpoint=checkpoint, model=model)
    if isinstance(job, ModelsJob):
        if job.get_ready_to_train:
            from tutor.lm.training import get_ready_to_train

            get_ready_to_train()
        return models.menu(work)
    if isinstance(job, LoadWeightsJob):
        return models.menu(work, opened=models.open_file(job.path))
    if isinstance(job, SaveTrainedJob):
        return models.menu(work, saved_to=_save_trained(models, work, job.path))
    if isinstance(job, GenerateJob):
        return _generate(request, job, models, work, checkpoint)
    if isinstance(job, OverfitJob):
        return _overfit(request, job, models, work, checkpoint, bug_lab)
    if isinstance(job, TextRunJob):
        return _text_run(request, job, models, work, checkpoint)
    raise ValueError(f"unknown job {job.kind!r}")


def _save_trained(models: EngineModels, work: SessionWork, path: str) -> str:
    if not models.may_open_files:
        raise NotAllowed("this engine saves no files")
    if work.trained is None:
        raise ValueError("no model has been trained in this session yet: there is nothing to save")
    from tutor.lm.weight_files import save_weights

    file = Path(path).expanduser()
    save_weights(work.trained.model, file, note=work.trained.model.display_name)
    return str(file)


def _generate(request: Request, job: GenerateJob, models: EngineModels, work: SessionWork,
              checkpoint: Checkpoint | None) -> GenerationProgress:
    from tutor.lm.generation import generation_steps
    from tutor.lm.tokenizer import encode

    if job.restart or work.continuation is None:
        if not job.restart:
            raise ValueError(work.continuation_lost or "nothing is being generated: start again")
        work.continuation_lost = None
        model = models.model(request.model, work)
        settings = GenerationSettings(
            max_new_tokens=job.max_new_tokens, temperature=job.temperature, top_k=job.top_k or None,
            seed=job.seed, kv_cache=job.kv_cache,
        )
        settings.check()
        prompt_ids = encode(job.prompt)
        if not prompt_ids:
            raise ValueError("the prompt has no tokens")
        name = _name_of(model)
        steps = generation_steps(model, prompt_ids, settings, checkpoint=checkpoint)
        work.continuation = _Continuation(job.prompt, prompt_ids, steps, model, name, settings.max_new_tokens)
    continuation = work.continuation
    new_steps: list[GenerationStep] = []
    started = time.perf_counter()
    finished = False
    while time.perf_counter() - started < job.seconds:
        try:
            step = next(continuation.steps, None)
        except BaseException:  # abandoned, or failed: that continuation cannot go on
            work.continuation = None
            raise
        if step is None:
            finished = True
            break
        new_steps.append(step)
        continuation.token_ids.append(step.token_id)
        if len(continuation.token_ids) >= continuation.max_new_tokens:
            finished = True
            break
    continuation.seconds += time.perf_counter() - started
    if finished:
        work.continuation = None
    from tutor.lm.tokenizer import decode

    return GenerationProgress(
        prompt=continuation.prompt,
        new_steps=tuple(new_steps),
        text=decode(continuation.token_ids),
        token_count=len(continuation.token_ids),
        finished=finished,
        model=continuation.model_name,
        seconds=continuation.seconds,
    )


def _overfit(request: Request, job: OverfitJob, models: EngineModels, work: SessionWork,
             checkpoint: Checkpoint | None, bug_lab: bool) -> OverfitProgress:
    """Steps of AdamW on the request's batch; the first (`restart`) starts from the request's model."""
    from tutor.lm.training import OverfitRun
    from tutor.lm.walkthrough import Walkthrough

    trained = work.trained
    if job.restart or trained is None or trained.kind != "overfit":
        if not job.restart:
            raise ValueError("nothing is being overfitted: start again")
        start = models.model(request.model, work)
        check_fits(start, request.settings.context_length)
        batch = Walkthrough(request.text, request.settings, start).batch
        run = OverfitRun(start, batch.inputs, batch.targets)
        models.keep_trained(work, _Trained(run, "overfit", request.model, _name_of(start), [run.measure()]))
        trained = work.trained
    work.train_on()
    for _ in range(job.steps):
        trained.results.append(trained.run.step(checkpoint))
    trained.model.choice = TRAINED
    trained.model.display_name = trained_name(len(trained.results) - 1, OVERFIT_WORDS, trained.source_name)
    shown = Request(request.text, request.settings, request.source, model=TRAINED)
    report = compute_report(shown, bug_lab=bug_lab, checkpoint=checkpoint, model=trained.model)
    return OverfitProgress(steps=tuple(trained.results), report=report)


def _text_run(request: Request, job: TextRunJob, models: EngineModels, work: SessionWork,
              checkpoint: Checkpoint | None):
    """The book's training run on the request's text, about `job.seconds` of it per request."""
    from tutor.core.training import TextRunSettings
    from tutor.lm.training import TextRun

    if not models.may_train_on_text:
        raise NotAllowed("training on the text is off in this workshop (the instructor can allow it); "
                         "overfitting one batch is on")
    trained = work.trained
    if job.restart or trained is None or trained.kind != "text-run":
        if not job.restart:
            raise ValueError("no training run is going on: start again")
        models.claim_text_run(work)
        start = models.model(request.model, work)
        run = TextRun(start, request.text, TextRunSettings(epochs=job.epochs))
        models.keep_trained(work, _Trained(run, "text-run", request.model, _name_of(start)))
        trained = work.trained
    models.claim_text_run(work)
    work.train_on()
    trained.run.run_for(job.seconds, checkpoint)
    progress = trained.run.progress()
    trained.model.choice = TRAINED
    trained.model.display_name = trained_name(progress.step, TEXT_RUN_WORDS, trained.source_name)
    if progress.finished:
        models.release_text_run(work)
    return progress


def _name_of(model: GPTModel) -> str:
    return getattr(model, "display_name", untrained_name(getattr(model, "seed", None)))
