"""What every engine does with a request (tutor/lm/engine_work.py): the model it names, and the jobs that train,
generate and open files, a slice at a time, with what each session trained kept apart."""

from __future__ import annotations

import pytest
from tiny_gpt import tiny_gpt

from tutor.core.answers import GenerationProgress, ModelMenu, OverfitProgress
from tutor.core.jobs import (
    TRAINED,
    UNTRAINED,
    GenerateJob,
    LoadWeightsJob,
    ModelsJob,
    OverfitJob,
    SaveTrainedJob,
    TextRunJob,
    file_choice,
)
from tutor.core.protocol import Request
from tutor.core.report import Report
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.core.training import TextRunProgress
from tutor.lm.engine_work import EngineModels, NotAllowed, SessionWork, answer


@pytest.fixture(autouse=True)
def tiny_untrained_model(monkeypatch):
    model = tiny_gpt(seed=3, emb_dim=8).requires_grad_(False)
    model.seed = 3
    monkeypatch.setattr("tutor.lm.engine_work.default_model", lambda: model)
    return model


def request(job=None, model=UNTRAINED, text=None) -> Request:
    kwargs = {"job": job} if job is not None else {}
    return Request(text=text or sample_text(), settings=Settings(), source="sample story", model=model, **kwargs)


def test_a_report_names_the_model_it_was_computed_with(tiny_untrained_model):
    report = answer(request(), EngineModels(), SessionWork(), bug_lab=False)
    assert isinstance(report, Report)
    assert report.model.choice == UNTRAINED and report.model.name == "untrained (seed 3)"


def test_overfitting_trains_a_copy_and_offers_it_as_the_trained_model(tiny_untrained_model):
    models, work = EngineModels(), SessionWork()
    before = tiny_untrained_model.tok_emb.weight.clone()
    with pytest.raises(ValueError, match="no model has been trained"):
        answer(request(model=TRAINED), models, work, bug_lab=False)
    first = answer(request(OverfitJob(steps=1, restart=True)), models, work, bug_lab=False)
    assert isinstance(first, OverfitProgress)
    assert [result.step for result in first.steps] == [0, 1]
    later = answer(request(OverfitJob(steps=20)), models, work, bug_lab=False)
    assert [result.step for result in later.steps] == list(range(22))
    assert later.steps[-1].eval_loss < later.steps[0].eval_loss
    assert later.report.model.choice == TRAINED and "21 steps" in later.report.model.name
    assert later.report.loss_pytorch == pytest.approx(later.steps[-1].eval_loss, rel=1e-4)
    assert tiny_untrained_model.tok_emb.weight.equal(before)  # the shared untrained model is never trained

    trained_report = answer(request(model=TRAINED), models, work, bug_lab=False)
    assert trained_report.loss_pytorch == pytest.approx(later.report.loss_pytorch)
    menu = answer(request(ModelsJob()), models, work)
    assert isinstance(menu, ModelMenu) and [option.choice for option in menu.options] == [UNTRAINED, TRAINED]
    # another session has trained nothing
    with pytest.raises(ValueError, match="no model has been trained"):
        answer(request(model=TRAINED), models, SessionWork(), bug_lab=False)


def test_a_job_that_goes_on_needs_one_that_started():
    for job in (OverfitJob(steps=1), TextRunJob(), GenerateJob()):
        with pytest.raises(ValueError, match="start again"):
            answer(request(job), EngineModels(), SessionWork())


def test_the_run_on_the_text_goes_on_a_slice_at_a_time_until_it_finishes():
    models, work = EngineModels(), SessionWork()
    progress = answer(request(TextRunJob(restart=True, epochs=1, seconds=0.05)), models, work)
    assert isinstance(progress, TextRunProgress) and not progress.finished
    for _ in range(1000):
        if progress.finished:
            break
        progress = answer(request(TextRunJob(seconds=0.05)), models, work)
    assert progress.finished and progress.step == progress.total_steps
    assert progress.train_losses and progress.val_losses
    assert answer(request(model=TRAINED), models, work, bug_lab=False).model.choice == TRAINED


def test_a_shared_engine_runs_one_text_run_at_a_time_and_keeps_few_trained_models():
    models = EngineModels(may_open_files=False, max_trained=1)
    first, second = SessionWork(), SessionWork()
    answer(request(TextRunJob(restart=True, seconds=0.05)), models, first)
    with pytest.raises(ValueError, match="one at a time"):
        answer(request(TextRunJob(restart=True, seconds=0.05)), models, second)
    answer(request(OverfitJob(steps=1, restart=True)), models, second, bug_lab=False)  # overfitting is allowed
    with pytest.raises(ValueError, match="let go to make room"):  # only one trained model is kept
        answer(request(model=TRAINED), models, first, bug_lab=False)
    answer(request(TextRunJob(restart=True, seconds=0.05)), models, second)  # the place is free again


def test_training_on_the_text_can_be_off():
    with pytest.raises(NotAllowed, match="off"):
        answer(request(TextRunJob(restart=True)), EngineModels(may_train_on_text=False), SessionWork())


def test_generation_streams_in_slices_until_the_new_tokens_are_drawn():
    models, work = EngineModels(), SessionWork()
    job = GenerateJob(restart=True, prompt="Every effort moves you", max_new_tokens=12, seconds=0.05)
    progress = answer(request(job), models, work)
    steps = list(progress.new_steps)
    while not progress.finished:
        progress = answer(request(GenerateJob(seconds=0.05)), models, work)
        steps.extend(progress.new_steps)
    assert isinstance(progress, GenerationProgress)
    assert len(steps) == progress.token_count == 12
    assert [step.index for step in steps] == list(range(12))


BEGIN_GENERATING = GenerateJob(restart=True, prompt="Every effort moves you", max_new_tokens=200, seconds=0.01)
GO_ON_GENERATING = GenerateJob(seconds=0.01)


def test_a_generation_paused_on_the_trained_model_does_not_go_on_once_that_model_trains_on():
    models, work = EngineModels(), SessionWork()
    answer(request(OverfitJob(steps=1, restart=True)), models, work, bug_lab=False)
    begun = answer(request(BEGIN_GENERATING, model=TRAINED), models, work)
    went_on = answer(request(GO_ON_GENERATING), models, work)  # it goes on while the model stays as it was
    assert went_on.token_count > begun.token_count and not went_on.finished

    answer(request(OverfitJob(steps=1)), models, work, bug_lab=False)  # the weights its cache came from change
    with pytest.raises(ValueError, match="trained on since this text was begun"):
        answer(request(GO_ON_GENERATING), models, work)
    answer(request(BEGIN_GENERATING, model=TRAINED), models, work)
    answer(request(GO_ON_GENERATING), models, work)  # begun again, it goes on


def test_a_generation_with_another_model_goes_on_while_the_trained_model_trains():
    models, work = EngineModels(), SessionWork()
    answer(request(OverfitJob(steps=1, restart=True)), models, work, bug_lab=False)
    begun = answer(request(BEGIN_GENERATING, model=UNTRAINED), models, work)
    answer(request(OverfitJob(steps=1)), models, work, bug_lab=False)
    assert answer(request(GO_ON_GENERATING), models, work).token_count > begun.token_count


def test_a_saved_trained_model_is_reopened_as_a_file_model(tmp_path):
    models, work = EngineModels(), SessionWork()
    trained = answer(request(OverfitJob(steps=3, restart=True)), models, work, bug_lab=False)
    saved = answer(request(SaveTrainedJob(path=str(tmp_path / "mine.safetensors"))), models, work)
    assert saved.saved_to == str(tmp_path / "mine.safetensors")
    opened = answer(request(LoadWeightsJob(path=str(tmp_path / "mine.safetensors"))), models, work)
    assert opened.opened == file_choice("mine.safetensors")
    report = answer(request(model=opened.opened), models, work, bug_lab=False)
    assert report.model.choice == file_choice("mine.safetensors")
    assert report.loss_pytorch == pytest.approx(trained.report.loss_pytorch, rel=1e-5)


def test_a_shared_engine_opens_and_saves_no_files(tmp_path):
    models, work = EngineModels(may_open_files=False), SessionWork()
    with pytest.raises(NotAllowed):
        answer(request(LoadWeightsJob(path=str(tmp_path / "x.pth"))), models, work)
    answer(request(OverfitJob(steps=1, restart=True)), models, work, bug_lab=False)
    with pytest.raises(NotAllowed):
        answer(request(SaveTrainedJob(path=str(tmp_path / "x.safetensors"))), models, work)


def test_a_file_that_is_not_a_model_is_refused_with_its_reason(tmp_path):
    text_file = tmp_path / "notes.pth"
    text_file.write_text("not weights")
    with pytest.raises(ValueError, match="notes.pth"):
        answer(request(LoadWeightsJob(path=str(text_file))), EngineModels(), SessionWork())
