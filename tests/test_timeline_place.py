"""`place_take`: a take made outside the timeline stage (the panel's chosen variation) placed as `foley timeline`
would place it — bundles included — and the refusals that keep IN and existing files safe."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from media import make_video
from timelines import clip, foley_tracks, media, timeline, video_track

from foley_engine import InputError, Note, OutputError, Performance, TimelineOptions, place_take, timeline_clips
from foley_engine.instruments import get_instrument

RATE = 48000


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("place") / "clip.mp4", seconds=3.0, rate=30)


def take(seconds: float) -> tuple[Performance, np.ndarray]:
    performance = Performance(get_instrument("piano"), seconds, [[Note(0.1, 0.3, 60, 80)]], generator="test")
    return performance, np.full((round(seconds * RATE), 2), 500, np.int16)


def edit(video: Path, path: Path) -> Path:
    shot = clip("Shot", media(video, seconds=3.0), 0.5, 24, 24)
    otio.adapters.write_to_file(timeline("Edit", video_track("V1", shot)), str(path))
    return path


def test_a_take_from_a_bundle_goes_into_a_bundle_with_its_media(video: Path, tmp_path: Path) -> None:
    """An .otioz's media live only in the bundle: listed from its unpacked copy, and carried into OUT's bundle."""
    source = tmp_path / "edit.otioz"
    otio.adapters.write_to_file(otio.adapters.read_from_file(str(edit(video, tmp_path / "plain.otio"))),
                                str(source))
    (shot,) = timeline_clips(source, tmp_path / "scratch")
    assert shot.status == "render" and shot.media.is_file() and tmp_path / "scratch" in shot.media.parents
    output = tmp_path / "out" / "edit.foley.otioz"
    written = place_take(source, output, shot.index, *take(1.2), TimelineOptions())  # longer than the clip: cut
    assert written["wav"].parent == output.parent and written["mid"].is_file()
    result = otio.adapters.read_from_file(str(output))
    (track,) = foley_tracks(result)
    assert [c.name for c in track.find_clips()] == ["Shot (Foley)"]
    with zipfile.ZipFile(output) as bundle:
        names = bundle.namelist()
    assert any(name.endswith("clip.mp4") for name in names) and any(name.endswith(".foley.wav") for name in names)


def test_refusals_leave_every_file_as_it_was(video: Path, tmp_path: Path) -> None:
    source = edit(video, tmp_path / "edit.otio")
    performance, audio = take(1.0)
    with pytest.raises(InputError, match="OUT must differ from IN"):
        place_take(source, source, 1, performance, audio)
    with pytest.raises(InputError, match="stems"):
        place_take(source, tmp_path / "out.otio", 1, performance, audio, TimelineOptions(stems=True))
    with pytest.raises(InputError, match="clip 2 of edit.otio is not a video clip to render"):
        place_take(source, tmp_path / "out.otio", 2, performance, audio)
    existing = tmp_path / "taken.otio"
    existing.write_text("mine")
    with pytest.raises(OutputError, match="output exists"):
        place_take(source, existing, 1, performance, audio)
    assert existing.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["edit.otio", "taken.otio"]
    written = place_take(source, existing, 1, performance, audio, force=True)
    assert written["timeline"] == existing and foley_tracks(otio.adapters.read_from_file(str(existing)))
