"""Best-lag scoring of real recordings, with chance at the generator's own density searched the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_evaluation import examples, moved

from foley_engine.data.shards import Example
from foley_engine.evaluation.lags import DENSITY_CHANCE, chance_at_density
from foley_engine.evaluation.scoring import evaluate, onset_f1_at_best_lag
from foley_engine.instruments import Instrument
from foley_engine.keypoints import Keypoints
from foley_engine.notes import Note, Performance

MELODY = [Note(1.0 + 0.23 * i, 1.15 + 0.23 * i, 60 + (i * 5) % 17, 80) for i in range(30)]


def test_chance_at_density_has_the_generators_count_and_the_real_pitches() -> None:
    notes = chance_at_density(MELODY, 75, 10.0, seed=3)
    assert len(notes) == 75 and notes == sorted(notes)
    assert {n.pitch for n in notes} <= {n.pitch for n in MELODY}
    assert all(0 <= n.start < n.end <= 10.0 for n in notes)
    assert notes == chance_at_density(MELODY, 75, 10.0, seed=3) != chance_at_density(MELODY, 75, 10.0, seed=4)
    assert chance_at_density([], 5, 10.0, 0) == [] and chance_at_density(MELODY, 0, 10.0, 0) == []


def test_one_onset_f1_at_the_best_lag_and_chance_searched_the_same_way() -> None:
    """Onsets heard 60 ms late: no match at the soundtrack's own clock (50 ms), every one at the best lag
    within +-0.1 s, none when the search is narrower; chance at that density stays well under it."""
    reference = [Note(0.5 + 0.37 * k, 0.6 + 0.37 * k, 60, 100) for k in range(20)]
    late = [Note(note.start + 0.06, note.end + 0.06, 60, 100) for note in reference]
    assert onset_f1_at_best_lag(reference, late, 8.0) == pytest.approx(1.0)
    assert onset_f1_at_best_lag(reference, late, 8.0, spread=0.005) == 0.0
    assert onset_f1_at_best_lag(reference, late, 8.0, draws=20) < 0.6


def _recording() -> list[Example]:
    recording = examples(1)[0]
    return [Example(recording.keypoints, [MELODY], "piano", "recording:test", "real")]


def test_the_best_lag_finds_a_transcription_70_ms_off_and_chance_is_searched_the_same_way(tmp_path: Path) -> None:
    """A perfect transcription on a clock 70 ms off scores 0 at the estimate but 1 at the best lag, onset and
    note alike; playing the right times at wrong pitches wins the onsets only; chance at each generator's own
    density gets the same search and stays far below."""
    data = _recording()

    def perfect_but_late(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [moved(MELODY, 0.07)], "late")

    def wrong_pitches(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [[Note(n.start, n.end, n.pitch + 1, 80) for n in MELODY]], "off")

    def busy(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [chance_at_density(MELODY, 150, duration, seed=11)], "busy")

    report = evaluate({"late": perfect_but_late, "off": wrong_pitches, "busy": busy}, data, tmp_path,
                      offset_spread=0.1, chance_draws=8)
    overall = report.summary()["overall"]
    late, off = overall["late"]["best_lag"], overall["off"]["best_lag"]
    assert overall["late"]["onset_f1"] < 0.1, "at the estimate the late transcription misses"
    assert late["onset_f1"] == pytest.approx(1.0) and late["note_f1"] == pytest.approx(1.0)
    # every lag from 20 ms up to the window's end (100 ms) matches all: the lag is that run's middle
    assert late["onset_lag"] == pytest.approx(0.06) and late["note_lag"] == pytest.approx(0.06)
    assert off["onset_f1"] == pytest.approx(1.0) and off["note_f1"] == 0.0
    chance_late = overall[DENSITY_CHANCE.format("late")]["best_lag"]
    chance_busy = overall[DENSITY_CHANCE.format("busy")]["best_lag"]
    assert chance_late["draws"] == 8 and overall[DENSITY_CHANCE.format("late")]["estimated"] == 30
    assert chance_late["onset_f1"] < 0.6 and chance_late["note_f1"] < 0.2
    assert overall[DENSITY_CHANCE.format("busy")]["estimated"] == 150
    assert abs(overall["busy"]["best_lag"]["onset_f1"] - chance_busy["onset_f1"]) < 0.15, (
        "random notes at the busy density score like the chance drawn at that density")
    markdown = (tmp_path / "report.md").read_text()
    assert "## Best clock lag (real recordings)" in markdown
    assert f"| late | 30 | 1.000 (+60 ms) | {chance_late['onset_f1']:.3f} | 1.000 (+60 ms) |" in markdown


def test_a_clock_lag_between_two_video_frames_is_found(tmp_path: Path) -> None:
    """Notes recorded from an instrument are not on the video's frames, and neither is the clock offset: a
    transcription timed between frames, 17 ms late and scattered by +-40 ms around that, has every onset within
    50 ms only at lags near 17 ms, which a search one video frame (33 ms) apart never tries."""
    data = _recording()
    scattered = [Note(n.start + 0.017 + (0.04 if i % 2 else -0.04), n.end, n.pitch, 80) for i, n in enumerate(MELODY)]

    def between_frames(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [scattered], "between")

    report = evaluate({"between": between_frames}, data, tmp_path, offset_spread=0.1, chance_draws=2)
    best = report.summary()["overall"]["between"]["best_lag"]
    assert best["onset_f1"] == pytest.approx(1.0) and best["note_f1"] == pytest.approx(1.0)
    assert best["onset_lag"] == pytest.approx(0.017, abs=0.006)


def test_synthetic_examples_get_no_lag_search(tmp_path: Path) -> None:
    data = examples(2)

    def silent(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [[]], "silent")

    report = evaluate({"silent": silent}, data, tmp_path, offset_spread=0.1, chance_draws=2)
    assert "best_lag" not in report.summary()["overall"]["silent"]
    assert not any(row["generator"].startswith("chance at") for row in report.rows)
    assert "Best clock lag" not in (tmp_path / "report.md").read_text()
    assert np.isfinite(report.summary()["overall"]["silent"]["onset_f1"])


def test_a_reference_without_pitches_has_no_note_f1_and_leaves_the_pitched_ones_alone(tmp_path: Path) -> None:
    """Onsets heard in a soundtrack carry no pitch: their note F1 is n/a (not 0), and pooled with a recording
    that has pitches, note F1 is that recording's alone."""
    recording = _recording()[0]
    onsets = Example(recording.keypoints, [MELODY], "piano", "soundtrack:onsets", "real")

    def exact(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [MELODY], "exact")

    alone = evaluate({"exact": exact}, [onsets], tmp_path / "alone", offset_spread=0.1, chance_draws=2,
                     unpitched={onsets.source}).summary()["overall"]
    assert alone["exact"]["onset_f1"] == pytest.approx(1.0) and np.isnan(alone["exact"]["note_f1"])
    assert alone["exact"]["best_lag"]["onset_f1"] == pytest.approx(1.0)
    assert np.isnan(alone["exact"]["best_lag"]["note_f1"]) and np.isnan(alone["exact"]["best_lag"]["note_lag"])
    assert np.isnan(alone[DENSITY_CHANCE.format("exact")]["best_lag"]["note_f1"])
    markdown = (tmp_path / "alone" / "report.md").read_text()
    assert "| exact | 30 | 1.000 (+0 ms) |" in markdown and "| n/a | n/a | 1.000 / n/a |" in markdown
    assert "NaN" not in (tmp_path / "alone" / "report.json").read_text()

    both = evaluate({"exact": exact}, [onsets, recording], tmp_path / "both", offset_spread=0.1, chance_draws=2,
                    unpitched={onsets.source}).summary()["overall"]["exact"]
    assert both["onset_f1"] == both["note_f1"] == pytest.approx(1.0), "the onsets' 30 notes are not counted as misses"
    assert both["best_lag"]["note_f1"] == pytest.approx(1.0) and both["best_lag"]["note_lag"] == 0.0


def _heard_as_two(notes: list[Note]) -> list[Note]:
    """What a transcription of a soundtrack gives for a one-note-at-a-time player: every note, and its octave
    starting 20 ms later (a harmonic heard as a note of its own)."""
    octaves = [Note(n.start + 0.02, n.end, n.pitch + 12, n.velocity) for n in notes]
    return sorted(notes + octaves)


def test_onsets_heard_together_in_a_soundtrack_are_one_onset(tmp_path: Path) -> None:
    """A player's every note heard with its octave 20 ms later: the one-note-at-a-time transcription matches
    every heard onset (F1 1.0; 0.67 counting the octaves as onsets of their own), and note F1 still counts
    notes; chance draws as many heard onsets as the generator plays, none of them merged."""
    recording = _recording()[0]
    heard = Example(recording.keypoints, [_heard_as_two(MELODY)], "piano", "soundtrack:bass", "real")

    def one_at_a_time(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [MELODY], "mono")

    def chords(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [_heard_as_two(MELODY)], "chords")

    generators = {"mono": one_at_a_time, "chords": chords}
    as_heard = evaluate(generators, [heard], tmp_path / "heard", offset_spread=0.1, chance_draws=4,
                        heard={heard.source}).summary()["overall"]
    by_note = evaluate(generators, [heard], tmp_path / "notes", offset_spread=0.1,
                       chance_draws=4).summary()["overall"]
    mono = as_heard["mono"]
    assert mono["onset_f1"] == pytest.approx(1.0) and mono["best_lag"]["onset_f1"] == pytest.approx(1.0)
    assert by_note["mono"]["onset_f1"] == pytest.approx(2 / 3)
    assert mono["note_f1"] == pytest.approx(2 / 3), "notes are still notes: the octaves are not played"
    assert as_heard["chords"]["onset_f1"] == pytest.approx(1.0) and as_heard["chords"]["note_f1"] == pytest.approx(1.0)
    assert mono["reference_onsets"] == mono["estimated_onsets"] == 30 and mono["reference"] == 60
    chance = as_heard[DENSITY_CHANCE.format("chords")]
    assert chance["estimated_onsets"] == chance["estimated"] == 30, "chance plays as many heard onsets as chords"
    assert chance["best_lag"]["onset_f1"] < 0.7


def test_chance_apart_keeps_every_onset_heard_on_its_own() -> None:
    notes = chance_at_density(MELODY, 120, 10.0, seed=5, apart=0.03)
    starts = np.array([n.start for n in notes])
    assert len(notes) == 120 and np.diff(starts).min() > 0.03
    assert np.diff([n.start for n in chance_at_density(MELODY, 120, 10.0, seed=5)]).min() < 0.03, (
        "without `apart`, 120 random onsets in 10 s crowd somewhere")
