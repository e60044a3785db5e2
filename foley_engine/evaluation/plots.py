"""Piano rolls: notes as a picture, for the evaluation reports and for checking output by eye.

Kept apart from midi.py (files in and out) so that writing MIDI never needs matplotlib, which is imported
only when a roll is drawn: it is slow to load, and only pictures need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..notes import Note, Performance
from ..outputs import atomic_path

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

    tracks: Sequence[Sequence[Note]]
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
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png")
    return path


def _boxes(track: Sequence[Note]) -> list[list[tuple[float, float]]]:
    """One rectangle per note, a semitone tall, centred on the pitch."""
    return [[(n.start, n.pitch - 0.4), (n.end, n.pitch - 0.4), (n.end, n.pitch + 0.4), (n.start, n.pitch + 0.4)]
            for n in track]
