"""Video<->MIDI offset estimation: a hand-made pianist with a known offset, error cases, and the real clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foley_engine.data.alignment import align, departure_envelope, keyboard_estimate, strike_envelope
from foley_engine.errors import InputError
from foley_engine.keypoints import Keypoints
from foley_engine.midi import read_notes
from foley_engine.notes import Note
from foley_engine.pose.extract import PoseSettings
from foley_engine.skeleton import FINGERTIPS, HAND_INDEX

RATE = 30.0
#: Pose settings for the real clip: the lite hand model at 384 px halves the tracking time, and the offset
#: found is the same as with the defaults (15.998 vs 16.004 s).
FAST_POSE = PoseSettings(max_size=384, model_complexity=0)
#: MIDI time = video time + offset on the shared piano clip; found by hand too (the left hand leaves each
#: key right after the MIDI releases it at this offset) and by an independent analysis (16.0 +- 0.1).
PIANO_OFFSET = 16.0


def melody(seed: int, seconds: float, first: float = 0.5) -> list[Note]:
    """Notes with irregular gaps and random pitches, so no offset but the true one lines everything up."""
    rng = np.random.default_rng(seed)
    notes, t = [], first
    while t < seconds - 1.0:
        length = float(rng.uniform(0.2, 0.5))
        notes.append(Note(t, t + length, int(rng.integers(48, 80)), int(rng.integers(40, 110))))
        t += length + float(rng.uniform(0.1, 0.6))
    return notes


def pianist(notes: list[Note], seconds: float, shift_seconds: float = 0.15) -> Keypoints:
    """One right hand, seen from above: it sits over each note's key while the note sounds, leaves right
    after the release (reaching the next key within `shift_seconds`); the index finger drops onto the key in
    the last 0.1 s before each onset, holds it down and lifts during the 0.1 s after the release."""
    frames = int(seconds * RATE)
    t = np.arange(frames) / RATE
    x = np.full(frames, 0.3 + 0.01 * (notes[0].pitch - 48))
    press = np.zeros(frames)
    for previous, note in zip([None, *notes], notes, strict=False):
        target = 0.3 + 0.01 * (note.pitch - 48)
        if previous is not None:
            origin = 0.3 + 0.01 * (previous.pitch - 48)
            moving = (t >= previous.end) & (t < note.start)
            progress = np.clip((t - previous.end) / shift_seconds, 0, 1)
            x[moving] = origin + (target - origin) * progress[moving]
        x[(t >= note.start) & (t < note.end)] = target
        press += np.clip(1 - (note.start - t) / 0.1, 0, 1) * (t <= note.start)
        press += ((t > note.start) & (t <= note.end)) + np.clip(1 - (t - note.end) / 0.1, 0, 1) * (t > note.end)
    hands = np.zeros((1, frames, 2, 21, 3), np.float32)
    rng = np.random.default_rng(0)
    layout = rng.uniform(-0.04, 0.04, (21, 2))
    layout[HAND_INDEX["wrist"]] = 0.0
    layout[HAND_INDEX["middle_mcp"]] = (0.0, -0.08)
    for joint in range(21):
        hands[0, :, 1, joint, 0] = x + layout[joint, 0]
        hands[0, :, 1, joint, 1] = 0.7 + layout[joint, 1]
    hands[0, :, 1, FINGERTIPS[1], 1] += 0.03 * press
    hands[0, :, 1, :, :2] += rng.normal(0, 0.0005, (frames, 21, 2))
    hands[0, :, 1, :, 2] = 1.0
    return Keypoints(RATE, 0.0, np.zeros((1, frames, 25, 3), np.float32), hands, (1280, 720))


def shifted(notes: list[Note], offset: float) -> list[Note]:
    return [Note(n.start + offset, n.end + offset, n.pitch, n.velocity) for n in notes]


@pytest.mark.parametrize("offset", [7.3, -4.55, 21.0])
def test_every_cue_finds_a_known_offset(offset: float) -> None:
    notes = melody(1, 40.0, first=5.0)  # MIDI time stays >= 0 for the negative offset
    result = align(pianist(notes, 40.0), shifted(notes, offset), keyboard=True, search=30.0)
    for name in ("strikes", "departures"):
        estimate = result.estimates[name]
        assert estimate.offset == pytest.approx(offset, abs=1.5 / RATE), name
        assert estimate.confidence > 1.3, name
    # The keyboard cue is coarse by design (a hand waits over its key), but lands within its bias.
    assert result.estimates["keyboard"].offset == pytest.approx(offset, abs=0.3)
    assert result.offset == pytest.approx(offset, abs=1.5 / RATE)
    assert result.method in ("strikes", "departures")
    assert set(result.agreement) == {"departures-keyboard", "departures-strikes", "keyboard-strikes"}


def test_report_is_plain_json_with_the_convention() -> None:
    notes = melody(2, 30.0)
    data = align(pianist(notes, 30.0), shifted(notes, 3.0), keyboard=False, search=10.0).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["convention"] == "MIDI time = video time + offset"
    assert set(data["estimates"]) == {"strikes", "departures"}


def test_envelopes_peak_where_the_motion_is() -> None:
    notes = melody(3, 20.0)
    keypoints = pianist(notes, 20.0)
    strikes, departures = strike_envelope(keypoints), departure_envelope(keypoints)
    onsets = np.round(np.array([n.start for n in notes]) * RATE).astype(int)
    releases = np.round(np.array([n.end for n in notes]) * RATE).astype(int)
    quiet = np.ones(keypoints.num_frames, bool)
    for frame in np.concatenate([onsets, releases]):
        quiet[max(0, frame - 6):frame + 7] = False
    assert strikes[onsets].mean() > 5 * strikes[quiet].mean()
    assert departures[releases[:-1]].mean() > 5 * departures[quiet].mean()


def test_a_motionless_or_empty_recording_is_refused() -> None:
    notes = melody(4, 20.0)
    keypoints = pianist(notes, 20.0)
    with pytest.raises(InputError, match="without notes"):
        align(keypoints, [])
    nobody = Keypoints(RATE, 0.0, np.zeros((0, 600, 25, 3), np.float32), np.zeros((0, 600, 2, 21, 3), np.float32),
                       (1280, 720))
    with pytest.raises(InputError, match="no performer"):
        align(nobody, notes)
    still = Keypoints(RATE, 0.0, keypoints.body, np.repeat(keypoints.hands[:, :1], 600, axis=1), (1280, 720))
    with pytest.raises(InputError, match="never move"):
        align(still, notes)


def test_offsets_that_push_the_notes_out_of_the_video_are_not_candidates() -> None:
    notes = melody(5, 20.0)
    estimate = keyboard_estimate(pianist(notes, 20.0), shifted(notes, 2.0), search=60.0)
    assert estimate.offset == pytest.approx(2.0, abs=0.3)


@pytest.mark.real_media
def test_real_piano_offset(piano_video: Path, piano_midi: Path) -> None:
    """The shared clip: MIDI starts ~16 s before the video; pressing keys from above barely moves a
    fingertip, so the departure cue has to carry it and the keyboard cue should agree within its bias."""
    from foley_engine.pose.extract import extract_keypoints

    keypoints = extract_keypoints(piano_video, settings=FAST_POSE)
    notes = [n for track in read_notes(piano_midi) for n in track]
    result = align(keypoints, notes, keyboard=True)
    assert result.offset == pytest.approx(PIANO_OFFSET, abs=0.1)
    assert result.estimates["keyboard"].offset == pytest.approx(PIANO_OFFSET, abs=0.6)
    assert result.estimates[result.method].confidence > 1.2
