"""Guided onsets: peaks the head is sure of, as many weaker ones as its probability mass calls for, and never
fewer than the motion-onset baseline finds strikes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from model_fixtures import random_joints, tiny_model

from foley_engine.data.performers import perform
from foley_engine.instruments import get_instrument
from foley_engine.model import generate as gen
from foley_engine.model.features import performer_joints, split_performer_joints
from foley_engine.model.onsets import motion_onset_frames, onset_frames, onset_times
from foley_engine.model.sampling import Sampling
from foley_engine.notes import Note
from foley_engine.sources.baseline import generate_baseline


def _curve(peaks: dict[int, float], frames: int = 120, floor: float = 0.0) -> np.ndarray:
    curve = np.full(frames, floor, np.float32)
    for frame, height in peaks.items():
        curve[frame] = height
    return curve


def test_threshold_alone_takes_one_onset_per_stroke_above_it() -> None:
    curve = _curve({10: 0.9, 11: 0.8, 40: 0.7, 70: 0.3})  # 10/11: one stroke
    assert list(onset_frames(curve, 0.5)) == [10, 40]
    assert list(onset_times(curve, 0.5, 100 / 30)) == [33, 133]


def test_mass_adds_the_strongest_weak_peaks_up_to_the_expected_count() -> None:
    curve = _curve({10: 0.9, 40: 0.3, 60: 0.25, 80: 0.2, 100: 0.15}, floor=0.01)
    expected = 0.01 * 115 + 0.9 + 0.3 + 0.25 + 0.2 + 0.15  # summed probability: 2.95
    assert list(onset_frames(curve, 0.5, mass=3 / expected)) == [10, 40, 60]
    assert list(onset_frames(curve, 0.5, mass=0.0)) == [10]
    assert list(onset_frames(curve, 0.5, mass=0.1)) == [10]  # the sure peak already covers the count


def test_onsets_before_since_neither_count_nor_make_a_peak_at_the_seam() -> None:
    curve = _curve({10: 0.9, 30: 0.8, 31: 0.7, 50: 0.2, 90: 0.3})  # 31 falls from a peak just before since
    assert list(onset_frames(curve, 0.5, 0.0, since=31)) == []
    assert list(onset_frames(curve, 0.5, 2 / float(curve[31:].sum()), since=31)) == [50, 90]


def test_generation_plays_where_the_head_is_unsure_only_with_a_mass() -> None:
    model = tiny_model(seed=7)
    piano = get_instrument("piano")
    frames = int(model.config.window * 30)
    features, mask = gen.window_inputs([random_joints(frames, seed=2)], (1280, 720), 30.0, 0, frames)

    def starts(mass: float) -> set[int]:
        window = model.encode(features, mask, model.instrument_ids([piano]), 300)
        window.onsets = torch.from_numpy(_curve({15: 0.3, 45: 0.25, 75: 0.2}, frames, floor=0.01))[None]
        decoder = gen.WindowDecoder(model, piano, Sampling(onset_threshold=0.5, onset_mass=mass),
                                    torch.Generator().manual_seed(0))
        track = gen.TrackState()
        decoder.run(window, [track], 0, 0, 300)
        return {start for start, *_ in track.notes} | {start for start, _ in track.sounding.values()}

    assert starts(0.0) == set()
    total = 0.01 * 87 + 0.3 + 0.25 + 0.2
    assert starts(2 / total) == {50, 150}


def test_the_motion_floor_adds_the_strongest_weak_peaks_and_places_nothing_itself() -> None:
    curve = _curve({10: 0.9, 40: 0.3, 60: 0.25, 80: 0.2, 100: 0.15}, floor=0.01)
    assert list(onset_frames(curve, 0.5, mass=0.0, at_least=3)) == [10, 40, 60]
    assert list(onset_frames(curve, 0.5, mass=0.0, at_least=1)) == [10]  # the sure peak is enough
    assert list(onset_frames(curve, 0.5, mass=0.0, at_least=50)) == [10, 40, 60, 80, 100]  # peaks only
    assert list(onset_frames(curve, 0.5, mass=3 / 2.95, at_least=1)) == [10, 40, 60]  # the larger count wins


def test_motion_onsets_are_the_baselines_note_starts_one_per_moment() -> None:
    piano = get_instrument("piano")
    notes = [Note(0.5 + 0.5 * i, 0.9 + 0.5 * i, 60 + (i % 5) * 2, 90) for i in range(8)]
    notes += [Note(2.5, 2.9, 48, 90)]  # a chord: two notes, one moment
    keypoints = perform([notes], piano, 5.0, np.random.default_rng(3))
    joints = performer_joints(keypoints.body[0], keypoints.hands[0])
    body, hands = split_performer_joints(joints)
    assert np.array_equal(body, keypoints.body[0]) and np.array_equal(hands, keypoints.hands[0])

    frames = motion_onset_frames(joints, 30.0, keypoints.frame_size, piano)
    starts = sorted(n.start for n in generate_baseline(keypoints, piano).tracks[0])
    assert len(frames) and np.all(np.diff(frames) >= 2)
    assert set(frames) <= {round(start * 30) for start in starts}
    near = [min(abs(frame / 30 - n.start) for n in notes) for frame in frames]
    assert np.median(near) < 0.1  # the simulated strokes are plain: the strikes sit on the notes


def test_generation_plays_at_least_the_motion_onsets_of_the_span_it_writes() -> None:
    model = tiny_model(seed=7)
    piano = get_instrument("piano")
    frames = int(model.config.window * 30)
    features, mask = gen.window_inputs([random_joints(frames, seed=2)], (1280, 720), 30.0, 0, frames)

    def starts(motion: np.ndarray, resume: int = 0) -> set[int]:
        window = model.encode(features, mask, model.instrument_ids([piano]), 300)
        window.onsets = torch.from_numpy(_curve({15: 0.3, 45: 0.25, 75: 0.2}, frames, floor=0.01))[None]
        decoder = gen.WindowDecoder(model, piano, Sampling(onset_threshold=0.5, onset_mass=0.0),
                                    torch.Generator().manual_seed(0), [motion])
        track = gen.TrackState()
        decoder.run(window, [track], 0, resume, 300)
        return {start for start, *_ in track.notes} | {start for start, _ in track.sounding.values()}

    assert starts(np.array([], int)) == set()
    assert starts(np.array([3, 70])) == {50, 150}  # two strikes: the head's two strongest peaks
    assert starts(np.array([3, 70]), resume=100) == {150}  # a strike before the seam does not count
    assert starts(np.array([3, 70, 80]), resume=100) == {150, 250}
    model.config = replace(model.config, motion_floor_scale={"piano": 0.5})  # the piano's strikes count half
    assert starts(np.array([3, 20, 70, 80])) == {50, 150}
