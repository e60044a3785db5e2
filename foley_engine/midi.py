"""Standard MIDI files in and out (pretty_midi); their piano-roll pictures are drawn by evaluation/plots.py.

Notes are written as they are, in seconds from the clip's first frame; the fixed tempo and resolution only
decide how finely ticks resolve those seconds.
"""

from __future__ import annotations

import io
from pathlib import Path

# isort: off
from . import fluidsynth_quiet  # noqa: F401  (before pretty_midi, which imports pyfluidsynth and prints)
import pretty_midi
# isort: on

from .errors import InputError
from .instruments import Instrument
from .notes import Note, Performance
from .outputs import atomic_output

#: 960 ticks per beat at 120 bpm: one tick is 0.52 ms, so a 10 ms grid and video frame times survive.
RESOLUTION = 960
TEMPO = 120.0

#: Text event at time 0 naming the note source ("keys:pixels", "model:…", "baseline:motion-onset").
GENERATOR_PREFIX = "foley generator: "
#: Text event placed at the clip's end, so the MIDI region is as long as the clip and the length survives.
END_MARKER = "end of clip"


def performance_to_midi(performance: Performance) -> pretty_midi.PrettyMIDI:
    """One MIDI instrument (track) per performer, left to right, each with its instrument's GM program; a
    drum-channel instrument's track is on the GM percussion channel (10), where its program names the kit."""
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=TEMPO)
    for index, track in enumerate(performance.tracks):
        instrument = performance.instrument_of(index)
        part = pretty_midi.Instrument(program=instrument.program, is_drum=instrument.drum,
                                      name=f"{instrument.name} · performer {index + 1}")
        part.notes = [pretty_midi.Note(velocity=note.velocity, pitch=note.pitch, start=note.start, end=note.end)
                      for note in sorted(track)]
        midi.instruments.append(part)
    if performance.generator:  # which source made the notes, for whoever opens the file later
        midi.text_events.append(pretty_midi.Text(f"{GENERATOR_PREFIX}{performance.generator}", 0.0))
    if performance.duration > 0:
        midi.text_events.append(pretty_midi.Text(END_MARKER, performance.duration))
    return midi


def write_midi(performance: Performance, path: str | Path) -> Path:
    """Write a Standard MIDI File to exactly `path`; on failure nothing is left there."""
    path = Path(path)
    buffer = io.BytesIO()
    performance_to_midi(performance).write(buffer)  # encode fully before touching the file
    with atomic_output(path, "MIDI file") as temp:
        temp.write_bytes(buffer.getvalue())
    return path


def _load(path: str | Path) -> pretty_midi.PrettyMIDI:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"MIDI file not found: {path}")
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # mido/pretty_midi raise many types (OSError, EOFError, ValueError, KeyError, ...)
        raise InputError(f"{path} is not a readable MIDI file ({type(error).__name__}: {error})") from error


def _tracks(midi: pretty_midi.PrettyMIDI, drums: bool = False) -> list[list[Note]]:
    """Notes per MIDI instrument: the pitched ones, or with `drums` the percussion-channel ones."""
    return [sorted(Note(note.start, note.end, note.pitch, note.velocity)
                   for note in part.notes if note.end > note.start and note.velocity > 0)
            for part in midi.instruments if part.is_drum == drums]


def read_notes(path: str | Path) -> list[list[Note]]:
    """Notes per pitched MIDI instrument (drums skipped), in file order; corrupt files raise InputError.

    A performer track without notes has nothing pretty_midi can see, so it is not returned.
    """
    return _tracks(_load(path))


def read_performance(path: str | Path, instrument: Instrument) -> Performance:
    """A MIDI file as a Performance of `instrument`; its duration is the file's end (clip end for ours).

    A drum-channel instrument reads the percussion tracks, any other the pitched ones."""
    midi = _load(path)
    return Performance(instrument=instrument, duration=midi.get_end_time(), tracks=_tracks(midi, instrument.drum),
                       generator=f"midi:{Path(path).name}")
