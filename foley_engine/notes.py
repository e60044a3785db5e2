"""Notes, the currency between note generation, MIDI writing and synthesis.

Times are seconds from the start of the generated range (0 = the clip's first frame used), so the MIDI and
the WAV both start exactly where the clip starts on a timeline.
"""

from __future__ import annotations

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


@dataclass
class Performance:
    """What one generator produced for a clip: one note track per performer, for one instrument."""

    instrument: Instrument
    duration: float  # seconds; the length of the rendered audio
    tracks: list[list[Note]] = field(default_factory=list)  # tracks[p] = notes of performer p, sorted
    generator: str = ""  # e.g. "baseline:motion-onset" or "model:<checkpoint id>"

    @property
    def notes(self) -> list[Note]:
        """All performers' notes, sorted by start time."""
        return sorted(note for track in self.tracks for note in track)
