"""Notes from key-press evidence: hysteresis, neighbours sharing an edge, fingertips choosing the key, velocity.

The evidence is written by hand here (presses.py, which measures it from pixels, is tested on rendered clips in
tests/test_keyboard_presses.py and on real frames in tests/test_keyboard_source.py), on a four-key keyboard
whose plane maps to pixels at 10 px per white key.
"""

from __future__ import annotations

import numpy as np
import pytest

from foley_engine.instruments import get_instrument
from foley_engine.keyboard.geometry import Key, KeyboardGeometry
from foley_engine.keyboard.presses import KeyEvidence
from foley_engine.keyboard.reading import read_notes
from foley_engine.keypoints import Keypoints
from foley_engine.skeleton import FINGERTIPS, LEFT

PITCHES = (60, 62, 64, 65)  # C4 D4 E4 F4, white keys at plane x 0-1, 1-2, 2-3, 3-4
RATE = 30.0
FRAME = (40, 50)  # pixels: 10 per white key across, 50 along the keys


def _geometry() -> KeyboardGeometry:
    homography = np.diag([10.0, 50.0, 1.0])
    keys = []
    for index, pitch in enumerate(PITCHES):
        quad = np.array([[index, 0], [index + 1, 0], [index + 1, 1], [index, 1]], np.float32) * (10, 50)
        keys.append(Key(pitch, False, quad, quad.copy(), quad.mean(axis=0)))
    return KeyboardGeometry(FRAME, homography, 0.0, tuple(keys), True, 1.0, "test", 1.0)


def _evidence(frames: int, presses: list[tuple[int, int, int, float]]) -> KeyEvidence:
    """(key, first frame, last frame + 1, level) presses; a pressed key's neighbours get 60 % of its level."""
    evidence = np.zeros((frames, len(PITCHES)), np.float32)
    for key, first, last, level in presses:
        evidence[first:last, key] += level
        for neighbour in (key - 1, key + 1):
            if 0 <= neighbour < len(PITCHES):
                evidence[first:last, neighbour] += 0.6 * level
    return KeyEvidence(np.arange(frames) / RATE, np.array(PITCHES), evidence)


def _frame(onset: float) -> int:
    """The first frame a note's press is seen in: evidence that steps up between two frames is a press between
    them, and its onset is read half way (reading._onset_time)."""
    return int(np.ceil(onset * RATE))


def _fingertip_over(frames: int, positions: dict[range, float]) -> Keypoints:
    """One hand whose index fingertip is over plane x `positions[frames]` (on the keys), others missing."""
    hands = np.zeros((1, frames, 2, 21, 3), np.float32)
    for span, x in positions.items():
        hands[0, span, LEFT, 0] = (x * 10 / FRAME[0], 1.0, 1.0)  # the wrist, below the keys
        hands[0, span, LEFT, FINGERTIPS[1]] = (x * 10 / FRAME[0], 0.7, 1.0)
    return Keypoints(RATE, 0.0, np.zeros((1, frames, 25, 3), np.float32), hands, FRAME)


def test_a_press_is_a_note_on_its_key_from_rise_to_fall_and_its_neighbours_stay_silent() -> None:
    evidence = _evidence(60, [(1, 10, 25, 9.0), (3, 40, 50, 6.0)])
    keypoints = _fingertip_over(60, {range(0, 30): 1.5, range(30, 60): 3.5})
    notes = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), 0.0, 2.0)
    assert [(n.pitch, _frame(n.start), round(n.end * RATE)) for n in notes] == [(62, 10, 25), (65, 40, 50)]


def test_the_fingertip_decides_between_two_neighbours_pressed_almost_alike() -> None:
    """E4's press shows on D4 nearly as strongly (here even a little more): the fingertip is over E4."""
    evidence = _evidence(30, [(2, 10, 20, 8.0)])
    evidence.evidence[10:20, 1] = 8.5
    keypoints = _fingertip_over(30, {range(0, 30): 2.5})
    [note] = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), 0.0, 1.0)
    assert note.pitch == 64


def test_without_hands_the_neighbour_whose_both_edges_moved_is_read() -> None:
    """E4's press shows more on D4 in units of each key's own noise (E4's other edge is a noisy one), but it moved
    both of E4's edges and only one of D4's: with no fingertip to ask, E4 is read."""
    evidence = _evidence(30, [(2, 10, 20, 8.0)])
    evidence.evidence[10:20, 1] = 8.5
    both = np.zeros_like(evidence.evidence)
    both[10:20, 2], both[10:20, 1] = 10.0, 5.0
    nobody = Keypoints(RATE, 0.0, np.zeros((0, 30, 25, 3), np.float32), np.zeros((0, 30, 2, 21, 3), np.float32), FRAME)
    with_edges = KeyEvidence(evidence.times, evidence.pitches, evidence.evidence, both)
    [note] = read_notes(with_edges, _geometry(), nobody, get_instrument("piano"), 0.0, 1.0)
    assert note.pitch == 64


def test_a_press_far_from_every_fingertip_is_no_note_unless_no_hand_was_seen() -> None:
    evidence = _evidence(30, [(3, 10, 20, 9.0)])
    far = _fingertip_over(30, {range(0, 30): 0.2})
    assert read_notes(evidence, _geometry(), far, get_instrument("piano"), 0.0, 1.0) == []
    nobody = Keypoints(RATE, 0.0, np.zeros((0, 30, 25, 3), np.float32), np.zeros((0, 30, 2, 21, 3), np.float32), FRAME)
    [note] = read_notes(evidence, _geometry(), nobody, get_instrument("piano"), 0.0, 1.0)
    assert note.pitch == 65


def test_flickers_are_ignored_and_a_held_press_that_dips_stays_one_note() -> None:
    evidence = _evidence(60, [(0, 5, 6, 9.0), (2, 20, 50, 9.0)])
    evidence.evidence[33, 2] = 3.0  # a dip that stays above the release level
    keypoints = _fingertip_over(60, {range(0, 60): 2.5})
    notes = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), 0.0, 2.0)
    assert [(n.pitch, _frame(n.start)) for n in notes] == [(64, 20)]


def test_faster_strikes_are_louder_and_pitches_fold_into_the_instruments_range() -> None:
    evidence = _evidence(90, [(0, 20, 30, 9.0), (3, 60, 70, 9.0)])
    keypoints = _fingertip_over(90, {range(0, 90): 0.5})
    # The fingertip sweeps slowly onto C4 before the first press and fast onto F4 before the second.
    for frame in range(15, 20):
        keypoints.hands[0, frame, LEFT, FINGERTIPS[1], 0] = (0.5 - 0.01 * (20 - frame)) * 10 / FRAME[0]
    for frame in range(50, 90):
        keypoints.hands[0, frame, LEFT, FINGERTIPS[1], 0] = 3.5 * 10 / FRAME[0]
    for frame in range(50, 60):
        keypoints.hands[0, frame, LEFT, FINGERTIPS[1], 0] = (3.5 - 0.3 * (60 - frame)) * 10 / FRAME[0]
    quiet, loud = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), 0.0, 3.0)
    assert loud.velocity > quiet.velocity
    [folded, _] = read_notes(evidence, _geometry(), keypoints, get_instrument("xylophone"), 0.0, 3.0)
    assert folded.pitch == 72, "C4 is below the xylophone: an octave up"
    assert read_notes(KeyEvidence(np.zeros(0), np.array(PITCHES), np.zeros((0, 4), np.float32)), _geometry(),
                      keypoints, get_instrument("piano"), 0.0, 3.0) == []


@pytest.mark.parametrize("start", [0.0, 5.0])
def test_notes_are_timed_from_the_range_start(start: float) -> None:
    evidence = _evidence(30, [(1, 12, 20, 9.0)])
    evidence = KeyEvidence(evidence.times + start, evidence.pitches, evidence.evidence)
    keypoints = _fingertip_over(30, {range(0, 30): 1.5})
    keypoints = Keypoints(RATE, start, keypoints.body, keypoints.hands, FRAME)
    [note] = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), start, 1.0)
    assert note.start == pytest.approx(11.5 / RATE), "between the last frame before the press and the first in it"


def test_two_neighbours_trading_the_lead_of_one_held_press_are_one_note() -> None:
    """A hand resting over D4 and E4 moves both of their edges alike: which of the two is ahead changes from frame
    to frame while the fingertip stays on E4. The key went down once, so it sounds once (the shared clip's last
    held A1 was heard ten times)."""
    evidence = _evidence(60, [(2, 10, 50, 9.0)])
    evidence.evidence[10:50, 1] = 9.0 + np.where(np.arange(40) % 4 < 2, 0.2, -0.2)
    keypoints = _fingertip_over(60, {range(0, 60): 2.5})
    notes = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), 0.0, 2.0)
    assert [(n.pitch, _frame(n.start), round(n.end * RATE)) for n in notes] == [(64, 10, 50)]


def test_a_faint_press_counts_only_under_a_fingertip() -> None:
    """D4 rises sharply to 3.5 noise units, short of a press anywhere (ON_LEVEL), with a fingertip on it: a note.
    The same rise with the only fingertip a key away is not (a hand's shadow, a neighbour's spill)."""
    evidence = _evidence(40, [(1, 10, 20, 3.5)])
    on_it = _fingertip_over(40, {range(0, 40): 1.5})
    [note] = read_notes(evidence, _geometry(), on_it, get_instrument("piano"), 0.0, 1.5)
    assert (note.pitch, _frame(note.start)) == (62, 10)
    beside = _fingertip_over(40, {range(0, 40): 2.5})
    assert read_notes(evidence, _geometry(), beside, get_instrument("piano"), 0.0, 1.5) == []
    creeping = _evidence(40, [(1, 10, 20, 3.5)])
    creeping.evidence[:, 1] = np.minimum(np.arange(40) * 0.15, 3.5)  # a slow drift, not a key going down
    assert read_notes(creeping, _geometry(), on_it, get_instrument("piano"), 0.0, 1.5) == []


def test_a_key_struck_again_before_its_evidence_falls_back_is_a_new_note_and_a_sagging_hold_is_not() -> None:
    """A trill's repeated E4: between strikes its evidence falls to a quarter of the peak but stays above OFF_LEVEL
    (a dimmer copy of the shared clip read its trills' E5s so, and played each run of them as one note): each
    rise from that dip is a strike. A held press that sags by less than half (a resting finger) is one note."""
    evidence = _evidence(90, [(2, 10, 70, 3.0), (2, 10, 18, 9.0), (2, 28, 36, 9.0), (2, 46, 54, 9.0)])
    keypoints = _fingertip_over(90, {range(0, 90): 2.5})
    notes = read_notes(evidence, _geometry(), keypoints, get_instrument("piano"), 0.0, 3.0)
    assert [(n.pitch, _frame(n.start)) for n in notes] == [(64, 10), (64, 28), (64, 46)]
    sagging = _evidence(90, [(2, 10, 70, 7.0), (2, 10, 30, 5.0), (2, 50, 70, 5.0)])  # 12, then 7, then 12
    notes = read_notes(sagging, _geometry(), keypoints, get_instrument("piano"), 0.0, 3.0)
    assert [(n.pitch, _frame(n.start), round(n.end * RATE)) for n in notes] == [(64, 10, 70)]
