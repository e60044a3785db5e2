"""The onset-guidance threshold, chosen on validation data instead of fixed by hand.

The onset head is trained with positives up-weighted, so its probabilities are not calibrated and 0.5 is not
special: the threshold at which its peaks best match the real onsets is a property of each trained model.
`calibrate_onset_threshold` sweeps candidate thresholds over whole validation clips (head peaks against the
clips' onsets, 50 ms) and returns the best; `foley train` stores it in the checkpoint's model config, where
generation reads it. Only validation data is used - never the evaluation split or a real recording.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .batches import Performer
from .generate import onset_times, single_thread, window_inputs
from .metrics import matched_onsets
from .network import FoleyModel

CANDIDATES = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))  # 0.10, 0.15, ... 0.90


@torch.inference_mode()
def onset_probabilities(model: FoleyModel, performer: Performer) -> np.ndarray:
    """(T,) onset-head probability of every frame of one performer's clip, window by window."""
    config = model.config
    frames = round(config.window * config.rate)
    ids = model.instrument_ids([performer.instrument])
    joints = [performer.joints.astype(np.float32)]
    result = np.zeros(len(performer.joints), np.float32)
    for first in range(0, len(result), frames):
        features, mask = window_inputs(joints, performer.frame_size, config.rate, first, frames)
        memory, _ = model.memory(features, mask, ids)
        probabilities = torch.sigmoid(model.onset_head(memory)[0, :, 0]).numpy()
        result[first:first + frames] = probabilities[:len(result) - first]
    return result


def calibrate_onset_threshold(model: FoleyModel, performers: Sequence[Performer],
                              candidates: Sequence[float] = CANDIDATES) -> tuple[float, dict[float, float]]:
    """The candidate whose head peaks match the performers' onsets best (pooled onset F1), and every
    candidate's F1. A model without an onset head keeps its configured threshold."""
    if model.onset_head is None or not performers:
        return model.config.onset_threshold, {}
    model.eval()
    counts = {t: np.zeros(3) for t in candidates}  # matches, reference, estimated
    with single_thread():
        for performer in performers:
            probabilities = onset_probabilities(model, performer)
            duration = len(probabilities) / model.config.rate
            truth = [n.start for n in performer.notes if n.start < duration]
            for threshold in candidates:
                found = onset_times(probabilities, threshold, 1.0) / model.config.rate
                counts[threshold] += (matched_onsets(truth, list(found)), len(truth), len(found))
    scores = {t: round(float(2 * m / max(1.0, r + e)), 4) for t, (m, r, e) in counts.items()}
    best = max(scores, key=lambda t: (scores[t], -abs(t - 0.5)))  # ties: the one nearer the middle
    return best, scores
