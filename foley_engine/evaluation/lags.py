"""Scoring a real recording at the best clock lag, with chance at the generator's own density searched the same way.

The offset between a video and the notes recorded beside it is known only to about +-0.1 s. A 50 ms onset
window is narrower than that, so a score at one assumed offset says as much about the offset as about the
notes, and a mean over the window caps even a perfect transcription near 0.45. The fair number is the best
lag within the uncertainty, next to chance given the same search: random notes at the generator's own note
density (the pitches, velocities and lengths of the real notes, at random times), each draw at its own best
lag. A generator that plays more notes matches more by luck; only the distance above its own chance counts.
Where the reference is heard in a soundtrack, onsets heard together count once (HEARD_TOGETHER), and chance
plays as many heard onsets as the generator.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence

import numpy as np

from ..notes import Note, onset_groups

#: Suffix of the chance rows drawn at a generator's density: "chance at model's density".
DENSITY_CHANCE = "chance at {}'s density"
#: The lags searched are this far apart (s). Neither the clock offset nor the real notes fall on video frames, so
#: a search one frame (33 ms) apart can miss the lag a 50 ms window needs by up to 17 ms: on the shared piano clip,
#: whose camera clock drifts 2.7 ms/s against the instrument's, it cost the keys source 0.04 onset F1 over the
#: whole clip. Chance gets the same search.
LAG_STEP = 0.005
#: Onsets heard together (s). A soundtrack's transcription hears one plucked or bowed note as several notes
#: starting within a few tens of ms (its octave, another harmonic, a double stop), and a kit's one strike can
#: be a drum and a cymbal. Scored note by note, a player of one note at a time could match only one of each
#: group: a perfect one-note-at-a-time transcription of the shared double-bass clip scored 0.77 onset F1. So
#: onsets less than this after the first of a group join it and the first stands for it, as onset detection
#: is evaluated (madmom combines annotated onsets within 30 ms, after Böck, Krebs & Schedl, ISMIR 2012); a
#: generator's onsets are grouped the same way, so its chords count once too.
HEARD_TOGETHER = 0.03
#: How often chance_at_density draws an onset again that falls too near another.
_REDRAWS = 1000


def heard_onsets(notes: Sequence[Note], together: float) -> list[Note]:
    """The notes (sorted) that start a group of onsets heard together: a note starting at most `together` after
    the group's first joins that group (notes.onset_groups; madmom's combine_events, "left"). With 0, `notes`
    as they are: notes at one instant count one by one (a piano's chord from its MIDI: every key is played)."""
    if together <= 0:
        return list(notes)
    return [group[0] for group in onset_groups(notes, together)]


def chance_at_density(reference: Sequence[Note], count: int, duration: float, seed: int,
                      apart: float = 0.0) -> list[Note]:
    """`count` notes at uniformly random onsets in [0, duration), each taking the pitch, velocity and length of
    a real note drawn at random (with replacement: a generator may play more notes than there are real ones).
    With `apart` (s), onsets are drawn again until each is more than that from every other, so that `count`
    onsets are still `count` once those heard together are grouped (HEARD_TOGETHER)."""
    rng = np.random.default_rng(seed)
    if not reference or count <= 0:
        return []
    picks = rng.integers(0, len(reference), size=count)
    notes: list[Note] = []
    starts: list[float] = []  # sorted
    for pick in picks:
        model = reference[int(pick)]
        length = min(model.end - model.start, duration / 2)
        start = float(rng.uniform(0.0, max(duration - length, 1e-3)))
        for _ in range(_REDRAWS if apart else 0):  # bounded: a count the clip cannot hold apart ends crowded
            if not _near(starts, start, apart):
                break
            start = float(rng.uniform(0.0, max(duration - length, 1e-3)))
        insort(starts, start)
        notes.append(Note(start, start + length, model.pitch, model.velocity))
    return sorted(notes)


def _near(starts: list[float], start: float, apart: float) -> bool:
    """Whether a sorted `starts` has one within `apart` of `start`, inclusive."""
    at = bisect_left(starts, start)
    after = at < len(starts) and starts[at] - start <= apart + 1e-9
    return after or (at > 0 and start - starts[at - 1] <= apart + 1e-9)


def _f1(matches: np.ndarray, reference: int, estimated: int) -> np.ndarray:
    """F1 for every entry of `matches` (as mir_eval: 0 when a side is empty)."""
    if reference == 0 or estimated == 0:
        return np.zeros(len(matches))
    return 2 * np.asarray(matches, float) / (reference + estimated)


def _plateau_centre(curve: np.ndarray) -> int:
    """The index of the best score; where neighbouring lags tie (a 50 ms window spans several frames), the
    middle of that run of ties, which is where the notes sit closest."""
    first = int(np.argmax(curve))
    last = first
    while last + 1 < len(curve) and curve[last + 1] >= curve[first] - 1e-12:
        last += 1
    return (first + last) // 2


def best_lag(rows: Sequence[dict]) -> dict:
    """The best-lag scores of one generator's rows (every row scored at the same offsets; rows of several
    draws are searched draw by draw, then averaged, as each draw would be searched on its own).

    Returns onset and note F1 at the best lag (mean over draws), the best lag of the first draw (s), and the
    F1 at every offset for the first draw, so a report can show the whole curve. Rows whose reference has no
    pitches ("pitched": False, onsets heard in a soundtrack) count for onsets only; with none pitched, note F1
    and its lag are NaN (not applicable)."""
    offsets = rows[0]["offsets"]
    by_draw: dict[int, list[dict]] = {}
    for row in rows:
        by_draw.setdefault(row.get("draw", 0), []).append(row)
    results = []
    for draw_rows in by_draw.values():
        reference = sum(row["reference_onsets"] for row in draw_rows)
        estimated = sum(row["estimated_onsets"] for row in draw_rows)
        onsets = _f1(np.sum([row["onset_matches_offsets"] for row in draw_rows], axis=0), reference, estimated)
        pitched = [row for row in draw_rows if row.get("pitched", True)]
        notes = _f1(np.sum([row["note_matches_offsets"] for row in pitched], axis=0),
                    sum(row["reference"] for row in pitched), sum(row["estimated"] for row in pitched)
                    ) if pitched else np.full(len(offsets), np.nan)
        results.append((onsets, notes))
    first_onsets, first_notes = results[0]
    return {
        "offsets": offsets,
        "onset_f1": float(np.mean([onsets.max() for onsets, _ in results])),
        "note_f1": float(np.mean([notes.max() for _, notes in results])),
        "onset_lag": float(offsets[_plateau_centre(first_onsets)]),
        "note_lag": float(offsets[_plateau_centre(first_notes)]) if np.all(np.isfinite(first_notes)) else np.nan,
        "onset_f1_curve": [float(f) for f in first_onsets],
        "note_f1_curve": [float(f) for f in first_notes],
        "draws": len(results),
    }
