"""Foley: silent video of musicians -> MIDI notes with velocity -> audio aligned to the clip."""

__version__ = "0.1.0"
