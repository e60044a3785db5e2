"""Onset F1, the number training watches on the validation split (the full report lives in evaluation).

Onsets match one-to-one within a tolerance, as mir_eval.onset does; for 1-D onsets a greedy sweep over both
sorted lists finds a maximum matching, so no extra dependency is needed here.
"""

from __future__ import annotations

from collections.abc import Sequence


def matched_onsets(reference: Sequence[float], estimated: Sequence[float], tolerance: float = 0.05) -> int:
    """Size of a maximum one-to-one matching of onsets closer than `tolerance` seconds."""
    ref, est = sorted(reference), sorted(estimated)
    i = j = matches = 0
    while i < len(ref) and j < len(est):
        if abs(ref[i] - est[j]) <= tolerance:
            matches, i, j = matches + 1, i + 1, j + 1
        elif est[j] < ref[i]:
            j += 1
        else:
            i += 1
    return matches


def onset_f1(reference: Sequence[float], estimated: Sequence[float], tolerance: float = 0.05) -> float:
    """F-measure of estimated vs reference onsets; 1.0 when both are empty."""
    if not reference and not estimated:
        return 1.0
    matches = matched_onsets(reference, estimated, tolerance)
    return 2.0 * matches / (len(reference) + len(estimated))
