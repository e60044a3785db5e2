"""The motion-onset baseline on synthetic keypoints with known answers, and on the real piano clip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.signal import savgol_filter

from foley_engine.instruments import INSTRUMENTS, Instrument, get_instrument
from foley_engine.keypoints import Keypoints
from foley_engine.notes import Note
from foley_engine.skeleton import BODY_INDEX, FINGERTIPS, HAND_INDEX, LEFT, RIGHT
from foley_engine.sources.baseline import GENERATOR_NAME, BaselineSettings, generate_baseline
from foley_engine.sources.baseline_onsets import _slope

RATE = 30.0
FRAME = (1280, 720)
ASPECT = FRAME[0] / FRAME[1]
HAND = 0.1  # hand length (wrist to middle knuckle) in frame heights
INDEX_TIP = HAND_INDEX["index_tip"]
FRAME_TIME = 1 / RATE


def hand_pose(x: float, y: float) -> np.ndarray:
    """An upright hand (21, 3), fingers spread a key apart: wrist at (x, y) in pixel-square frame heights."""
    pose = np.zeros((21, 3), dtype=np.float32)
    pose[0] = (x, y, 1.0)
    for finger in range(5):
        for joint in range(4):  # mcp (cmc for the thumb), pip, dip, tip
            pose[1 + 4 * finger + joint] = (x + (finger - 2) * 0.03, y - HAND - 0.025 * joint, 1.0)
    return pose


def keypoints(num_frames: int, performers: int = 1, start: float = 12.0) -> Keypoints:
    """Empty (all missing) keypoints; tests place hands with ``put_hand``. A non-zero start checks that
    note times are relative to the clip start."""
    return Keypoints(rate=RATE, start=start,
                     body=np.zeros((performers, num_frames, 25, 3), dtype=np.float32),
                     hands=np.zeros((performers, num_frames, 2, 21, 3), dtype=np.float32),
                     frame_size=FRAME)


def put_hand(kp: Keypoints, hand: int, x: np.ndarray | float, y: float = 0.7, performer: int = 0) -> None:
    """Hand ``hand`` at wrist x (pixel-square frame heights; per frame if an array) in every frame."""
    xs = np.broadcast_to(np.asarray(x, dtype=np.float64), (kp.hands.shape[1],))
    for frame, wrist_x in enumerate(xs):
        kp.hands[performer, frame, hand] = hand_pose(float(wrist_x), y)
    kp.hands[performer, :, hand, :, 0] /= ASPECT  # to the contract's x, normalised by frame width


def minimum_jerk(u: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 over u in [0, 1], with zero speed and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10 - 15 * u + 6 * u ** 2)


def tap_offsets(times: np.ndarray, taps: list[float], depth: float = 0.05, down: float | list[float] = 0.1,
                hold: float = 0.15, up: float = 0.15) -> np.ndarray:
    """Downward displacement of a fingertip that strikes at each tap time: it comes down (smoothly
    decelerating to rest exactly at the tap), rests on the key for ``hold``, then lifts back quickly."""
    downs = [down] * len(taps) if np.isscalar(down) else down
    offset = np.zeros_like(times)
    for tap, descent in zip(taps, downs, strict=True):
        coming = minimum_jerk((times - (tap - descent)) / descent)
        leaving = minimum_jerk((times - (tap + hold)) / up)
        offset += depth * np.where(times <= tap, coming, 1.0 - leaving) * (times > tap - descent) * (
            times < tap + hold + up)
    return offset


def tapping_clip(taps: list[float], seconds: float = 4.0, **tap_args: object) -> Keypoints:
    """Both hands resting on a keyboard; the right index finger taps at the given times."""
    kp = keypoints(int(seconds * RATE))
    put_hand(kp, LEFT, 0.6)
    put_hand(kp, RIGHT, 1.1)
    times = np.arange(kp.hands.shape[1]) / RATE
    kp.hands[0, :, RIGHT, INDEX_TIP, 1] += tap_offsets(times, taps, **tap_args).astype(np.float32)
    return kp


def onsets(notes: list[Note]) -> np.ndarray:
    return np.array([note.start for note in notes])


def max_sounding(notes: list[Note]) -> int:
    """Largest number of notes sounding at once (a note sounds over [start, end))."""
    return max((sum(other.start <= note.start < other.end for other in notes) for note in notes), default=0)


PIANO = get_instrument("piano")
TAPS = [0.5, 1.3, 2.2, 3.0]


@pytest.mark.parametrize(("samples", "window"), [(5, 5), (6, 5), (40, 7), (300, 9)])
def test_the_slope_is_savgol_filters_edges_included(samples: int, window: int) -> None:
    """The trajectories' velocity is scipy's Savitzky-Golay derivative (mode "interp": each edge sample from
    the quadratic fitted to the first or last window), computed as products instead of polyfits."""
    path = np.random.default_rng(samples).normal(size=(samples, 2)).cumsum(axis=0)
    expected = savgol_filter(path, window, 2, deriv=1, axis=0)
    np.testing.assert_allclose(_slope(path, window), expected, rtol=0, atol=1e-10)


def test_one_note_per_tap_within_a_frame_of_the_contact() -> None:
    performance = generate_baseline(tapping_clip(TAPS), PIANO)
    assert performance.generator == GENERATOR_NAME
    assert len(performance.tracks) == 1
    starts = onsets(performance.tracks[0])
    assert len(starts) == len(TAPS), starts
    assert np.all(np.abs(starts - TAPS) <= FRAME_TIME), starts - TAPS


def test_a_finger_that_lifts_and_pauses_in_the_air_plays_nothing() -> None:
    kp = tapping_clip([])
    times = np.arange(kp.hands.shape[1]) / RATE
    # Quick lifts that stop in the air, each followed by a slow (sub-threshold) return to the key.
    lifts = tap_offsets(times, [0.5, 2.0], depth=0.04, up=1.0)
    kp.hands[0, :, RIGHT, INDEX_TIP, 1] -= lifts.astype(np.float32)
    assert generate_baseline(kp, PIANO).notes == []
    kp.hands[0, :, RIGHT, INDEX_TIP, 1] += 2 * lifts.astype(np.float32)  # the same motion downwards plays
    assert len(generate_baseline(kp, PIANO).notes) == 2


def test_a_faster_approach_is_louder() -> None:
    performance = generate_baseline(tapping_clip(TAPS, down=[0.2, 0.14, 0.1, 0.07]), PIANO)
    velocities = [note.velocity for note in performance.notes]
    assert len(velocities) == 4
    assert velocities == sorted(velocities) and velocities[0] < velocities[-1], velocities
    assert velocities[0] == BaselineSettings().velocity_range[0]
    assert velocities[-1] == BaselineSettings().velocity_range[1]


def test_a_hand_further_to_the_performers_right_plays_higher() -> None:
    kp = keypoints(int(4 * RATE))
    times = np.arange(kp.hands.shape[1]) / RATE
    # The right hand glides right between taps (a glide moves the whole hand, so it is not a strike).
    glide = 0.9 + 0.12 * (minimum_jerk((times - 0.8) / 0.4) + minimum_jerk((times - 1.9) / 0.4))
    put_hand(kp, LEFT, 0.6)
    put_hand(kp, RIGHT, glide)
    kp.hands[0, :, RIGHT, INDEX_TIP, 1] += tap_offsets(times, [0.5, 1.6, 2.7]).astype(np.float32)
    pitches = [note.pitch for note in generate_baseline(kp, PIANO).notes]
    assert len(pitches) == 3 and pitches[0] < pitches[1] < pitches[2], pitches

    # Filmed from the front the performer's right is on the image's left: the pitch must not care.
    mirrored = replace(kp, hands=kp.hands.copy())
    mirrored.hands[..., 0] = np.where(kp.hands[..., 2] > 0, 1.0 - kp.hands[..., 0], 0.0)
    assert [note.pitch for note in generate_baseline(mirrored, PIANO).notes] == pitches


def test_missing_samples_give_no_notes_and_are_not_bridged() -> None:
    kp = tapping_clip(TAPS)
    gap = slice(int(1.0 * RATE), int(1.6 * RATE))  # covers the second tap
    kp.hands[0, gap] = 0.0  # missing: confidence 0 and, as pose extraction leaves them, zero coordinates
    starts = onsets(generate_baseline(kp, PIANO).notes)
    assert np.all((starts < 1.0) | (starts > 1.6)), starts
    expected = [TAPS[0], TAPS[2], TAPS[3]]
    assert len(starts) == 3 and np.all(np.abs(starts - expected) <= FRAME_TIME), starts

    kp.hands[:] = 0.0  # nothing seen at all
    assert generate_baseline(kp, PIANO).notes == []


def random_motion_clip(seed: int, performers: int = 2, seconds: float = 6.0) -> Keypoints:
    """Restless hands and bodies with some dropouts: a stress test, not music."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * RATE)
    kp = keypoints(frames, performers)
    for performer in range(performers):
        for hand, x in ((LEFT, 0.5), (RIGHT, 1.0)):
            put_hand(kp, hand, x + 0.2 * np.cumsum(rng.normal(0, 0.01, frames)), performer=performer)
        wiggle = np.cumsum(rng.normal(0, 0.004, (frames, 2, 21, 2)), axis=0)
        kp.hands[performer, ..., :2] += wiggle.astype(np.float32)
        kp.body[performer, :, :, :2] = rng.uniform(0.3, 0.7, (frames, 25, 2))
        kp.body[performer, :, :, 2] = 1.0
        kp.body[performer, :, BODY_INDEX["right_wrist"], :2] = kp.hands[performer, :, RIGHT, 0, :2]
        kp.body[performer, :, BODY_INDEX["left_wrist"], :2] = kp.hands[performer, :, LEFT, 0, :2]
        for _ in range(3):
            start = int(rng.integers(0, frames - 20))
            kp.hands[performer, start:start + int(rng.integers(1, 20)), int(rng.integers(0, 2))] = 0.0
    return kp


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_every_instrument_plays_inside_its_range_the_clip_and_its_voices(name: str) -> None:
    instrument = INSTRUMENTS[name]
    kp = random_motion_clip(seed=sum(map(ord, name)))
    for duration in (None, 4.0):
        performance = generate_baseline(kp, instrument, duration=duration)
        limit = kp.num_frames / RATE if duration is None else duration
        assert performance.duration == pytest.approx(limit)
        assert len(performance.tracks) == 2
        assert performance.notes, f"{name}: restless hands should play something"
        for track in performance.tracks:
            assert track == sorted(track)
            assert max_sounding(track) <= instrument.max_polyphony
            for note in track:
                assert 0 <= note.start < note.end <= limit + 1e-9
                assert instrument.lowest <= note.pitch <= instrument.highest
                assert 1 <= note.velocity <= 127


def test_polyphony_keeps_the_loudest_notes() -> None:
    three_voices = Instrument("three-voice-keys", 0, "keys", 21, 108, 3, "Acoustic Grand Piano")
    kp = keypoints(int(2 * RATE))
    put_hand(kp, LEFT, 0.6)
    put_hand(kp, RIGHT, 1.1)
    times = np.arange(kp.hands.shape[1]) / RATE
    depths = {}
    for hand in (LEFT, RIGHT):  # a ten-finger chord, each finger a little faster than the last
        for number, tip in enumerate(FINGERTIPS):
            depths[hand, tip] = 0.042 + 0.0008 * (5 * hand + number)
            kp.hands[0, :, hand, tip, 1] += tap_offsets(times, [1.0], depth=depths[hand, tip]).astype(np.float32)
    all_notes = generate_baseline(kp, PIANO).notes
    assert len(all_notes) == 10 and max_sounding(all_notes) == 10
    kept = generate_baseline(kp, three_voices).notes
    assert len(kept) == 3
    loudest = sorted(all_notes, key=lambda note: note.velocity)[-3:]
    assert sorted(note.pitch for note in kept) == sorted(note.pitch for note in loudest)


def test_no_performer_gives_no_tracks() -> None:
    performance = generate_baseline(keypoints(90, performers=0), PIANO)
    assert performance.tracks == [] and performance.notes == []
    assert performance.duration == pytest.approx(3.0)


def test_deterministic_and_the_seed_changes_nothing() -> None:
    kp = random_motion_clip(seed=7)
    first = generate_baseline(kp, PIANO, seed=1)
    assert first.notes
    assert generate_baseline(kp, PIANO, seed=1).tracks == first.tracks
    assert generate_baseline(kp, PIANO, seed=2).tracks == first.tracks  # documented: no randomness


STROKE_ENDS = [0.5, 1.1, 1.7, 2.3, 2.9]  # the bow starts from rest, reverses three times, then stops


def test_bowed_notes_start_at_the_bow_reversals() -> None:
    kp = keypoints(int(3.5 * RATE))
    times = np.arange(kp.hands.shape[1]) / RATE
    bow = np.full_like(times, 1.0)
    for number, (start, end) in enumerate(zip(STROKE_ENDS[:-1], STROKE_ENDS[1:], strict=True)):
        direction = 1 if number % 2 == 0 else -1
        bow += direction * 0.25 * minimum_jerk((times - start) / (end - start))
    put_hand(kp, LEFT, 0.4, y=0.4)  # fretting hand, still
    put_hand(kp, RIGHT, bow)
    notes = generate_baseline(kp, get_instrument("cello")).notes
    assert len(notes) == 4, notes
    starts = onsets(notes)
    assert np.all(np.abs(starts[1:] - STROKE_ENDS[1:4]) <= FRAME_TIME), starts
    assert STROKE_ENDS[0] <= starts[0] <= STROKE_ENDS[0] + 3 * FRAME_TIME  # from rest: once it moves
    for note, following in zip(notes, notes[1:], strict=False):
        assert note.end == pytest.approx(following.start)  # legato across a reversal
    assert STROKE_ENDS[-1] - 3 * FRAME_TIME <= notes[-1].end <= STROKE_ENDS[-1]  # stops with the bow


def test_wind_notes_rise_as_fingers_lift_and_play_legato() -> None:
    kp = keypoints(int(3 * RATE))
    times = np.arange(kp.hands.shape[1]) / RATE
    put_hand(kp, LEFT, 0.9, y=0.4)
    put_hand(kp, RIGHT, 0.9, y=0.7)
    lifts = [0.5, 1.0, 1.5, 2.0]
    for lift, tip in zip(lifts, FINGERTIPS[1:], strict=True):  # the lower hand: one finger off its hole at a time
        kp.hands[0, :, RIGHT, tip, 1] -= (0.04 * minimum_jerk((times - lift + 0.1) / 0.1)).astype(np.float32)
    notes = generate_baseline(kp, get_instrument("flute")).notes
    assert len(notes) == 4, notes
    assert np.all(np.abs(onsets(notes) - lifts) <= FRAME_TIME), onsets(notes)
    pitches = [note.pitch for note in notes]
    assert pitches == sorted(set(pitches)), pitches
    for note, following in zip(notes, notes[1:], strict=False):
        assert note.end == pytest.approx(following.start)
    assert max_sounding(notes) == 1


@pytest.mark.real_media
def test_real_piano_clip_plays_plausibly(piano_video) -> None:
    from foley_engine.pose.extract import extract_keypoints

    kp = extract_keypoints(piano_video, 12.0, 17.0)
    assert kp.num_frames >= 140
    performance = generate_baseline(kp, PIANO)
    notes = performance.notes
    assert 0.5 * 5 <= len(notes) <= 15 * 5, len(notes)
    assert all(0 <= note.start < note.end <= performance.duration + 1e-9 for note in notes)
    assert all(PIANO.lowest <= note.pitch <= PIANO.highest for note in notes)
    assert len({note.pitch for note in notes}) >= 3  # the hands move over the keyboard


def test_the_yardsticks_are_pixel_square_hand_lengths() -> None:
    """keypoints.pixel_square and hand_lengths, which the baseline, the model's features and the alignment share:
    x scaled to frame heights, and a hand measured wrist to middle knuckle only where both are seen."""
    from foley_engine.keypoints import HAND_PER_SHOULDER, SHOULDERS_PER_HAND, hand_lengths, pixel_square

    assert pixel_square(FRAME).tolist() == [ASPECT, 1.0] and pixel_square(FRAME, np.float32).dtype == np.float32
    assert HAND_PER_SHOULDER * SHOULDERS_PER_HAND == pytest.approx(1.0)
    hands = np.stack([hand_pose(0.4, 0.6), hand_pose(0.8, 0.6)])[None].repeat(3, axis=0)  # (3, 2, 21, 3)
    hands[1, 0, HAND_INDEX["middle_mcp"], 2] = 0.0  # one frame without the left knuckle
    lengths = hand_lengths(hands[..., :2], hands[..., 2] > 0)
    assert len(lengths) == 5 and lengths == pytest.approx(HAND)
