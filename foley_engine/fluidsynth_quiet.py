"""Import pyfluidsynth once with stdout silenced, before anything else imports it.

pyfluidsynth (also imported by pretty_midi) prints where it found libfluidsynth on stdout when $CI is set, and
stdout carries the CLI's JSON (stderr its one-line errors). Importing it here first, silenced, keeps every
later import silent; a missing library is reported by synth.require_fluidsynth when audio is actually needed.
The modules that import pretty_midi or fluidsynth import this module first. It is not done in the package's
`__init__`, so that importing the package (the `foley` command's first step) costs nothing a Ctrl-C could
interrupt inside native code.
"""

from __future__ import annotations

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()):
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        pass
