"""Synthetic performers: shapes, tracker realism, and above all that each note's motion cue lands on its onset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from foley_engine.data.performers import CameraView, animate, frame_times, perform, render
from foley_engine.data.performers.camera import observe
from foley_engine.data.performers.motion import EASE_IN, LINEAR, Keyframes
from foley_engine.instruments import FAMILIES, INSTRUMENTS, get_instrument
from foley_engine.notes import Note
from foley_engine.skeleton import BODY_INDEX, LEFT, NUM_BODY_JOINTS

RATE = 30.0


def spaced(pitches: list[int], gap: float = 0.6, length: float = 0.3, velocity: int = 90, first: float = 0.517
           ) -> list[Note]:
    """Isolated notes at onsets that fall between frames, so timing is tested off the frame grid."""
    return [Note(first + i * gap, first + i * gap + length, p, velocity) for i, p in enumerate(pitches)]


def clean(instrument: str, notes: list[Note], view: str = "front", seed: int = 0):
    """Noise-free keypoints (pixels) of one performer plus its world-space motion."""
    inst = get_instrument(instrument)
    rng = np.random.default_rng(seed)
    duration = max(n.end for n in notes) + 0.5
    times = frame_times(duration, RATE)
    camera = CameraView.clean(view)
    motion = animate(notes, inst, times, rng, camera)
    kp = render([motion], camera, RATE, rng)
    hands = kp.hands[0].reshape(kp.num_frames, -1, 3)
    joints = np.concatenate([kp.body[0], hands], axis=1).astype(np.float64)
    joints[..., 0] *= kp.frame_size[0]
    joints[..., 1] *= kp.frame_size[1]
    return joints, motion


def notes_for(instrument: str, seconds: float, rng: np.random.Generator) -> list[Note]:
    inst = get_instrument(instrument)
    low, high = max(inst.lowest, 48), min(inst.highest, 84)
    starts = np.sort(rng.uniform(0.2, seconds - 0.3, 12))
    return [Note(float(s), float(min(s + 0.25, seconds)), int(rng.integers(low, high + 1)), int(rng.integers(30, 120)))
            for s in starts]


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_and_confidence(family: str) -> None:
    instrument = next(i for i in INSTRUMENTS.values() if i.family == family)
    rng = np.random.default_rng(1)
    tracks = [notes_for(instrument.name, 3.0, rng), notes_for(instrument.name, 3.0, rng)]
    kp = perform(tracks, instrument, 3.0, rng)
    assert kp.body.shape == (2, 90, 25, 3) and kp.hands.shape == (2, 90, 2, 21, 3)
    assert kp.body.dtype == np.float32 and kp.hands.dtype == np.float32
    assert kp.rate == RATE and kp.start == 0.0 and len(kp.frame_size) == 2
    for array in (kp.body, kp.hands):
        confidence = array[..., 2]
        assert np.all((confidence == 0) | ((confidence >= 0.5) & (confidence <= 1.0)))
        assert np.isfinite(array).all()
    assert (kp.hands[..., 2] > 0).mean() > 0.5  # the hands are mostly tracked


def test_keys_strike_lands_on_the_onset() -> None:
    """For every note the assigned fingertip moves down fastest into the onset frame and is still after it."""
    notes = spaced([60, 64, 67, 72, 48, 55, 62, 79], velocity=100)
    notes += [Note(6.033, 6.4, 52, 40), Note(6.033, 6.4, 76, 40)]  # a soft two-handed chord
    joints, motion = clean("piano", notes)
    assert len(motion.cues) == len(notes)
    for cue in motion.cues:
        y = joints[:, cue.joint, 1]
        speed = np.diff(y)  # speed[i]: image-y motion from frame i to i + 1 (down is positive)
        onset = cue.onset * RATE
        window = np.arange(int(onset) - 5, int(onset) + 5)
        peak = window[np.argmax(speed[window])]  # the interval of fastest downward motion ...
        assert abs(peak + 1 - onset) <= 1.0  # ... ends within a frame of the onset
        assert speed[peak] > 0.5
        settled = int(np.ceil(onset))
        assert abs(y[settled + 1] - y[settled]) < 0.05 * speed[peak]  # and it is at rest right after


def test_keys_fingertip_position_follows_pitch() -> None:
    pitches = list(range(36, 97, 5))
    joints, motion = clean("piano", spaced(pitches))
    xs = [joints[int(np.ceil(c.onset * RATE)), c.joint, 0] for c in motion.cues]
    assert np.all(np.diff(xs) < 0)  # front view: higher notes lie towards the performer's right = image left


def test_top_down_keys_shows_hands_only() -> None:
    rng = np.random.default_rng(2)
    view = CameraView.random(rng, "keys", "top_down")
    kp = perform([notes_for("piano", 4.0, rng)], get_instrument("piano"), 4.0, rng, view=view)
    assert np.all(kp.body == 0)
    assert (kp.hands[..., 2] > 0).mean() > 0.5
    seen = kp.hands[kp.hands[..., 2] > 0][:, :2]
    assert np.ptp(seen[:, 0]) > 0.3  # the hands fill the frame, not a corner of it


def test_guitar_hand_moves_up_the_neck_with_pitch() -> None:
    pitches = list(range(45, 85, 3))
    joints, motion = clean("guitar", spaced(pitches, gap=0.7))
    wrist = BODY_INDEX["left_wrist"]
    xs = np.array([joints[int(np.ceil(n.start * RATE)), wrist, 0] for n in spaced(pitches, gap=0.7)])
    assert np.all(np.diff(xs) <= 0.05)  # the neck points to the performer's left: up the neck = image left
    assert xs[0] - xs[-1] > 20


@pytest.mark.parametrize("instrument", ["violin", "cello"])
def test_bow_turns_round_at_each_onset(instrument: str) -> None:
    """Notes on one string (a string crossing also swings the arm, which would blur this check)."""
    second_string = get_instrument(instrument).lowest + 7
    pitches = [second_string + k for k in (1, 2, 4, 5, 4, 2, 1, 2)]
    legato = [Note(0.517 + 0.45 * i, 0.517 + 0.45 * (i + 1), p, 60 + 8 * i) for i, p in enumerate(pitches)]
    joints, motion = clean(instrument, legato)
    x = joints[:, BODY_INDEX["right_wrist"], 0]
    for note in legato[1:]:
        onset = note.start * RATE
        window = np.arange(int(onset) - 5, int(onset) + 6)
        before, after = x[int(onset)] - x[int(onset) - 3], x[int(onset) + 4] - x[int(np.ceil(onset))]
        assert np.sign(before) == -np.sign(after) != 0  # direction changes ...
        turn = window[np.argmax(x[window] * np.sign(before))]  # ... with the turning point
        assert abs(turn - onset) <= 1.0  # at the onset


def test_dropouts_are_missing_never_invented() -> None:
    rng = np.random.default_rng(4)
    view = dataclasses.replace(CameraView.random(rng, "plucked", "front"), dropout_rate=1.5, zoom=0.6)
    kp = perform([notes_for("guitar", 8.0, rng)], get_instrument("guitar"), 8.0, rng, view=view)
    for array in (kp.body, kp.hands):
        missing = array[..., 2] == 0
        assert np.all(array[missing][:, :2] == 0)
    hand_gone = (kp.hands[0, :, LEFT, :, 2] == 0).all(axis=1)
    body_seen = kp.body[0, :, BODY_INDEX["neck"], 2] > 0
    assert (hand_gone & body_seen).any()  # a hand dropped out while the body was tracked
    clear = perform([notes_for("guitar", 8.0, rng)], get_instrument("guitar"), 8.0, rng,
                    view=CameraView.clean("front"))
    assert (clear.hands[..., 2] > 0).all()


def test_small_toes_are_never_reported() -> None:
    rng = np.random.default_rng(5)
    kp = perform([notes_for("marimba", 2.0, rng)], get_instrument("marimba"), 2.0, rng)
    toes = [BODY_INDEX["left_small_toe"], BODY_INDEX["right_small_toe"]]
    assert np.all(kp.body[:, :, toes] == 0)  # MediaPipe has no small toes, so real keypoints never do


def test_deterministic_for_a_seed() -> None:
    notes = [notes_for("violin", 4.0, np.random.default_rng(6))]
    first = perform(notes, get_instrument("violin"), 4.0, np.random.default_rng(7))
    second = perform(notes, get_instrument("violin"), 4.0, np.random.default_rng(7))
    assert np.array_equal(first.body, second.body) and np.array_equal(first.hands, second.hands)
    assert first.frame_size == second.frame_size


def test_keyframes_land_exactly() -> None:
    curve = Keyframes(0.0)
    curve.add(1.0, 0.0, LINEAR)
    curve.add(1.5, 2.0, EASE_IN)
    values = curve(np.array([0.0, 1.0, 1.25, 1.5, 9.0]))
    assert values.tolist() == [0.0, 0.0, 0.5, 2.0, 2.0]


def test_a_minute_renders() -> None:
    rng = np.random.default_rng(8)
    piano = get_instrument("piano")
    notes = [Note(0.1 + 0.25 * i, 0.3 + 0.25 * i, 48 + (7 * i) % 36, 80) for i in range(230)]
    kp = perform([notes], piano, 60.0, rng)
    assert kp.body.shape[1] == 1800
    assert NUM_BODY_JOINTS == kp.body.shape[2]


def test_hand_noise_is_relative_to_the_hand_and_smooth() -> None:
    """Hands are tracked on a crop, so a small hand in a wide shot jitters as much *relative to its size* as a
    close-up one; and tracker noise is low-passed, not white (consecutive errors are correlated)."""
    rng = np.random.default_rng(5)
    notes = spaced([60, 64, 67])
    times = frame_times(3.0, RATE)
    still = animate(notes, get_instrument("piano"), times, rng, CameraView.clean()).joints[:1]
    world = np.repeat(still[None], 600, axis=1)  # one frozen pose: everything that moves is noise
    relative, correlation = [], []
    for zoom in (0.3, 1.0):
        view = dataclasses.replace(CameraView.clean(), zoom=zoom, hand_jitter=0.02, smoothing=0.6)
        body, hands = observe(view, world, RATE, np.random.default_rng(0))
        xy = hands[0, :, 1, :, :2] * np.array(view.frame_size)  # right hand, pixels
        size = np.linalg.norm(xy[0, 9] - xy[0, 0])  # wrist to middle knuckle
        error = xy[:, :, 0] - xy[:, :, 0].mean(axis=0)
        relative.append(error.std() / size)
        correlation.append(np.corrcoef(error[1:].ravel(), error[:-1].ravel())[0, 1])
    assert relative[0] == pytest.approx(relative[1], rel=0.25)
    assert 0.01 < relative[1] < 0.04
    assert min(correlation) > 0.4
