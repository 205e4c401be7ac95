"""What the app tries when its first computation fails because saved progress no longer fits.

Saved settings are checked on their own at start-up, but whether they fit the text is known only once the text
is tokenized: a saved batch number can outlive the text it was chosen for. The app must never sit without
numbers, so each such failure steps back once, with a notice: batch 0, then the default settings, then the
sample story (which the defaults always fit). Only what was saved is reset: what the learner asked for on the
command line stays, and if that is what does not fit, the failure is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tutor.core.settings import Settings


@dataclass(frozen=True)
class Fallback:
    settings: Settings
    use_sample_text: bool
    notice: str


def start_up_fallback(
    settings: Settings, reason: str, *, asked_for: Mapping[str, object], saved_text: bool
) -> Fallback | None:
    """What to compute after the start-up computation with `settings` failed with `reason` (a learner error),
    or None if nothing saved is left to reset. `asked_for`: the settings given on the command line.
    `saved_text`: the text was resumed from saved progress, not given on the command line or the sample."""
    if settings.batch_index != 0 and "batch_index" not in asked_for:
        return Fallback(
            replace(settings, batch_index=0), False,
            f"your saved settings do not fit this text ({reason}); "
            f"showing batch 0 instead of batch {settings.batch_index:,}",
        )
    defaults = Settings.from_dict({**Settings().to_dict(), **asked_for})
    if settings != defaults:
        return Fallback(
            defaults, False, f"your saved settings do not fit this text ({reason}); using the default settings instead"
        )
    if saved_text:
        return Fallback(
            defaults, True, f"your saved text does not fit these settings ({reason}); using the sample story instead"
        )
    return None
