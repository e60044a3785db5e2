"""Foley: silent video of musicians -> MIDI notes with velocity -> audio aligned to the clip."""

import contextlib as _contextlib
import io as _io

__version__ = "0.1.0"

# pyfluidsynth (also imported by pretty_midi) prints where it found libfluidsynth on stdout when $CI is set,
# and stdout carries the CLI's JSON (stderr its one-line errors). Importing it once here, silenced, keeps every
# later import silent; a missing library is reported by synth.require_fluidsynth when audio is actually needed.
with _contextlib.redirect_stdout(_io.StringIO()):
    try:
        import fluidsynth as _fluidsynth  # noqa: F401
    except (ImportError, OSError):
        pass
