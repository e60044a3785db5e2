"""The onset-guidance threshold: chosen on validation clips, stored in the checkpoint, used by generation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from model_fixtures import random_joints, tiny_model

from foley_engine.instruments import get_instrument
from foley_engine.model.generate import generate_tracks
from foley_engine.model.sampling import Sampling
from foley_engine.notes import Note
from foley_engine.training import calibration
from foley_engine.training.batches import Performer


def test_the_threshold_that_separates_real_onsets_from_false_peaks_wins(monkeypatch) -> None:
    """Head peaks of 0.32 at every real onset and of 0.22 between them: only a threshold in (0.22, 0.32]
    keeps the first and drops the second; below, false peaks count; above, nothing does."""
    onsets = np.arange(10, 290, 20)
    curve = np.zeros(300, np.float32)
    curve[onsets] = 0.32
    curve[onsets[:-1] + 10] = 0.22
    notes = [Note(f / 30, f / 30 + 0.2, 60, 80) for f in onsets]
    performer = Performer(np.zeros((300, 67, 3), np.float16), notes, get_instrument("piano"), (640, 360), "t")
    monkeypatch.setattr(calibration, "onset_probabilities", lambda model, p: curve)
    threshold, scores = calibration.calibrate_onset_threshold(tiny_model(), [performer])
    assert threshold == 0.3 and scores[0.3] == 1.0
    assert scores[0.2] < 0.7 and scores[0.35] == 0.0


def test_generation_uses_the_models_own_threshold_unless_told() -> None:
    joints = [random_joints(210, seed=4)]
    piano = get_instrument("piano")
    model = tiny_model(seed=2)

    def notes(sampling: Sampling) -> list[Note]:
        return generate_tracks(model, joints, 30.0, (1280, 720), piano, 7.0, sampling=sampling, seed=0)[0][0]

    given = notes(Sampling(onset_threshold=0.6))
    model.config = replace(model.config, onset_threshold=0.6)
    assert notes(Sampling()) == given
    model.config = replace(model.config, onset_threshold=0.9)  # this random model's head is sure below 0.65
    assert notes(Sampling()) != given


def test_a_mass_wins_where_the_head_is_unsure_and_none_where_it_is_sure(monkeypatch) -> None:
    """An unsure head (0.3 at every real onset, 0.05 between) needs a mass to play at all; a sure one (0.9 at
    the onsets, weak false bumps between) is best left to its threshold."""
    onsets = np.arange(10, 290, 20)
    notes = [Note(f / 30, f / 30 + 0.2, 60, 80) for f in onsets]
    performer = Performer(np.zeros((300, 67, 3), np.float16), notes, get_instrument("piano"), (640, 360), "t")
    unsure = np.full(300, 0.05, np.float32)
    unsure[onsets] = 0.3
    sure = np.zeros(300, np.float32)
    sure[onsets] = 0.9
    sure[onsets[:-1] + 10] = 0.2
    for curve, wanted in ((unsure, lambda mass: mass > 0), (sure, lambda mass: mass == 0)):
        monkeypatch.setattr(calibration, "onset_probabilities", lambda model, p, curve=curve: curve)
        mass, scores = calibration.calibrate_onset_mass(tiny_model(), [performer], threshold=0.5)
        assert wanted(mass) and set(scores[mass]) == set(calibration.CONDITIONS)
    assert scores[0.0]["clean"] == 1.0 and scores[1.0]["clean"] < 1.0


def test_the_motion_floor_scale_is_real_onsets_per_strike_per_instrument_at_most_one(monkeypatch) -> None:
    """An instrument whose rules strike twice per real onset asks for half; one that strikes less asks for
    all of its strikes, not more; a chord is one onset moment."""
    onsets = np.arange(10, 290, 20)  # 14 onset moments
    notes = [Note(f / 30, f / 30 + 0.2, pitch, 80) for f in onsets for pitch in (60, 64)]

    def performer(name: str) -> Performer:
        return Performer(np.zeros((300, 67, 3), np.float16), notes, get_instrument(name), (640, 360), name)
    strikes = {"bass": np.arange(5, 285, 10), "flute": onsets[::2]}  # 28 and 7 strikes
    monkeypatch.setattr(calibration, "onset_probabilities", lambda model, p: np.zeros(300, np.float32))
    monkeypatch.setattr(calibration, "motion_onset_frames", lambda joints, rate, size, instrument:
                        strikes[instrument.name])
    scales = calibration.calibrate_motion_floor(tiny_model(), [performer("bass"), performer("flute")])
    assert scales == {"bass": 0.5, "flute": 1.0}

