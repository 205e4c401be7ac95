"""The one path from a request to a report, used by the command line, every engine and the tests."""

from __future__ import annotations

from collections.abc import Callable

from tutor.core.protocol import Request
from tutor.core.report import Report
from tutor.lm.bug_lab import run_all
from tutor.lm.model import GPTModel
from tutor.lm.report_builder import build_report
from tutor.lm.walkthrough import Walkthrough, default_model, out_of_memory_reported

Checkpoint = Callable[[], None]


def compute_report(request: Request, *, bug_lab: bool = True, checkpoint: Checkpoint | None = None,
                   model: GPTModel | None = None) -> Report:
    """`bug_lab=False` skips the five deliberate mistakes, which only the app shows. Raises `ValueError`
    with a learner-readable reason for a request that cannot be computed. `model` defaults to the tutor's
    untrained one (the request's model choice is the engine's to resolve: tutor/lm/engine_work.py).

    `checkpoint` is called at safe points: before each transformer block and the output head, and between the
    later stages. It stops a computation nobody wants any more by raising; the model is left as it was."""
    if model is not None:
        check_fits(model, request.settings.context_length)
    walkthrough = Walkthrough(request.text, request.settings, model)
    if checkpoint is not None:
        _compute_stages(walkthrough, checkpoint)
    extras = {"bug_lab": run_all(walkthrough, checkpoint=checkpoint)} if bug_lab else {}
    if checkpoint is not None:
        checkpoint()
    return build_report(walkthrough, source=request.source, extras=extras)


def check_fits(model: GPTModel, context_length: int) -> None:
    """`ValueError` for the learner if the model takes fewer positions than the windows have."""
    longest = model.pos_emb.num_embeddings
    if context_length > longest:
        raise ValueError(
            f"this model takes at most {longest} positions (its position table has {longest} rows); "
            f"set the context length to {longest} or less"
        )


def _compute_stages(walkthrough: Walkthrough, checkpoint: Checkpoint) -> None:
    """Compute the costly stages one at a time, calling `checkpoint` at each safe point. The hooks only call
    it (the inputs go on unchanged) and are removed whatever happens."""
    model = walkthrough.model
    hooks = [module.register_forward_pre_hook(lambda _module, _inputs: checkpoint())
             for module in (*model.trf_blocks, model.out_head)]
    try:
        with out_of_memory_reported(walkthrough.settings):
            for stage in ("forward", "per_position", "loss"):
                checkpoint()
                getattr(walkthrough, stage)
        checkpoint()
    finally:
        for hook in hooks:
            hook.remove()


def warm_up() -> None:
    """Import torch and load the model, so the first real request is quick."""
    default_model()
