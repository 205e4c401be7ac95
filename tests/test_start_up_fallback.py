"""The start-up step back from saved progress that no longer fits: batch 0, then the defaults, then the
sample story; never what was asked for on the command line."""

from dataclasses import replace

from tutor.core.settings import Settings
from tutor.core.startup import start_up_fallback

REASON = "batch number 6000 does not exist: this text makes 12 batches (numbered 0 to 11)"
SAVED = Settings(batch_size=4, context_length=16, stride=8, batch_index=6000)


def steps(settings, *, asked_for=None, saved_text=True):
    """Every fallback in turn, as if each retry failed too."""
    taken = []
    while (fallback := start_up_fallback(settings, REASON, asked_for=asked_for or {}, saved_text=saved_text)):
        taken.append(fallback)
        settings = fallback.settings
        saved_text = saved_text and not fallback.use_sample_text
    return taken


def test_a_saved_batch_number_is_reset_first_keeping_the_other_settings():
    fallback = start_up_fallback(SAVED, REASON, asked_for={}, saved_text=False)
    assert fallback.settings == replace(SAVED, batch_index=0)
    assert not fallback.use_sample_text
    assert fallback.notice == (
        f"your saved settings do not fit this text ({REASON}); showing batch 0 instead of batch 6,000"
    )


def test_then_the_defaults_then_the_sample_story_then_nothing():
    taken = steps(SAVED)
    assert [(f.settings, f.use_sample_text) for f in taken] == [
        (replace(SAVED, batch_index=0), False),
        (Settings(), False),
        (Settings(), True),
    ]
    assert taken[1].notice.endswith("; using the default settings instead")
    assert taken[2].notice == f"your saved text does not fit these settings ({REASON}); using the sample story instead"


def test_the_sample_story_or_a_text_from_the_command_line_is_never_replaced():
    assert [f.settings for f in steps(SAVED, saved_text=False)] == [replace(SAVED, batch_index=0), Settings()]
    assert steps(Settings(), saved_text=False) == []


def test_settings_asked_for_on_the_command_line_are_kept():
    asked = {"batch_index": 6000, "context_length": 16}
    taken = steps(SAVED, asked_for=asked, saved_text=False)
    assert [f.settings for f in taken] == [Settings(context_length=16, batch_index=6000)]
    assert steps(Settings.from_dict({**Settings().to_dict(), **asked}), asked_for=asked, saved_text=False) == []
