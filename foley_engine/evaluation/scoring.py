"""How close generated notes come to what was really played: mir_eval metrics, per instrument, as a report.

Every generator (the baseline always, the learned model when given) plays every held-out example, and its
notes are compared with the example's ground truth (all performers' notes pooled, as one clip sounds):

* onset P/R/F1 - mir_eval.onset, one-to-one matching within 50 ms (the headline) and within 100 ms;
* note F1      - mir_eval.transcription with pitch (50 cents), onset within 50 ms, offsets ignored;
* timing error - median |generated - real| onset time of onsets matched within 100 ms (the wider window, so
                 a generator that is consistently 60 ms late shows 60 ms instead of no matches), plus the
                 median signed error (positive = late);
* velocity r   - Pearson correlation of the velocities of onsets matched within 50 ms (pitch ignored, so
                 dynamics are judged even when pitches are wrong); undefined (n/a) below 3 pairs or without
                 variation in either, and averaged over the examples where it is defined;
* density      - generated notes per second / real notes per second (1 = as busy as the player).

A reference heard in a soundtrack is scored by the onsets heard: notes starting less than HEARD_TOGETHER
after the first of a group are one onset, in the reference and in every generator alike (see there); note
F1 still counts notes.

A real recording's MIDI clock is aligned to the video by an estimate (recordings.load_recording), and a 50 ms
window is narrower than that estimate's uncertainty. Music is periodic, so a generator that plays at the
pulse scores high or low depending on where a few tens of ms put its phase. With `offset_spread`, real
recordings are also scored with the real notes shifted by every LAG_STEP within +-spread of the
estimate (the offset is no whole number of video frames, nor are the real notes' times), and the report
gives each generator's onset F1 across those clock offsets (mean, lowest, highest) next to the one at the
estimate.

A "chance" row scores the real notes replayed at uniformly random times (pitches and velocities shuffled,
seeded): what knowing only how many notes there are, and which, is worth. At a few notes per second
random onsets already match a third of the notes within 50 ms, so a generator is judged by its distance
above that row, not above zero. One random draw is itself noisy (on a 40 s clip one draw's onset F1 can be
0.07 off the mean), so chance is drawn several times, and a sampling generator can be given as several draws
(one per seed): their rows pool, and the report lists each draw's F1 beside the pooled one.

Aggregates pool the match counts (micro-average), so a long clip weighs more than a short one, and the
reference notes and seconds behind every number are in the tables (per draw).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mir_eval
import numpy as np

from ..data.shards import Example
from ..errors import FoleyError
from ..instruments import Instrument, get_instrument
from ..keypoints import Keypoints
from ..notes import Note, Performance
from ..outputs import atomic_path, slug, write_json
from .lags import DENSITY_CHANCE, HEARD_TOGETHER, LAG_STEP, best_lag, chance_at_density, heard_onsets
from .plots import piano_roll_png

Generator = Callable[[Keypoints, Instrument, float], Performance]
Draws = Generator | Sequence[Generator]  # one generator, or several draws of one (e.g. one per seed)

ONSET_WINDOW = 0.05
WIDE_WINDOW = 0.1
MIN_VELOCITY_PAIRS = 3
CHANCE = "chance"
_COUNTS = ("reference", "estimated", "reference_onsets", "estimated_onsets", "onset_matches", "onset_matches_100ms",
           "note_matches")
#: Columns of the Markdown tables: (key in the aggregate, header, format).
_COLUMNS = (("estimated", "notes", "{:d}"), ("onset_precision", "onset P", "{:.3f}"),
            ("onset_recall", "onset R", "{:.3f}"), ("onset_f1", "onset F1", "{:.3f}"),
            ("onset_f1_100ms", "onset F1 100ms", "{:.3f}"), ("note_f1", "note F1", "{:.3f}"),
            ("timing_error_ms", "|Δt| ms", "{:.0f}"), ("timing_bias_ms", "bias ms", "{:+.0f}"),
            ("velocity_r", "velocity r", "{:.2f}"), ("density_ratio", "density", "{:.2f}"))


def score(reference: Sequence[Note], estimated: Sequence[Note], shifts: Sequence[float] = (),
          pitched: bool = True, together: float = 0.0) -> dict:
    """All metrics of one generated note list against the real one, plus the counts that pool them; with
    `shifts`, also the onset matches (50 ms) with the real notes moved by each shift (seconds).

    A reference that is not `pitched` (onsets heard in a soundtrack) has no pitches to match: its note F1 is
    not applicable (NaN, "n/a") and it is left out of pooled note F1. With `together` (HEARD_TOGETHER for a
    soundtrack), onsets are scored as heard_onsets groups them, on both sides; notes as they are."""
    ref = sorted(reference)
    est = sorted(estimated)
    ref_heard, est_heard = heard_onsets(ref, together), heard_onsets(est, together)
    ref_on = np.array([n.start for n in ref_heard])
    est_on = np.array([n.start for n in est_heard])
    matches = mir_eval.util.match_events(ref_on, est_on, ONSET_WINDOW) if ref and est else []
    wide = mir_eval.util.match_events(ref_on, est_on, WIDE_WINDOW) if ref and est else []
    note_matches = 0
    if ref and est and pitched:
        note_matches = len(mir_eval.transcription.match_notes(
            _intervals(ref), _hertz(ref), _intervals(est), _hertz(est), onset_tolerance=ONSET_WINDOW,
            offset_ratio=None))
    errors = [est_on[j] - ref_on[i] for i, j in wide]
    result = {"reference": len(ref), "estimated": len(est), "reference_onsets": len(ref_on),
              "estimated_onsets": len(est_on), "onset_matches": len(matches), "onset_matches_100ms": len(wide),
              "note_matches": note_matches, "timing_errors": [round(float(e), 4) for e in errors],
              "velocity_r": _pearson([ref_heard[i].velocity for i, _ in matches],
                                     [est_heard[j].velocity for _, j in matches])}
    if not pitched:
        result["pitched"] = False
    if len(shifts):
        result["offsets"] = [round(float(shift), 4) for shift in shifts]
        result["onset_matches_offsets"] = [
            len(mir_eval.util.match_events(ref_on + shift, est_on, ONSET_WINDOW)) if ref and est else 0
            for shift in shifts]
        result["note_matches_offsets"] = [
            len(mir_eval.transcription.match_notes(
                _intervals(ref) + shift, _hertz(ref), _intervals(est), _hertz(est), onset_tolerance=ONSET_WINDOW,
                offset_ratio=None)) if ref and est and pitched else 0
            for shift in shifts]
    return result | _rates(result)


def chance_notes(reference: Sequence[Note], duration: float, seed: int) -> list[Note]:
    """The reference notes at uniformly random onsets (same count, durations; pitches and velocities shuffled)."""
    rng = np.random.default_rng(seed)
    notes = list(reference)
    pitches = rng.permutation([n.pitch for n in notes])
    velocities = rng.permutation([n.velocity for n in notes])
    result = []
    for note, pitch, velocity in zip(notes, pitches, velocities, strict=True):
        length = min(note.end - note.start, duration / 2)
        start = float(rng.uniform(0.0, max(duration - length, 1e-3)))
        result.append(Note(start, start + length, int(pitch), int(velocity)))
    return sorted(result)


def onset_f1_at_best_lag(reference: Sequence[Note], estimated: Sequence[Note], duration: float, draws: int = 0,
                         spread: float = 0.1) -> float:
    """Onset F1 (50 ms) of `estimated` against a reference without pitches (a soundtrack's onsets) at the best
    clock lag within +-`spread`, every LAG_STEP; with `draws`, chance's instead: that many draws at
    `estimated`'s own density over `duration`, each searched the same way. One number for a test or a script
    (scripts/snare-cameras.py); `foley eval` reports the same search with everything around it."""
    shifts = _offsets(spread)
    if not draws:
        return float(best_lag([score(reference, estimated, shifts, pitched=False)])["onset_f1"])
    rows = [score(reference, chance_at_density(reference, len(estimated), duration, seed), shifts, pitched=False)
            | {"draw": seed} for seed in range(draws)]
    return float(best_lag(rows)["onset_f1"])


def _intervals(notes: Sequence[Note]) -> np.ndarray:
    return np.array([[n.start, n.end] for n in notes], dtype=float)


def _hertz(notes: Sequence[Note]) -> np.ndarray:
    return np.asarray(mir_eval.util.midi_to_hz(np.array([n.pitch for n in notes], dtype=float)), dtype=float)


def _pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson r, NaN when it is undefined (too few pairs, or one side constant)."""
    if len(a) < MIN_VELOCITY_PAIRS or np.std(a) == 0 or np.std(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def _f1(matches: int, reference: int, estimated: int) -> tuple[float, float, float]:
    """Precision, recall, F1 as mir_eval defines them (0 when a side is empty)."""
    precision = matches / estimated if estimated else 0.0
    recall = matches / reference if reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _rates(counts: dict) -> dict:
    """The ratio metrics of (pooled) counts and timing errors."""
    onsets = counts["reference_onsets"], counts["estimated_onsets"]
    p, r, f = _f1(counts["onset_matches"], *onsets)
    errors = np.asarray(counts["timing_errors"], dtype=float)
    return {"onset_precision": p, "onset_recall": r, "onset_f1": f,
            "onset_f1_100ms": _f1(counts["onset_matches_100ms"], *onsets)[2],
            "note_f1": (_f1(counts["note_matches"], counts["reference"], counts["estimated"])[2]
                        if counts.get("pitched", True) else math.nan),
            "timing_error_ms": float(np.median(np.abs(errors)) * 1000) if errors.size else math.nan,
            "timing_bias_ms": float(np.median(errors) * 1000) if errors.size else math.nan,
            "density_ratio": counts["estimated"] / counts["reference"] if counts["reference"] else math.nan}


def aggregate(rows: Sequence[dict]) -> dict:
    """Pool per-example scores: counts add up, timing errors pool, velocity r is the mean where defined.

    Rows of several draws (a "draw" key) pool too; the counts shown are per draw, and `onset_f1_draws` lists
    each draw's own onset F1."""
    draws = sorted({row.get("draw", 0) for row in rows})
    pooled = {key: sum(row[key] for row in rows) for key in _COUNTS}
    pooled["timing_errors"] = [e for row in rows for e in row["timing_errors"]]
    first = [row for row in rows if row.get("draw", 0) == draws[0]] if rows else []
    pooled["examples"] = len(first)
    pooled["seconds"] = round(sum(row["seconds"] for row in first), 2)
    defined = [row["velocity_r"] for row in rows if not math.isnan(row["velocity_r"])]
    pooled["velocity_r"] = float(np.mean(defined)) if defined else math.nan
    pooled["velocity_r_examples"] = len(defined)
    pooled["errors"] = sum(1 for row in rows if row.get("error"))
    result = pooled | _rates(pooled)
    pitched = [row for row in rows if row.get("pitched", True)]
    result["note_f1"] = _f1(*(sum(row[key] for row in pitched) for key in ("note_matches", "reference", "estimated"))
                            )[2] if pitched else math.nan
    del result["timing_errors"]  # the medians are kept; the raw list stays in the per-example rows
    result["draws"] = len(draws)
    shifted = [row for row in rows if "onset_matches_offsets" in row]
    if shifted:
        matches = np.sum([row["onset_matches_offsets"] for row in shifted], axis=0)
        reference, estimated = (sum(row[key] for row in shifted) for key in ("reference_onsets", "estimated_onsets"))
        f1s = [_f1(int(m), reference, estimated)[2] for m in matches]
        result["onset_f1_offsets"] = {"offsets": shifted[0]["offsets"], "onset_f1": f1s, "mean": float(np.mean(f1s)),
                                      "min": float(np.min(f1s)), "max": float(np.max(f1s))}
        if all("note_matches_offsets" in row for row in shifted):
            result["best_lag"] = best_lag(shifted)
    if len(draws) > 1:
        result |= {key: round(pooled[key] / len(draws)) for key in _COUNTS}
        result["onset_f1_draws"] = [aggregate([r for r in rows if r.get("draw", 0) == d])["onset_f1"] for d in draws]
    return result


@dataclass
class Report:
    """Per-example rows and per-instrument/overall aggregates for every generator, plus provenance."""

    meta: dict
    generators: list[str]
    rows: list[dict] = field(default_factory=list)
    rolls: list[str] = field(default_factory=list)  # piano-roll PNGs, relative to the report folder
    preface: list[str] = field(default_factory=list)  # Markdown lines after the definitions (e.g. the reference)

    def summary(self) -> dict:
        """{"overall": {generator: metrics}, "instruments": {name: {generator: metrics}}}."""
        instruments = sorted({row["instrument"] for row in self.rows})
        return {"overall": {g: aggregate([r for r in self.rows if r["generator"] == g]) for g in self.generators},
                "instruments": {name: {g: aggregate([r for r in self.rows
                                                     if r["generator"] == g and r["instrument"] == name])
                                       for g in self.generators} for name in instruments}}

    def to_json(self) -> dict:
        return {key: _finite(value) for key, value in {
            "meta": self.meta, "generators": self.generators, "summary": self.summary(), "examples": self.rows,
            "piano_rolls": self.rolls}.items()}

    def to_markdown(self) -> str:
        meta, summary = self.meta, self.summary()
        lines = [f"# Foley evaluation: {meta.get('title', meta.get('split', ''))}", ""]
        lines += [f"- **{key}**: {_inline(value)}" for key, value in meta.items() if key != "title"]
        lines += ["", "Onset F1 matches onsets one-to-one within 50 ms (mir_eval.onset); note F1 also needs the pitch "
                  "(mir_eval.transcription, offsets ignored); |Δt| and bias are medians over onsets matched within "
                  "100 ms (bias > 0 = late); velocity r correlates velocities of matched onsets; density = "
                  "generated / real notes. Counts are pooled over examples (micro-average)."]
        lines += [""] + self.preface if self.preface else []
        lines += _best_lag_section(summary["overall"], meta.get("clock", "the estimated offset"))
        lines += ["", "## Overall", ""]
        lines += _table(["generator", "examples", "seconds", "real notes"], [
            [g, str(m["examples"]), f"{m['seconds']:.1f}", str(m["reference"])] + _cells(m)
            for g, m in summary["overall"].items()])
        spread = [(g, m["onset_f1_draws"]) for g, m in summary["overall"].items() if m["draws"] > 1]
        if spread:
            lines += [""] + [f"- {g}: {len(f1s)} draws pooled; onset F1 of each draw: "
                             f"{', '.join(f'{f:.3f}' for f in f1s)} (sd {np.std(f1s):.3f})" for g, f1s in spread]
        offsets = {g: m["onset_f1_offsets"] for g, m in summary["overall"].items() if "onset_f1_offsets" in m}
        if offsets:
            shifts = next(iter(offsets.values()))["offsets"]
            lines += ["", "## Clock-offset sensitivity (real recordings)", "",
                      (f"Onset F1 with the real notes moved by every {LAG_STEP * 1000:.0f} ms from "
                       f"{shifts[0]:+.3f} s to {shifts[-1]:+.3f} s around the estimated clock offset "
                       f"({len(shifts)} offsets): how much of a score depends on the estimate being exact."), ""]
            lines += _table(["generator", "at the estimate", "mean", "lowest", "highest"], [
                [g, f"{summary['overall'][g]['onset_f1']:.3f}", f"{o['mean']:.3f}", f"{o['min']:.3f}",
                 f"{o['max']:.3f}"] for g, o in offsets.items()], metrics=False)
        lines += ["", "## Per instrument", ""]
        lines += _table(["instrument", "generator", "examples", "seconds", "real notes"], [
            [name, g, str(m["examples"]), f"{m['seconds']:.1f}", str(m["reference"])] + _cells(m)
            for name, by_generator in summary["instruments"].items() for g, m in by_generator.items()])
        failures = [row for row in self.rows if row.get("error")]
        if failures:
            lines += ["", "## Generator failures (scored as no notes)", ""]
            lines += [f"- {row['generator']} on {row['source']}: {row['error']}" for row in failures]
        if self.rolls:
            lines += ["", "## Piano rolls (filled: generated, outlined: real)", ""]
            lines += [f"![{Path(roll).stem}]({roll})" for roll in self.rolls]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out / "report.json", out / "report.md"
        write_json(json_path, self.to_json())
        with atomic_path(md_path) as temp:
            temp.write_text(self.to_markdown())
        return json_path, md_path


def evaluate(generators: dict[str, Draws], examples: Iterable[Example], out_dir: str | Path, *,
             meta: dict | None = None, rolls_per_instrument: int = 2, chance: bool = True, chance_draws: int = 20,
             offset_spread: float = 0.0, progress: Callable[[int, str], None] | None = None,
             unpitched: Collection[str] = (), heard: Collection[str] = (), preface: Sequence[str] = ()) -> Report:
    """Run every generator (every draw of it) on every example, score it, write report.json, report.md and
    piano rolls (of the first draw).

    With `chance`, every example is also scored against `chance_draws` draws of chance_notes (seeded by the
    example's index and the draw). With `offset_spread` (seconds), real recordings (split "real") are also
    scored at clock offsets within +-offset_spread of their estimated one, LAG_STEP apart. Examples whose
    source is in `unpitched` have a reference without pitches (onsets): their note F1 is not applicable; those
    in `heard` have a reference heard in a soundtrack, scored by the onsets heard (HEARD_TOGETHER), and their
    chance draws one note per heard onset, at the generator's count of heard onsets.
    `preface`: Markdown lines the report prints before its tables (what the reference is, how it was found)."""
    out = Path(out_dir)
    (out / "rolls").mkdir(parents=True, exist_ok=True)
    report = Report(meta=dict(meta or {}), generators=list(generators) + ([CHANCE] if chance else []),
                    preface=list(preface))
    drawn: dict[str, int] = {}
    for index, example in enumerate(examples):
        instrument = get_instrument(example.instrument)
        reference = [note for track in example.tracks for note in track]
        plot = drawn.get(instrument.name, 0) < rolls_per_instrument
        shifts = _offsets(offset_spread) if example.split == "real" else ()
        pitched = example.source not in unpitched
        together = HEARD_TOGETHER if example.source in heard else 0.0
        chance_reference = heard_onsets(sorted(reference), together)  # one note a heard onset
        for name, draws in generators.items():
            for number, generate in enumerate(draws if isinstance(draws, Sequence) else [draws]):
                row, performance = _run(generate, name, example, instrument, index, reference, shifts, pitched,
                                          together)
                report.rows.append(row | {"draw": number})
                if plot and number == 0:
                    roll = Path("rolls") / f"{instrument.name}-{index:04d}-{slug(name, 'generator')}.png"
                    piano_roll_png(performance, out / roll, example.duration, ground_truth=example.tracks,
                                   title=f"{name} vs real: {example.source} ({instrument.name})")
                    report.rolls.append(roll.as_posix())
        for number in range(chance_draws if chance else 0):
            notes = chance_notes(chance_reference, example.duration, seed=index + 100_000 * number)
            report.rows.append(_chance_row(index, example, instrument, CHANCE, number)
                               | score(reference, notes, shifts, pitched, together))
        for name in generators if chance and len(shifts) else ():
            count = next(row["estimated_onsets"] for row in report.rows
                         if row["index"] == index and row["generator"] == name and row["draw"] == 0)
            density_chance = DENSITY_CHANCE.format(name)
            if density_chance not in report.generators:
                report.generators.append(density_chance)
            for number in range(chance_draws):
                notes = chance_at_density(chance_reference, count, example.duration,
                                          seed=index + 100_000 * number + 7, apart=together)
                report.rows.append(_chance_row(index, example, instrument, density_chance, number)
                                   | score(reference, notes, shifts, pitched, together))
        if plot:
            drawn[instrument.name] = drawn.get(instrument.name, 0) + 1
        if progress:
            progress(index + 1, example.source)
    report.meta.setdefault("examples", len({row["index"] for row in report.rows}))
    report.meta.setdefault("finished", datetime.now(UTC).isoformat(timespec="seconds"))
    report.write(out)
    return report


def _chance_row(index: int, example: Example, instrument: Instrument, name: str, draw: int) -> dict:
    return {"index": index, "source": example.source, "instrument": instrument.name, "generator": name,
            "seconds": round(example.duration, 3), "generation_seconds": 0.0, "draw": draw}


def _offsets(spread: float) -> list[float]:
    """Shifts (s) of the real notes: every LAG_STEP within +-spread, zero included."""
    steps = math.floor(spread / LAG_STEP + 1e-9)
    return [k * LAG_STEP for k in range(-steps, steps + 1)]


def _run(generate: Generator, name: str, example: Example, instrument: Instrument, index: int,
         reference: list[Note], shifts: Sequence[float] = (), pitched: bool = True,
         together: float = 0.0) -> tuple[dict, Performance]:
    """One generator on one example: its scored row (score()'s, from `shifts` on), and its notes (silence if it
    refused, with the error)."""
    clock = time.perf_counter()
    error = ""
    try:
        performance = generate(example.keypoints, instrument, example.duration)
    except FoleyError as exc:  # e.g. a model that refuses an instrument: scored as silence, listed
        performance, error = Performance(instrument, example.duration, [], name), str(exc)
    row = {"index": index, "source": example.source, "instrument": instrument.name, "generator": name,
           "seconds": round(example.duration, 3), "generation_seconds": round(time.perf_counter() - clock, 3)}
    scored = score(reference, performance.notes, shifts, pitched, together)
    return row | scored | ({"error": error} if error else {}), performance


def _best_lag_section(overall: dict, clock: str = "the estimated offset") -> list[str]:
    """Each generator at the best clock lag within the offset's uncertainty (around `clock`), beside chance at
    its own note density given the same search (lags.py): the headline for real recordings, so it comes first."""
    rows = []
    for name, metrics in overall.items():
        chance = overall.get(DENSITY_CHANCE.format(name), {}).get("best_lag")
        lag = metrics.get("best_lag")
        if lag is None or chance is None:
            continue
        rows.append([name, str(metrics["estimated"]), _at_lag(lag["onset_f1"], lag["onset_lag"]),
                     _number(chance["onset_f1"]), _at_lag(lag["note_f1"], lag["note_lag"]), _number(chance["note_f1"]),
                     f"{_number(metrics['onset_f1'])} / {_number(metrics['note_f1'])}"])
    if not rows:
        return []
    spread = next(m["best_lag"]["offsets"] for m in overall.values() if "best_lag" in m)
    return ["", "## Best clock lag (real recordings)", "",
            (f"The headline. Each generator at the clock lag (from {spread[0] * 1000:+.0f} to "
             f"{spread[-1] * 1000:+.0f} ms around {clock}, {LAG_STEP * 1000:.0f} ms apart; the lag is how far the "
             "real notes were moved, positive = later) where it scores best, beside chance at the generator's own "
             "note density searched the same way (random times, the real notes' pitches; each draw at its own best "
             "lag, averaged). Onset and note F1 within 50 ms; note F1 also needs the pitch (n/a: the reference has "
             "no pitches)."), ""] + _table(
        ["generator", "notes", "onset F1 (lag)", "chance onset F1", "note F1 (lag)", "chance note F1",
         "at the estimate: onset / note F1"], rows, metrics=False)


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _at_lag(value: float, lag: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f} ({lag * 1000:+.0f} ms)"


def _cells(metrics: dict) -> list[str]:
    cells = []
    for key, _, fmt in _COLUMNS:
        value = metrics[key]
        cells.append("n/a" if isinstance(value, float) and math.isnan(value) else fmt.format(value))
    return cells


def _table(first: list[str], rows: list[list[str]], metrics: bool = True) -> list[str]:
    """A Markdown table with `first` columns, followed by the metric columns unless `metrics` is False."""
    header = first + ([title for _, title, _ in _COLUMNS] if metrics else [])
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _inline(value: object) -> str:
    return f"`{json.dumps(value)}`" if isinstance(value, (dict, list)) else str(value)


def _finite(value: object) -> object:
    """NaN and infinity become null, so report.json is strict JSON any tool can read."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
