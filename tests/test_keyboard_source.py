"""The keys source end to end on real footage: a keyboard in view is read, anything else falls back.

Scored on the shared top-down piano clip, whose MIDI was recorded from the instrument (offset from
docs/eval/piano-furelise-offset.json), at the best clock lag within +-0.1 s, with chance at the same note
density searched the same way (lags.py). The floors sit a little under what the source reaches, so a worse
detector fails here instead of passing on format checks alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from conftest import SHARED_MEDIA, require_shared

from foley_engine.evaluation.lags import LAG_STEP, chance_at_density
from foley_engine.evaluation.scoring import score
from foley_engine.midi import GENERATOR_PREFIX
from foley_engine.notes import Note

FOLEY = Path(sys.executable).parent / "foley"
#: MIDI time minus video time of the shared clip (docs/eval/piano-furelise-offset.json).
_OFFSET_FILE = Path(__file__).resolve().parents[1] / "docs/eval/piano-furelise-offset.json"
OFFSET = json.loads(_OFFSET_FILE.read_text())["offset_seconds"]
pytestmark = pytest.mark.real_media


def _best(reference: list[Note], estimated: list[Note]) -> tuple[float, float]:
    """Onset and note F1 at the best lag within +-0.1 s (LAG_STEP apart, as `foley eval` searches)."""
    result = score(reference, estimated, np.arange(-20, 21) * LAG_STEP)
    total = len(reference) + len(estimated)
    return (max(2 * m / total for m in result["onset_matches_offsets"]),
            max(2 * m / total for m in result["note_matches_offsets"]))


def read_keys(video: Path, tmp_path: Path, *args: str) -> dict:
    """`foley generate`'s JSON summary for `video` (more options in `args`), with a keypoint cache of its own (so
    the keyboard is searched on this range); the keys must have played."""
    run = subprocess.run([str(FOLEY), "generate", str(video), *args, "-o", str(tmp_path), "--json"],
                         capture_output=True, text=True, timeout=900,
                         env=os.environ | {"FOLEY_CACHE_DIR": str(tmp_path / "cache")})
    assert run.returncode == 0, run.stderr
    summary: dict = json.loads(run.stdout.splitlines()[-1])
    assert summary["source"] == "keys" and summary["generator"] == "keys:pixels", summary
    return summary


def scores(summary: dict, piano_midi: Path, first: float, last: float) -> tuple[float, float, float, float]:
    """Onset and note F1 of the MIDI `summary` wrote, for a clip that starts at `first` s of the shared recording
    and ends at `last`, at the best lag, then chance's at the same density searched the same way (10 draws)."""
    midi = pretty_midi.PrettyMIDI(summary["outputs"]["midi"])
    estimated = [Note(n.start, n.end, n.pitch, n.velocity) for part in midi.instruments for n in part.notes]
    truth = pretty_midi.PrettyMIDI(str(piano_midi))
    reference = [Note(max(0.0, n.start - OFFSET - first), min(n.end - OFFSET, last) - first, n.pitch, n.velocity)
                 for part in truth.instruments for n in part.notes if first <= n.start - OFFSET < last]
    onset_f1, note_f1 = _best(reference, estimated)
    chance = [_best(reference, chance_at_density(reference, len(estimated), last - first, seed)) for seed in range(10)]
    chance_onset, chance_note = np.mean(chance, axis=0)
    return onset_f1, note_f1, float(chance_onset), float(chance_note)


#: The stretches held to a floor (onset F1, note F1), a little under what they read today: 0.922 / 0.851 on 8-20 s, and
#: 0.837 / 0.779 on the whole played clip (first note to a second after the last, as `foley eval --real` takes it),
#: whose onset floor is the issue's target. Each run has a keypoint cache of its own, so the keyboard is searched on
#: its own range, not taken from another range of the recording read by earlier tests (which can sit 0.1 px off).
FLOORS = {(8.0, 20.0): (0.85, 0.8), (3.734, 41.807): (0.8, 0.72)}


@pytest.mark.parametrize("stretch", list(FLOORS), ids=["8-20s", "whole"])
def test_the_keys_are_read_off_a_real_keyboard(piano_video: Path, piano_midi: Path, tmp_path: Path,
                                               stretch: tuple[float, float]) -> None:
    summary = read_keys(piano_video, tmp_path, "--start", str(stretch[0]), "--end", str(stretch[1]), "--preview")
    assert (summary["keyboard"]["keys"], summary["keyboard"]["lowest"], summary["keyboard"]["highest"]) == (88, 21, 108)
    assert 64 in summary["keyboard"]["under_camera"]  # E4, right under the camera: its presses barely show
    midi = pretty_midi.PrettyMIDI(summary["outputs"]["midi"])
    assert any(event.text == f"{GENERATOR_PREFIX}keys:pixels" for event in midi.text_events)
    onset_f1, note_f1, chance_onset, chance_note = scores(summary, piano_midi, *stretch)
    onset_floor, note_floor = FLOORS[stretch]
    assert onset_f1 >= onset_floor and note_f1 >= note_floor, f"onset F1 {onset_f1:.3f}, note F1 {note_f1:.3f}"
    assert onset_f1 > chance_onset + 0.2 and note_f1 > chance_note + 0.3
    assert Path(summary["outputs"]["preview"]).stat().st_size > 0


def test_the_printed_summary_names_the_keys_in_line_with_the_camera(piano_video: Path, tmp_path: Path) -> None:
    """Without --json the user reads where notes are likely missing: the shared clip's camera is over C#4-F4."""
    run = subprocess.run([str(FOLEY), "generate", str(piano_video), "--start", "8", "--end", "10", "-o",
                          str(tmp_path), "--progress", "none"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "(keys:pixels)" in lines[0]
    assert lines[1] == ("  keys C#4-F4 are in line with the camera: a press there barely shows, so notes on them "
                        "may be missing")


def test_without_a_keyboard_the_model_plays_and_insisting_on_keys_is_one_clear_error(tmp_path: Path) -> None:
    violin = require_shared(SHARED_MEDIA / "violin-urmp" / "video.mp4")
    run = subprocess.run([str(FOLEY), "generate", str(violin), "--end", "3", "--instrument", "violin", "-o",
                          str(tmp_path / "auto"), "--json"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["source"] == "model" and summary["generator"].startswith("model:")
    assert summary["source_note"] == "no keyboard in view: notes from the performers' motion"
    assert "keyboard" not in summary
    keys = subprocess.run([str(FOLEY), "generate", str(violin), "--end", "3", "--source", "keys", "-o",
                           str(tmp_path / "keys")], capture_output=True, text=True, timeout=600)
    assert keys.returncode == 3
    assert keys.stderr.strip().splitlines() == [
        "foley: error: no keyboard found in video.mp4 between 0.00s and 3.00s (use --source auto or model to "
        "play from the performers' motion)"]
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").iterdir())


def test_a_short_range_between_sparse_keyframes_still_finds_the_keyboard(piano_video: Path) -> None:
    """The shared clip has a keyframe every 8.3 s: a 6 s range holds none of its own, so the frames are decoded
    (a user's short strip must not lose the keys to how the file was encoded)."""
    from foley_engine.sources.keys import MIN_KEYFRAMES, locate_keyboard
    from foley_engine.video import keyframes_near

    assert len(keyframes_near(piano_video, [10.5 + 0.25 * k for k in range(24)])) < MIN_KEYFRAMES
    geometry = locate_keyboard(piano_video, 10.0, 16.0)
    assert geometry is not None
    pitches = [key.pitch for key in geometry.keys]
    assert (len(pitches), min(pitches), max(pitches)) == (88, 21, 108)


def test_the_pose_workers_sample_the_keys_band_exactly_as_a_second_pass_would(piano_video: Path,
                                                                              tmp_path: Path) -> None:
    """The keys' band rows come from the frames the pose workers decode (no second pass over the video): the
    same numbers as decoding the range again, on every frame, cached beside the keypoints for the next run;
    with the settings the keys source asks for, the workers follow no body and run Hands on every other frame
    of this 30 fps clip, and the hands are still on every sample of the keypoints (interpolated)."""
    from foley_engine import video
    from foley_engine.keyboard.presses import band_rows, key_band
    from foley_engine.pose.extract import PoseSettings, extract
    from foley_engine.sources.keys import FRAME_SIZE, keys_pose_settings, locate_keyboard

    start, end = 10.0, 13.0
    geometry = locate_keyboard(piano_video, start, end)
    assert geometry is not None
    band = key_band(geometry)
    settings = keys_pose_settings(PoseSettings(), 30.0)
    assert (settings.bodies, settings.model_every) == (False, 2)
    keypoints, sampled = extract(piano_video, start, end, settings, cache_dir=tmp_path, band=band.sampler)
    decoded = band_rows(video.iter_frames(piano_video, start, end, FRAME_SIZE), band)
    assert sampled is not None and sampled.rows.shape == decoded.rows.shape == (90, band.sampler.width)
    np.testing.assert_array_equal(sampled.times, decoded.times)
    np.testing.assert_allclose(sampled.rows, decoded.rows, atol=1e-3)
    assert keypoints.num_frames == 90 and not keypoints.body[..., 2].any()
    tips_seen = (keypoints.hands[:, :, :, 8, 2] > 0).any(axis=(0, 2))  # an index fingertip, frame by frame
    assert tips_seen.mean() > 0.95
    _, cached = extract(piano_video, start, end, settings, cache_dir=tmp_path, band=band.sampler)
    assert cached is not None
    np.testing.assert_array_equal(cached.rows, sampled.rows)


def test_the_learned_model_is_loaded_only_when_no_keyboard_will_play(piano_video: Path) -> None:
    """Loading the checkpoint (and torch) is 2-3 s a run that a keyboard clip never uses; without a keyboard it
    is loaded before the pose stage, so a broken checkpoint still fails before the expensive part."""
    from foley_engine.instruments import get_instrument
    from foley_engine.options import GeneratorOptions
    from foley_engine.sources import open_sources
    from foley_engine.sources.motion import MotionSource

    violin = require_shared(SHARED_MEDIA / "violin-urmp" / "video.mp4")
    for clip, keyboard in ((piano_video, True), (violin, False)):
        sources = open_sources(GeneratorOptions())
        [motion] = [source for source in sources.tried if isinstance(source, MotionSource)]
        assert motion.sampling is None
        band = sources.prepare(clip, 10.0 if keyboard else 0.0, 16.0 if keyboard else 3.0,
                               (get_instrument("piano"),), lambda fraction, message: None)
        assert (band is not None) == keyboard
        assert (motion.sampling is None) == keyboard


def test_a_short_range_is_decoded_from_its_own_first_keyframe(piano_video: Path, monkeypatch) -> None:
    """8-20 s holds keyframes at 8.33 and 16.67 s, too few to search: frames are decoded from 8.33 s, not from
    8.0 s, which would first decode every frame since the keyframe at 0 s."""
    from foley_engine.sources import keys

    starts: list[float] = []
    iter_frames = keys.video.iter_frames

    def recording(path, start=0.0, end=None, max_size=640, **options):  # type: ignore[no-untyped-def]
        starts.append(start)
        return iter_frames(path, start, end, max_size, **options)

    monkeypatch.setattr(keys.video, "iter_frames", recording)
    assert keys.locate_keyboard(piano_video, 8.0, 20.0) is not None
    assert starts == [pytest.approx(8.333, abs=0.01)]
