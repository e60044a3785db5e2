"""A picture of a timeline's tracks before and after `foley timeline`, drawn from the files themselves.

Reading both files back (rather than drawing from memory) makes the PNG evidence of the round trip: video
clips as boxes, the Foley clips below them with their WAV's envelope, the time axis in the timeline's timecode.
"""

from __future__ import annotations

import contextlib
import sys
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import opentimelineio as otio

from .plan import local_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes

VIDEO, AUDIO, FOLEY, OFF = "#4c78a8", "#72b7b2", "#f58518", "#bbbbbb"


def _rate(timeline: otio.schema.Timeline) -> float:
    """The timeline's frame rate, for timecode: its start time's, else its first non-empty track's."""
    if timeline.global_start_time is not None:
        return float(timeline.global_start_time.rate)
    return float(next((track.duration().rate for track in timeline.tracks if len(track)), 24.0))


def _envelope(url: str, bins: int) -> np.ndarray | None:
    path = local_path(url)
    if path is None or not Path(path).is_file():
        return None
    with wave.open(path) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).reshape(-1, wav.getnchannels())
    if len(samples) < bins:
        return None
    peaks = np.abs(samples.astype(np.int32)).max(axis=1)[: len(samples) // bins * bins].reshape(bins, -1).max(axis=1)
    loudest = peaks.max()
    return peaks / loudest if loudest > 32 else np.zeros(bins)  # each clip's own shape; silence stays flat


def _rows(timeline: otio.schema.Timeline) -> list[tuple[str, otio.schema.Track]]:
    """Editor order: the highest video track on top, audio tracks below the video."""
    video = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == "Video"]
    audio = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == "Audio"]
    return ([(f"V{i}", t) for i, t in reversed(list(enumerate(video, 1)))]
            + [(f"A{i}", t) for i, t in enumerate(audio, 1)])


def _draw(ax: Axes, timeline: otio.schema.Timeline, title: str) -> None:
    from matplotlib.patches import Rectangle

    rows = _rows(timeline)
    for row, (label, track) in enumerate(rows):
        y = len(rows) - 1 - row
        is_foley = "foley" in track.metadata
        for item, span in track.range_of_all_children().items():
            start, length = span.start_time.to_seconds(), span.duration.to_seconds()
            if isinstance(item, otio.schema.Transition):
                ax.plot([start, start + length], [y + 0.1, y + 0.9], color="black", lw=1)
                ax.plot([start, start + length], [y + 0.9, y + 0.1], color="black", lw=1)
                continue
            if isinstance(item, otio.schema.Gap):
                continue
            color = OFF if not item.enabled else FOLEY if is_foley else VIDEO if track.kind == "Video" else AUDIO
            if isinstance(item, otio.schema.Clip) and isinstance(item.media_reference, otio.schema.GeneratorReference):
                color = OFF
            ax.add_patch(Rectangle((start, y + 0.1), length, 0.8, facecolor=color, edgecolor="black", lw=0.6,
                                   hatch="//" if isinstance(item, otio.schema.Stack) else None, alpha=0.9))
            envelope = (_envelope(item.media_reference.target_url, 120)
                        if is_foley and isinstance(item.media_reference, otio.schema.ExternalReference) else None)
            if envelope is not None:
                xs = np.linspace(start, start + length, len(envelope))
                ax.fill_between(xs, y + 0.42 - 0.26 * envelope, y + 0.42 + 0.26 * envelope, color="white", lw=0)
            name = item.name.removesuffix(" (Foley)")
            ax.text(start + length / 2, y + (0.77 if envelope is not None else 0.5), name, ha="center",
                    va="center", fontsize=7, clip_on=True, color="black")
        name = track.name if track.name not in ("", label) else ""
        ax.text(-0.01, y + 0.5, f"{label} {name}"[:18], transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize=8)
    ax.set_ylim(0, max(1, len(rows)))
    ax.set_yticks([])
    ax.set_title(title, loc="left", fontsize=9)


def render_roundtrip(before: str | Path, after: str | Path, png: str | Path) -> Path:
    """Draw BEFORE's and AFTER's tracks one above the other on a shared timecode axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for --json: some adapters print banners
        timelines = [otio.adapters.read_from_file(str(path)) for path in (before, after)]
    rate = _rate(timelines[0])
    end = max(timeline.duration().to_seconds() for timeline in timelines)
    heights = [max(1, len(_rows(timeline))) for timeline in timelines]
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(10, 0.45 * sum(heights) + 1.6),
                             gridspec_kw={"height_ratios": heights})
    for ax, timeline, path, when in zip(axes, timelines, (before, after), ("before", "after"), strict=True):
        _draw(ax, timeline, f"{when}: {Path(path).name}  ({timeline.name}, {rate:g} fps)")
    from matplotlib.patches import Patch

    axes[-1].legend(handles=[Patch(color=VIDEO, label="video clip"), Patch(color=FOLEY, label="Foley clip (its WAV)"),
                             Patch(color=OFF, label="disabled / generator")],
                    loc="upper right", fontsize=7, ncols=3, frameon=False, bbox_to_anchor=(1, 1.16))
    axes[-1].set_xlim(0, end * 1.01)
    axes[-1].xaxis.set_major_formatter(FuncFormatter(
        lambda seconds, _: otio.opentime.to_timecode(otio.opentime.RationalTime.from_seconds(max(0, seconds), rate),
                                                     rate)))
    axes[-1].tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return Path(png)
