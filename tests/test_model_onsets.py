"""Guided onsets: peaks the head is sure of, and as many weaker ones as its probability mass calls for."""

from __future__ import annotations

import numpy as np
import torch

from foley_engine.instruments import get_instrument
from foley_engine.model import generate as gen
from foley_engine.model.generate import Sampling
from foley_engine.model.onsets import onset_frames, onset_times

from model_fixtures import random_joints, tiny_model


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
