"""The model `loss-tutor train` and `loss-tutor generate` start from: the untrained one, or a weights file's."""

from __future__ import annotations

from tutor.cli import UsageError, weights_file
from tutor.core.jobs import untrained_name


def load_model(weights: str | None):
    """The model and its name: the tutor's untrained model, or the one in the weights file `weights` names (a
    missing file, said as every command says it, or one that is not a model, is a `UsageError` saying why)."""
    if weights is None:
        from tutor.lm.walkthrough import default_model

        model = default_model()
        return model, untrained_name(getattr(model, "seed", None))
    file = weights_file(weights)
    from tutor.lm.weight_files import WeightsFileError, read_weights_file

    try:
        loaded = read_weights_file(file)
    except WeightsFileError as error:
        raise UsageError(str(error)) from None
    return loaded.model, loaded.label
