"""The onset-guidance rules (onsets.py), chosen on validation data instead of fixed by hand.

The onset head is trained with positives up-weighted, so its probabilities are not calibrated and 0.5 is not
special: the threshold at which its peaks best match the real onsets is a property of each trained model.
`calibrate_onset_threshold` sweeps candidate thresholds over whole validation clips (head peaks against the
clips' onsets, 50 ms) and returns the best. `calibrate_onset_mass` then chooses how many weaker peaks join
when the head is unsure, over the same clips seen three ways: as simulated, with fingers the tracker does not
follow, and with all playing motion smoothed away (footage that shows the playing less than the simulator
does; real top-down piano video is such footage). Each condition counts equally, so the mass that wins keeps
the model playing where it cannot see the strokes without costing much where it can. Onsets are picked as
generation picks them, with the motion floor (onsets.py) found on the joints as each condition shows them.
`calibrate_motion_floor` first sets how many onsets each instrument's motion strikes stand for: real onset
moments per strike on the clips as simulated, at most one, so an instrument whose rules over-count asks for
less. `foley train` stores all three in the checkpoint's model config, where generation reads them. Only
validation data is used - never the evaluation split or a real recording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from ..model.generate import single_thread
from ..model.network import FoleyModel
from ..model.onsets import distinct_frames, motion_floor, motion_onset_frames, onset_frames
from ..model.windows import window_inputs
from .batches import Performer, blur_fingers, hold_still
from .metrics import matched_onsets

CANDIDATES = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))  # 0.10, 0.15, ... 0.90
MASS_CANDIDATES = tuple(round(0.1 * i, 1) for i in range(11))  # 0.0 (threshold alone), 0.1, ... 1.0
#: How validation clips are seen for the mass: as simulated, fingers blurred over 0.5 s, all motion over 3 s.
CONDITIONS = {"clean": lambda joints: joints, "fingers_blurred": lambda joints: blur_fingers(joints, 15),
              "motion_smoothed": lambda joints: hold_still(joints, 90)}


@torch.inference_mode()
def onset_probabilities(model: FoleyModel, performer: Performer) -> np.ndarray:
    """(T,) onset-head probability of every frame of one performer's clip, window by window."""
    head = model.onset_head
    if head is None:
        raise ValueError("onset probabilities need a model with an onset head")
    config = model.config
    frames = round(config.window * config.rate)
    ids = model.instrument_ids([performer.instrument])
    joints = [performer.joints.astype(np.float32)]
    result = np.zeros(len(performer.joints), np.float32)
    for first in range(0, len(result), frames):
        features, mask = window_inputs(joints, performer.frame_size, config.rate, first, frames)
        memory, _ = model.memory(features, mask, ids)
        probabilities = torch.sigmoid(head(memory)[0, :, 0]).numpy()
        result[first:first + frames] = probabilities[:len(result) - first]
    return result


def calibrate_onset_threshold(model: FoleyModel, performers: Sequence[Performer],
                              candidates: Sequence[float] = CANDIDATES) -> tuple[float, dict[float, float]]:
    """The candidate whose head peaks match the performers' onsets best (pooled onset F1), and every
    candidate's F1. A model without an onset head keeps its configured threshold."""
    if model.onset_head is None or not performers:
        return model.config.onset_threshold, {}
    curves = _curves(model, performers)
    scores = {t: _pooled_f1(model, curves, t, 0.0, floor=False) for t in candidates}
    best = max(scores, key=lambda t: (scores[t], -abs(t - 0.5)))  # ties: the one nearer the middle
    return best, scores


def calibrate_motion_floor(model: FoleyModel, performers: Sequence[Performer]) -> dict[str, float]:
    """Per instrument of the performers: real onset moments per motion-onset strike on the clips as
    simulated, at most 1 (two decimals). Counts only: the network is not run. A model without an onset head
    needs none."""
    if model.onset_head is None:
        return {}
    rate = model.config.rate
    counts: dict[str, list[int]] = {}
    for performer in performers:
        motion = motion_onset_frames(performer.joints.astype(np.float32), rate, performer.frame_size,
                                     performer.instrument)
        truth = [n.start for n in performer.notes if n.start < len(performer.joints) / rate]
        real, strikes = counts.get(performer.instrument.name, (0, 0))
        counts[performer.instrument.name] = [real + len(distinct_frames(truth, rate)), strikes + len(motion)]
    return {name: round(min(1.0, real / strikes), 2) for name, (real, strikes) in sorted(counts.items()) if strikes}


def calibrate_onset_mass(model: FoleyModel, performers: Sequence[Performer], threshold: float,
                         candidates: Sequence[float] = MASS_CANDIDATES) -> tuple[float, dict[float, dict]]:
    """The candidate mass with the best mean pooled onset F1 over CONDITIONS at `threshold`, and every
    candidate's F1 per condition. A model without an onset head keeps its configured mass."""
    if model.onset_head is None or not performers:
        return model.config.onset_mass, {}
    curves = {name: _curves(model, performers, seen) for name, seen in CONDITIONS.items()}
    scores = {m: {name: _pooled_f1(model, c, threshold, m) for name, c in curves.items()}
              for m in candidates}
    best = max(scores, key=lambda m: (round(float(np.mean(list(scores[m].values()))), 4), -m))  # ties: less
    return best, scores


Curve = tuple[np.ndarray, list[float], np.ndarray, str]  # probabilities, true onsets, motion frames, instrument


def _curves(model: FoleyModel, performers: Sequence[Performer],
            seen: Callable[[np.ndarray], np.ndarray] = CONDITIONS["clean"]) -> list[Curve]:
    """(onset-head probabilities, true onset times within the clip, motion-onset frames, instrument name)
    of each performer, joints seen `seen`."""
    model.eval()
    result = []
    with single_thread():
        for performer in performers:
            joints = seen(performer.joints.astype(np.float32))
            probabilities = onset_probabilities(model, replace(performer, joints=joints))
            duration = len(probabilities) / model.config.rate
            motion = motion_onset_frames(joints, model.config.rate, performer.frame_size, performer.instrument)
            result.append((probabilities, [n.start for n in performer.notes if n.start < duration], motion,
                           performer.instrument.name))
    return result


def _pooled_f1(model: FoleyModel, curves: list[Curve], threshold: float, mass: float, floor: bool = True) -> float:
    """Onset F1 (50 ms) of the guided onsets of every curve against its true onsets, counts pooled; onsets
    are picked window by window, as generation does, with the motion floor unless `floor` is False."""
    rate = model.config.rate
    window = round(model.config.window * rate)
    counts = np.zeros(3)  # matches, reference, estimated
    for probabilities, truth, motion, instrument in curves:
        scale = model.config.motion_floor_scale.get(instrument, 1.0) if floor else 0.0
        frames = np.concatenate([
            onset_frames(probabilities[:first + window], threshold, mass, first,
                         motion_floor(motion, first, first + window, scale))
            for first in range(0, len(probabilities), window)])
        counts += (matched_onsets(truth, list(frames / rate)), len(truth), len(frames))
    matches, reference, estimated = counts
    return round(float(2 * matches / max(1.0, reference + estimated)), 4)
