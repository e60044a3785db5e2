"""Standard MIDI files in and out (pretty_midi), and piano-roll pictures for checking output and eval reports.

Notes are written as they are, in seconds from the clip's first frame; the fixed tempo and resolution only
decide how finely ticks resolve those seconds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pretty_midi  # noqa: E402

from . import fluidsynth_quiet  # noqa: F401  (before pretty_midi, which imports pyfluidsynth)
from .errors import InputError, OutputError
from .instruments import Instrument
from .notes import Note, Performance

#: 960 ticks per beat at 120 bpm: one tick is 0.52 ms, so a 10 ms grid and video frame times survive.
RESOLUTION = 960
TEMPO = 120.0

#: Text event at time 0 naming the note source ("keys:pixels", "model:…", "baseline:motion-onset").
GENERATOR_PREFIX = "foley generator: "
#: Text event placed at the clip's end, so the MIDI region is as long as the clip and the length survives.
END_MARKER = "end of clip"


def performance_to_midi(performance: Performance) -> pretty_midi.PrettyMIDI:
    """One MIDI instrument (track) per performer, left to right, each with its instrument's GM program."""
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=TEMPO)
    for index, track in enumerate(performance.tracks):
        instrument = performance.instrument_of(index)
        part = pretty_midi.Instrument(program=instrument.program,
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
    try:
        path.write_bytes(buffer.getvalue())
    except OSError as error:
        path.unlink(missing_ok=True)
        raise OutputError(f"cannot write MIDI file {path}: {error.strerror or error}") from error
    return path


def _load(path: str | Path) -> pretty_midi.PrettyMIDI:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"MIDI file not found: {path}")
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # mido/pretty_midi raise many types (OSError, EOFError, ValueError, KeyError, ...)
        raise InputError(f"{path} is not a readable MIDI file ({type(error).__name__}: {error})") from error


def _tracks(midi: pretty_midi.PrettyMIDI) -> list[list[Note]]:
    return [sorted(Note(note.start, note.end, note.pitch, note.velocity)
                   for note in part.notes if note.end > note.start and note.velocity > 0)
            for part in midi.instruments if not part.is_drum]


def read_notes(path: str | Path) -> list[list[Note]]:
    """Notes per pitched MIDI instrument (drums skipped), in file order; corrupt files raise InputError.

    A performer track without notes has nothing pretty_midi can see, so it is not returned.
    """
    return _tracks(_load(path))


def read_performance(path: str | Path, instrument: Instrument) -> Performance:
    """A MIDI file as a Performance of `instrument`; its duration is the file's end (clip end for ours)."""
    midi = _load(path)
    return Performance(instrument=instrument, duration=midi.get_end_time(), tracks=_tracks(midi),
                       generator=f"midi:{Path(path).name}")


_TRACK_COLOURS = ("Blues", "Oranges", "Greens", "Purples", "Reds", "Greys")


def piano_roll_png(notes: Performance | Sequence[Sequence[Note]], path: str | Path,
                   duration: float | None = None, *, title: str = "",
                   ground_truth: Sequence[Sequence[Note]] | None = None) -> Path:
    """Draw notes as a piano roll: time on x, pitch on y, one colour family per performer, darker = louder.

    `ground_truth` tracks are drawn as black outlines over the filled notes, to compare a generator with the
    real performance. Writes a PNG to exactly `path`.
    """
    import matplotlib  # imported here: slow, and only plots need it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if isinstance(notes, Performance):
        duration = notes.duration if duration is None else duration
        tracks = notes.tracks
    else:
        tracks = notes
    truth = list(ground_truth or [])
    every = [note for track in [*tracks, *truth] for note in track]
    if duration is None:
        duration = max((note.end for note in every), default=1.0)
    low = min((note.pitch for note in every), default=60) - 2
    high = max((note.pitch for note in every), default=72) + 2

    figure = Figure(figsize=(min(24.0, max(8.0, 4.0 + duration * 0.3)), 5.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    loudness = Normalize(vmin=0, vmax=127)
    handles = []
    for index, track in enumerate(tracks):
        colours = matplotlib.colormaps[_TRACK_COLOURS[index % len(_TRACK_COLOURS)]]
        shades = [colours(0.35 + 0.65 * loudness(note.velocity)) for note in track]
        axes.add_collection(PolyCollection(_boxes(track), facecolors=shades, edgecolors="none"))
        handles.append(Patch(color=colours(0.8), label=f"performer {index + 1}"))
    for track in truth:
        axes.add_collection(PolyCollection(_boxes(track), facecolors="none", edgecolors="black", linewidths=0.7))
    if truth:
        handles.append(Patch(facecolor="none", edgecolor="black", label="ground truth"))

    axes.set_xlim(0, duration)
    axes.set_ylim(low, high)
    octave_cs = [pitch for pitch in range(low, high + 1) if pitch % 12 == 0]
    axes.set_yticks(octave_cs, [f"C{pitch // 12 - 1}" for pitch in octave_cs])
    axes.grid(axis="y", color="0.9", linewidth=0.5)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("pitch")
    axes.set_title(title)
    if handles:
        axes.legend(handles=handles, loc="upper right", fontsize="small")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png")
    return path


def _boxes(track: Sequence[Note]) -> list[list[tuple[float, float]]]:
    """One rectangle per note, a semitone tall, centred on the pitch."""
    return [[(n.start, n.pitch - 0.4), (n.end, n.pitch - 0.4), (n.end, n.pitch + 0.4), (n.start, n.pitch + 0.4)]
            for n in track]
