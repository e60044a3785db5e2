"""Optional parts of the install: what `pip install foley` leaves out, and the one line that says how to add it.

A plain install carries what `foley generate`, `foley timeline` and `foley info` need. Making models
(`foley train`, the synthetic data behind it) and judging them (`foley eval`, `foley dataset`) need libraries
a user of the editors never does, so they come with the extras `foley[train]` and `foley[eval]`.
"""

from __future__ import annotations

from .errors import MissingExtraError

#: top-level module -> the extra that installs it
EXTRA_OF_MODULE = {
    "music21": "train",
    "mir_eval": "eval",
    "librosa": "eval",
    "resampy": "eval",
    "sklearn": "eval",
    "onnxruntime": "eval",
}


def missing_extra(error: BaseException) -> MissingExtraError | None:
    """The one-line error for an import that failed because an extra is not installed; None for any other."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    module = error.name.split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    return MissingExtraError(f"this command needs {module}, which a plain install leaves out: "
                             f"pip install 'foley[{extra}]'")
