"""The instruments Foley can play: General MIDI program, playable range and how a player moves.

The family decides how motion becomes notes (a pianist's fingertips strike keys, a cellist's bow changes
direction); the range keeps generated pitches inside what the instrument can actually sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from .errors import InputError

FAMILIES = ("keys", "accordion", "plucked", "bowed", "woodwind", "brass", "mallets")


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int  # General MIDI program, 0-based as in pretty_midi and FluidSynth
    family: str
    lowest: int  # lowest playable MIDI pitch
    highest: int  # highest playable MIDI pitch
    max_polyphony: int  # notes that can sound at once for one performer
    gm_name: str

    def clamp_pitch(self, pitch: int) -> int:
        """Fold a pitch by octaves into the playable range (keeps the pitch class, unlike clipping)."""
        while pitch < self.lowest:
            pitch += 12
        while pitch > self.highest:
            pitch -= 12
        return max(self.lowest, min(self.highest, pitch))


_TABLE = [
    # name, program, family, lowest, highest, polyphony, GM name
    ("piano", 0, "keys", 21, 108, 10, "Acoustic Grand Piano"),
    ("organ", 19, "keys", 36, 96, 10, "Church Organ"),
    ("accordion", 21, "accordion", 53, 89, 6, "Accordion"),
    ("guitar", 24, "plucked", 40, 84, 6, "Acoustic Guitar (nylon)"),
    ("ukulele", 24, "plucked", 60, 81, 4, "Acoustic Guitar (nylon), ukulele range"),
    ("electric-guitar", 27, "plucked", 40, 86, 6, "Electric Guitar (clean)"),
    ("bass", 33, "plucked", 28, 67, 2, "Electric Bass (finger)"),
    ("harp", 46, "plucked", 24, 103, 8, "Orchestral Harp"),
    ("violin", 40, "bowed", 55, 103, 2, "Violin"),
    ("viola", 41, "bowed", 48, 88, 2, "Viola"),
    ("cello", 42, "bowed", 36, 76, 2, "Cello"),
    ("double-bass", 43, "bowed", 28, 67, 2, "Contrabass"),
    ("flute", 73, "woodwind", 60, 96, 1, "Flute"),
    ("clarinet", 71, "woodwind", 50, 91, 1, "Clarinet"),
    ("oboe", 68, "woodwind", 58, 91, 1, "Oboe"),
    ("bassoon", 70, "woodwind", 34, 75, 1, "Bassoon"),
    ("saxophone", 65, "woodwind", 49, 81, 1, "Alto Sax"),
    ("trumpet", 56, "brass", 54, 82, 1, "Trumpet"),
    ("trombone", 57, "brass", 40, 72, 1, "Trombone"),
    ("french-horn", 60, "brass", 34, 77, 1, "French Horn"),
    ("tuba", 58, "brass", 28, 65, 1, "Tuba"),
    ("xylophone", 13, "mallets", 65, 108, 2, "Xylophone"),
    ("marimba", 12, "mallets", 45, 96, 2, "Marimba"),
]

INSTRUMENTS: dict[str, Instrument] = {
    row[0]: Instrument(name=row[0], program=row[1], family=row[2], lowest=row[3], highest=row[4],
                       max_polyphony=row[5], gm_name=row[6])
    for row in _TABLE
}


def get_instrument(name: str) -> Instrument:
    """Look an instrument up by name (case-insensitive); a clear error lists the known names."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    try:
        return INSTRUMENTS[key]
    except KeyError:
        raise InputError(f"unknown instrument {name!r}; choose one of: {', '.join(INSTRUMENTS)}") from None


#: What `--instrument` and the adapters accept: one instrument for everyone, or one per performer.
InstrumentChoice = Union[str, Instrument, Sequence[Union[str, Instrument]]]


def parse_instruments(choice: InstrumentChoice) -> tuple[Instrument, ...]:
    """One instrument for every performer ("cello"), or one per performer, left to right ("violin,guitar").

    A comma-separated string and a sequence mean the same; an empty name is an error, not a skipped player.
    """
    if isinstance(choice, Instrument):
        return (choice,)
    names = choice.split(",") if isinstance(choice, str) else list(choice)
    if not names or any(isinstance(name, str) and not name.strip() for name in names):
        raise InputError(f"instrument list {choice!r} has an empty name; give e.g. 'violin' or 'violin,guitar'")
    return tuple(name if isinstance(name, Instrument) else get_instrument(name) for name in names)


def instruments_for(choice: tuple[Instrument, ...], performers: int) -> list[Instrument]:
    """Each performer's instrument: one for all, or exactly one per performer (a different count is an error,
    so that a player nobody asked for, or one the tracker missed, is never given the wrong part silently)."""
    if len(choice) == 1:
        return [choice[0]] * performers
    if len(choice) != performers:
        raise InputError(
            f"{len(choice)} instruments given ({','.join(i.name for i in choice)}) for {performers} performer(s) "
            "seen, left to right; give one instrument for all or one per performer")
    return list(choice)
