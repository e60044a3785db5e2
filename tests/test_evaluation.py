"""Evaluation metrics against mir_eval itself, the report files, the `foley eval` command and the real clip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mir_eval
import numpy as np
import pytest
from test_alignment import FAST_POSE, PIANO_OFFSET

from foley_engine.cli import main
from foley_engine.data.shards import Example, write_shard
from foley_engine.evaluation.scoring import aggregate, chance_notes, evaluate, score
from foley_engine.instruments import Instrument, get_instrument
from foley_engine.keypoints import Keypoints
from foley_engine.notes import Note, Performance


def random_notes(seed: int, count: int = 40, seconds: float = 20.0) -> list[Note]:
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(0, seconds, count))
    return [Note(float(s), float(s + rng.uniform(0.1, 0.6)), int(rng.integers(40, 90)), int(rng.integers(20, 120)))
            for s in starts]


def moved(notes: list[Note], seconds: float) -> list[Note]:
    return [Note(n.start + seconds, n.end + seconds, n.pitch, n.velocity) for n in notes]


def test_scores_agree_with_mir_eval() -> None:
    reference, estimated = random_notes(1), random_notes(2) + moved(random_notes(1)[:25], 0.02)
    estimated.sort()
    result = score(reference, estimated)
    f, p, r = mir_eval.onset.f_measure(np.array([n.start for n in reference]),
                                       np.array([n.start for n in estimated]), window=0.05)
    assert (result["onset_f1"], result["onset_precision"], result["onset_recall"]) == pytest.approx((f, p, r))
    hz = [mir_eval.util.midi_to_hz(np.array([n.pitch for n in notes], float)) for notes in (reference, estimated)]
    intervals = [np.array([[n.start, n.end] for n in notes]) for notes in (reference, estimated)]
    expected = mir_eval.transcription.precision_recall_f1_overlap(intervals[0], hz[0], intervals[1], hz[1],
                                                                  onset_tolerance=0.05, offset_ratio=None)
    assert result["note_f1"] == pytest.approx(expected[2])
    assert 25 <= result["note_matches"] <= result["onset_matches"]


def test_perfect_late_and_wrong_generators() -> None:
    truth = random_notes(3)
    perfect = score(truth, truth)
    assert perfect["onset_f1"] == perfect["note_f1"] == pytest.approx(1.0)
    assert perfect["timing_error_ms"] == pytest.approx(0.0)
    assert perfect["velocity_r"] == pytest.approx(1.0)
    assert perfect["density_ratio"] == pytest.approx(1.0)
    late = score(truth, moved(truth, 0.07))  # outside the 50 ms window (only chance neighbours), inside 100 ms
    assert late["onset_f1"] < 0.3 and late["onset_f1_100ms"] == pytest.approx(1.0)
    assert late["timing_error_ms"] == pytest.approx(70.0, abs=0.5)
    assert late["timing_bias_ms"] == pytest.approx(70.0, abs=0.5)
    transposed = score(truth, [Note(n.start, n.end, n.pitch + 2, n.velocity) for n in truth])
    assert transposed["onset_f1"] == pytest.approx(1.0) and transposed["note_f1"] == 0.0
    doubled = score(truth, sorted(truth + moved(truth, 0.3)))
    assert doubled["density_ratio"] == pytest.approx(2.0)


def test_undefined_numbers_are_nan_not_errors() -> None:
    truth = random_notes(4)
    silent = score(truth, [])
    assert silent["onset_f1"] == 0.0 and math.isnan(silent["timing_error_ms"]) and math.isnan(silent["velocity_r"])
    flat = score(truth, [Note(n.start, n.end, n.pitch, 64) for n in truth])
    assert math.isnan(flat["velocity_r"])  # no variation in the generated velocities
    assert math.isnan(score([], truth)["density_ratio"])


def test_aggregate_pools_counts_not_ratios() -> None:
    rows = [score(random_notes(5, count=10), random_notes(5, count=10)) | {"seconds": 20.0},
            score(random_notes(6, count=90), []) | {"seconds": 20.0}]
    pooled = aggregate(rows)
    assert pooled["reference"] == 100 and pooled["onset_matches"] == 10
    assert pooled["onset_recall"] == pytest.approx(0.1)
    assert pooled["onset_precision"] == pytest.approx(1.0)
    assert pooled["velocity_r_examples"] == 1


def test_chance_notes_keep_count_and_stay_in_the_clip() -> None:
    truth = random_notes(7)
    chance = chance_notes(truth, 20.0, seed=1)
    assert len(chance) == len(truth) and all(0 <= n.start < n.end <= 20.0 + 1e-9 for n in chance)
    assert sorted(n.pitch for n in chance) == sorted(n.pitch for n in truth)
    assert chance == chance_notes(truth, 20.0, seed=1)


def examples(count: int = 4) -> list[Example]:
    """Examples whose keypoints carry their index in the first sample, so a test generator can look it up."""
    result = []
    for index in range(count):
        body = np.zeros((1, 300, 25, 3), np.float32)
        body[0, 0, 0] = (index, 0, 1)
        keypoints = Keypoints(30.0, 0.0, body, np.zeros((1, 300, 2, 21, 3), np.float32), (640, 480))
        instrument = ("piano", "violin")[index % 2]
        result.append(Example(keypoints, [random_notes(index, 20, 9.0)], instrument, f"test:{index}", "test"))
    return result


def test_evaluate_writes_report_tables_and_rolls(tmp_path: Path) -> None:
    data = examples()

    def oracle(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, data[int(keypoints.body[0, 0, 0, 0])].tracks, "oracle")

    def silent(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [[]], "silent")

    report = evaluate({"oracle": oracle, "silent": silent}, data, tmp_path, meta={"split": "test"},
                      rolls_per_instrument=1)
    summary = report.summary()
    assert summary["overall"]["oracle"]["onset_f1"] == pytest.approx(1.0)
    assert summary["overall"]["silent"]["onset_f1"] == 0.0
    assert 0.0 < summary["overall"]["chance"]["onset_f1"] < 1.0
    assert set(summary["instruments"]) == {"piano", "violin"}
    assert summary["instruments"]["violin"]["oracle"]["examples"] == 2
    stored = json.loads((tmp_path / "report.json").read_text())
    assert stored["summary"]["overall"]["silent"]["timing_error_ms"] is None  # NaN -> null: strict JSON
    markdown = (tmp_path / "report.md").read_text()
    assert "| violin | oracle | 2 |" in markdown and "**split**: test" in markdown
    assert len(report.rolls) == 4  # one example per instrument, for both generators
    for roll in report.rolls:
        assert (tmp_path / roll).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draws_pool_with_counts_per_draw(tmp_path: Path) -> None:
    """A sampling generator given as several draws: one row per draw, counts shown per draw, each draw's F1
    listed; chance is drawn several times too, with different seeds."""
    data = examples(2)

    def oracle(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, data[int(keypoints.body[0, 0, 0, 0])].tracks, "oracle")

    def silent(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        return Performance(instrument, duration, [[]], "silent")

    report = evaluate({"mixed": [oracle, silent, oracle]}, data, tmp_path, chance_draws=5)
    mixed = report.summary()["overall"]["mixed"]
    real = sum(len(e.tracks[0]) for e in data)
    assert mixed["draws"] == 3 and mixed["examples"] == 2 and mixed["reference"] == real
    assert mixed["onset_f1_draws"] == [1.0, 0.0, 1.0]
    assert mixed["onset_recall"] == pytest.approx(2 / 3)
    chance = report.summary()["overall"]["chance"]
    assert chance["draws"] == 5 and chance["reference"] == real
    assert len(set(chance["onset_f1_draws"])) > 1  # the draws differ
    assert "mixed: 3 draws pooled; onset F1 of each draw: 1.000, 0.000, 1.000" in (tmp_path / "report.md").read_text()


def test_eval_command_on_shards_with_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from foley_engine.data.performers import perform

    rng = np.random.default_rng(0)
    rows = []
    for name in ("marimba", "cello"):
        notes = random_notes(len(rows), 12, 7.0)
        rows.append(Example(perform([notes], get_instrument(name), 8.0, rng), [notes], name, f"synthetic:{name}",
                            "test"))
    write_shard(rows, tmp_path / "data" / "test-00000.npz")
    write_shard(rows[:1], tmp_path / "data" / "train-00000.npz")
    assert main(["eval", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "report"), "--rolls", "0"]) == 0
    stored = json.loads((tmp_path / "report" / "report.json").read_text())
    assert stored["generators"] == ["baseline", "chance"]
    assert stored["summary"]["overall"]["baseline"]["examples"] == 2  # the train shard is not read
    assert "baseline: onset F1" in capsys.readouterr().out
    assert main(["eval", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "report")]) == 5  # exists
    assert main(["eval", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "m"),
                 "--model", str(tmp_path / "missing.pt")]) == 7
    assert main(["eval", "--out", str(tmp_path / "none")]) == 3
    assert main(["eval", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "s"), "--offset-spread", "-1"]) == 3
    assert "--offset-spread must be between 0 and 2 s" in capsys.readouterr().err
    assert main(["eval", "--real", str(tmp_path), "--out", str(tmp_path / "r"), "--range", "20", "8"]) == 3
    assert "--range needs 0 <= START < END, got 20 8" in capsys.readouterr().err


@pytest.mark.real_media
def test_real_recordings_are_scored_across_clock_offsets(tmp_path: Path) -> None:
    """A generator that plays the real notes 33 ms late scores 1 at the estimated offset and less far enough
    away; only recordings (split "real") get offsets, and the report tabulates them."""
    recording, synthetic = examples(2)
    recording = Example(recording.keypoints, [[Note(1.0 + 0.2 * i, 1.1 + 0.2 * i, 60, 80) for i in range(30)]],
                        "piano", "recording:test", "real")
    data = [recording, synthetic]

    def late(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        index = int(keypoints.body[0, 0, 0, 0])
        return Performance(instrument, duration, [moved(data[index].tracks[0], 1 / 30)], "late")

    report = evaluate({"late": late}, data, tmp_path, offset_spread=0.1, chance_draws=2)
    rows = [row for row in report.rows if row["generator"] == "late"]
    assert rows[0]["offsets"] == pytest.approx([k * 0.005 for k in range(-20, 21)], abs=1e-4)
    assert "offsets" not in rows[1]
    offsets = report.summary()["overall"]["late"]["onset_f1_offsets"]
    assert offsets["onset_f1"][20] == pytest.approx(1.0)  # zero shift: every note within 50 ms
    assert offsets["onset_f1"][27] == pytest.approx(1.0)  # real notes moved (35 ms) onto the late ones (33 ms)
    assert offsets["onset_f1"][0] == 0.0 and offsets["min"] == 0.0 and offsets["max"] == 1.0
    assert 0.0 < offsets["mean"] < 1.0
    markdown = (tmp_path / "report.md").read_text()
    assert "## Clock-offset sensitivity (real recordings)" in markdown
    assert f"| late | {report.summary()['overall']['late']['onset_f1']:.3f} | {offsets['mean']:.3f} | 0.000 | 1.000 |" \
        in markdown


def test_real_piano_report(piano_video: Path, piano_midi: Path, tmp_path: Path) -> None:
    """The shared clip end to end: keypoints, offset from motion, MIDI shifted onto the video, baseline scored."""
    from foley_engine.cli.evaluate import motion_generator
    from foley_engine.data.recordings import load_recording

    example, provenance = load_recording(piano_video.parent, "piano", settings=FAST_POSE)
    assert provenance["alignment"]["offset"] == pytest.approx(PIANO_OFFSET, abs=0.1)
    assert provenance["notes_evaluated"] == provenance["notes_in_midi"] == 196
    assert example.keypoints.start == pytest.approx(provenance["range_seconds"][0], abs=1 / 30)
    first = min(n.start for n in example.tracks[0])
    assert first == pytest.approx(1.0, abs=0.05)  # the example starts a 1 s margin before the first note
    report = evaluate({"baseline": motion_generator("baseline")}, [example], tmp_path, meta={"recording": provenance})
    baseline = report.summary()["overall"]["baseline"]
    assert baseline["reference"] == 196 and baseline["estimated"] > 0
    assert (tmp_path / "report.md").is_file()
