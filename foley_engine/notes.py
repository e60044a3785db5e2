"""Notes, the currency between note generation, MIDI writing and synthesis.

Times are seconds from the start of the generated range (0 = the clip's first frame used), so the MIDI and
the WAV both start exactly where the clip starts on a timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .instruments import Instrument


@dataclass(frozen=True, order=True)
class Note:
    start: float
    end: float
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch {self.pitch} outside MIDI range 0-127")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} outside MIDI range 1-127")
        if not self.end > self.start >= 0:
            raise ValueError(f"note must have 0 <= start < end, got {self.start}..{self.end}")


def onset_groups(notes: Iterable[Note], window: float = 0.03) -> list[list[Note]]:
    """Notes grouped by their onsets, sorted: a note starting at most `window` seconds after its group's first
    note joins that group (a chord's notes; onsets heard together)."""
    groups: list[list[Note]] = []
    for note in sorted(notes):
        if groups and note.start - groups[-1][0].start <= window:
            groups[-1].append(note)
        else:
            groups.append([note])
    return groups


@dataclass
class Performance:
    """What one generator produced for a clip: one note track per performer, performers left to right.

    Every performer plays `instrument` unless `track_instruments` gives each its own (a duet of violin and
    guitar); then `instrument` is the first performer's.
    """

    instrument: Instrument
    duration: float  # seconds; the length of the rendered audio
    tracks: list[list[Note]] = field(default_factory=list)  # tracks[p] = notes of performer p, sorted
    generator: str = ""  # e.g. "baseline:motion-onset" or "model:<checkpoint id>"
    track_instruments: list[Instrument] = field(default_factory=list)  # empty, or one per track

    def __post_init__(self) -> None:
        if self.track_instruments and len(self.track_instruments) != len(self.tracks):
            raise ValueError(f"{len(self.track_instruments)} instruments for {len(self.tracks)} tracks")

    def instrument_of(self, performer: int) -> Instrument:
        """The instrument performer `performer` (0-based, left to right) plays."""
        return self.track_instruments[performer] if self.track_instruments else self.instrument

    def solo(self, performer: int) -> Performance:
        """Performer `performer` alone, on their own instrument: what their stem renders, so a stem sounds
        exactly like that player's part of the mix (`synth.render_stems`)."""
        return Performance(instrument=self.instrument_of(performer), duration=self.duration,
                           tracks=[self.tracks[performer]], generator=self.generator)

    @property
    def instruments(self) -> list[Instrument]:
        """Every instrument that sounds, each once, in performer order."""
        return list(dict.fromkeys(self.track_instruments or [self.instrument]))

    @property
    def notes(self) -> list[Note]:
        """All performers' notes, sorted by start time."""
        return sorted(note for track in self.tracks for note in track)
