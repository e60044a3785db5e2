"""Helpers to build OTIO timelines over real media and to check what `foley timeline` wrote."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

NTSC = 30000 / 1001
FILM = 24000 / 1001
PIANO_RATE = 30  # the shared piano clip
PIANO_SECONDS = 44.0
#: Stretches of the piano clip where both hands play; tests reuse them so the keypoint cache hits.
PLAYING = (12.0, 14.0)


def media(path: Path, rate: float = PIANO_RATE, seconds: float = PIANO_SECONDS, start_frame: float = 0,
          url: str | None = None) -> otio.schema.ExternalReference:
    """A reference with an available range, starting at `start_frame` (a start timecode) at the media's rate."""
    return otio.schema.ExternalReference(
        target_url=url or Path(path).resolve().as_uri(),
        available_range=TR(RT(start_frame, rate), RT(round(seconds * rate), rate)))


def clip(name: str, reference: otio.schema.ExternalReference, start: float, frames: int, rate: float,
         enabled: bool = True, metadata: dict | None = None) -> otio.schema.Clip:
    """A clip showing `frames` frames at the timeline `rate`, from `start` seconds into the media."""
    media_start = reference.available_range.start_time if reference.available_range else RT(0, rate)
    first = media_start.rescaled_to(rate) + RT(round(start * rate), rate)
    result = otio.schema.Clip(name=name, media_reference=copy.deepcopy(reference),
                              source_range=TR(first, RT(frames, rate)), metadata=metadata or {})
    result.enabled = enabled
    return result


def gap(frames: int, rate: float) -> otio.schema.Gap:
    return otio.schema.Gap(source_range=TR(RT(0, rate), RT(frames, rate)))


def timeline(name: str, *tracks: otio.schema.Track, rate: float = 24) -> otio.schema.Timeline:
    result = otio.schema.Timeline(name, global_start_time=RT(0, rate))
    for track in tracks:
        result.tracks.append(track)
    return result


def video_track(name: str, *items: otio.core.Composable) -> otio.schema.Track:
    track = otio.schema.Track(name, kind=otio.schema.TrackKind.Video)
    for item in items:
        track.append(item)
    return track


def placement(item: otio.core.Composable, timeline: otio.schema.Timeline) -> otio.opentime.TimeRange:
    """Where a (possibly nested) item sits on the timeline, hidden parts included."""
    return item.transformed_time_range(item.trimmed_range(), timeline.tracks)


def shown_range(item: otio.core.Composable, timeline: otio.schema.Timeline) -> otio.opentime.TimeRange:
    """The part of a clip that shows on the timeline: its placement cut by every enclosing compound clip's."""
    shown, parent = placement(item, timeline), item.parent()
    while parent is not None and parent is not timeline.tracks:
        outer = placement(parent, timeline)
        start = max(shown.start_time, outer.start_time)
        shown = TR(start, min(shown.end_time_exclusive(), outer.end_time_exclusive()) - start)
        parent = parent.parent()
    return shown


def foley_tracks(result: otio.schema.Timeline, name: str = "Foley") -> list[otio.schema.Track]:
    return [t for t in result.tracks if t.kind == otio.schema.TrackKind.Audio and t.name.startswith(name)]


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return data.reshape(-1, wav.getnchannels()), wav.getframerate()


def wav_path(reference: otio.schema.ExternalReference, base: Path | None = None) -> Path:
    path = Path(otio.url_utils.filepath_from_url(reference.target_url))
    return path if path.is_absolute() or base is None else base / path


def expected_samples(duration: otio.opentime.RationalTime) -> int:
    """Samples at 48 kHz from the exact rational rate (30000/1001, not 29.97)."""
    rate = Fraction(duration.rate).limit_denominator(1001)
    return round(Fraction(duration.value) * 48000 / rate)


def require_adapter(suffix: str) -> None:
    """Editor formats are the optional [formats] extra: skip without it, but CI installs it and must run these."""
    try:
        otio.adapters.from_filepath(f"x{suffix}")
    except otio.exceptions.NoKnownAdapterForExtensionError:
        message = f"no OpenTimelineIO adapter for {suffix} (pip install 'foley[formats]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)


def run_foley(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "foley_engine", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def summary_of(proc: subprocess.CompletedProcess) -> dict:
    """The `--json` summary: the last stdout line that is not a progress event."""
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("type") not in ("progress", "error")][-1]


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("foley: error: "), proc.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
