"""Note material for synthetic performances: excerpts of real music and generated exercises.

Real music comes from music21's bundled corpus (Bach chorales, fiddle tunes, madrigals, quartets...), read
offline from the installed package, so the model sees real melodic and harmonic language; generated phrases
(scales, arpeggios, chords, melodies, repeated notes) add the technical material and rhythms the corpus
lacks. Everything is shaped like a performance (tempo drift, dynamics, accents, articulation), transposed into
the instrument's range and trimmed to its polyphony. Every phrase has a piece id, and the held-out splits are
decided by that id alone, so no piece or generated seed is ever shared between train, val and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..instruments import Instrument
from ..notes import Note
from .splits import SPLITS, split_of

SOURCES = ("corpus", "generated", "mixed")
DUET_PROBABILITY = 0.15
CORPUS_SHARE = 0.5  # of "mixed" phrases drawn from the corpus

# Corpus collections and how often each is drawn: single-work files that parse in well under a second (the
# multi-tune .abc books and the long string quartets take 5-15 s each).
_COLLECTIONS = {"bach": 0.35, "ryansMammoth": 0.3, "palestrina": 0.1, "monteverdi": 0.1, "trecento": 0.05,
                "misc": 0.1}
_LARGEST_FILE = 300_000  # bytes
_MISC = ("joplin", "chopin", "schubert", "handel", "corelli", "verdi", "cpebach", "ciconia")
_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")

_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "harmonic": (0, 2, 3, 5, 7, 8, 11),
           "dorian": (0, 2, 3, 5, 7, 9, 10), "pentatonic": (0, 2, 4, 7, 9), "chromatic": tuple(range(12))}
_PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (1, 4, 0, 0), (0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 6, 2))
_RHYTHMS = ((1.0,), (0.5, 0.5), (0.75, 0.25), (0.25, 0.25, 0.5), (0.25,) * 4, (1.5, 0.5), (0.5, 0.25, 0.25),
            (2.0,), (1 / 3,) * 3)
_KINDS = {
    "keys": ("melody", "scale", "arpeggio", "chords", "accompanied", "repeated"),
    "accordion": ("melody", "scale", "chords", "accompanied", "repeated"),
    "plucked": ("melody", "arpeggio", "chords", "scale", "repeated"),
    "bowed": ("melody", "scale", "arpeggio", "repeated", "intervals"),
    "woodwind": ("melody", "scale", "arpeggio", "repeated"),
    "brass": ("melody", "scale", "arpeggio", "repeated"),
    "mallets": ("melody", "scale", "arpeggio", "repeated", "intervals"),
}

Voice = list[tuple[float, float, int]]  # (onset beats, duration beats, pitch)


@dataclass(frozen=True)
class Phrase:
    """Tracks (one per performer) and the id of the piece or generated seed they came from."""

    tracks: list[list[Note]]
    piece: str  # e.g. "bach/bwv66.6" or "generated/melody-1f2e3d4c"

    @property
    def split(self) -> str:
        return split_of(self.piece)


def sample_phrase(instrument: Instrument, duration: float, rng: np.random.Generator,
                  source: str = "mixed") -> list[list[Note]]:
    """Note tracks (usually one performer, sometimes a duet) for `duration` seconds on `instrument`."""
    return draw_phrase(instrument, duration, rng, source).tracks


def draw_phrase(instrument: Instrument, duration: float, rng: np.random.Generator, source: str = "mixed",
                split: str | None = None) -> Phrase:
    """A phrase with its provenance; with `split`, only from pieces/seeds belonging to that split."""
    if source not in SOURCES:
        raise InputError(f"unknown phrase source {source!r}; choose one of: {', '.join(SOURCES)}")
    if split is not None and split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    performers = 2 if rng.random() < DUET_PROBABILITY else 1
    use_corpus = source == "corpus" or (source == "mixed" and rng.random() < CORPUS_SHARE)
    if use_corpus and corpus_available():
        for _ in range(5):
            piece = _choose_piece(rng, split)
            try:
                voices, bpm = _parse_piece(piece)
            except Exception:  # noqa: BLE001 - a corpus file music21 cannot read is skipped, not fatal
                continue
            chosen = _choose_voices(voices, instrument, performers, rng)
            if chosen:
                return Phrase(_perform(chosen, instrument, duration, rng, bpm, excerpt=True), piece)
    while True:
        seed = int(rng.integers(2 ** 32))
        kind = str(np.random.default_rng(seed).choice(_KINDS[instrument.motion_family]))
        piece = f"generated/{kind}-{seed:08x}"
        if split is None or split_of(piece) == split:
            break
    local = np.random.default_rng(seed)
    voices = _generate(kind, instrument, performers, duration, local)
    return Phrase(_perform(voices, instrument, duration, local, None, excerpt=False), piece)


# ---------------------------------------------------------------------------------------------- corpus


@lru_cache(maxsize=1)
def corpus_available() -> bool:
    """music21 installed with its bundled corpus (it ships in the wheel; nothing is downloaded)."""
    try:
        return bool(_corpus_pieces())
    except ImportError:
        return False


@lru_cache(maxsize=1)
def _corpus_pieces() -> dict[str, tuple[str, ...]]:
    """Piece ids per collection, e.g. "bach/bwv66.6", from the corpus files inside the music21 package."""
    from music21 import corpus

    root = Path(corpus.__file__).parent
    pieces: dict[str, tuple[str, ...]] = {}
    for collection in _COLLECTIONS:
        names = _MISC if collection == "misc" else (collection,)
        found = []
        for name in names:
            for path in corpus.getComposer(name):
                path = Path(path)
                if path.suffix in _SUFFIXES and "_bak" not in path.stem and path.stat().st_size < _LARGEST_FILE:
                    found.append(str(path.relative_to(root).with_suffix("")))
        if found:
            pieces[collection] = tuple(sorted(found))
    return pieces


def corpus_pieces(split: str | None = None) -> list[str]:
    """All corpus piece ids (of one split)."""
    every = [p for pieces in _corpus_pieces().values() for p in pieces]
    return [p for p in every if split is None or split_of(p) == split]


def _choose_piece(rng: np.random.Generator, split: str | None) -> str:
    pieces = _corpus_pieces()
    names = [c for c in _COLLECTIONS if c in pieces]
    weights = np.array([_COLLECTIONS[c] for c in names])
    collection = names[rng.choice(len(names), p=weights / weights.sum())]
    candidates = [p for p in pieces[collection] if split is None or split_of(p) == split]
    candidates = candidates or corpus_pieces(split)
    return candidates[rng.integers(len(candidates))]


@lru_cache(maxsize=64)
def _parse_piece(piece: str) -> tuple[list[Voice], float | None]:
    """The piece's parts as (onset, duration, pitch) in quarter notes, and its first tempo mark in bpm."""
    from music21 import corpus, tempo

    root = Path(corpus.__file__).parent
    path = next(p for p in root.glob(piece + ".*") if p.suffix in _SUFFIXES)
    score = corpus.parse(str(path))
    voices = []
    for part in score.parts:
        voice = []
        for element in part.stripTies().flatten().notes:
            length = float(element.quarterLength)
            if length > 0 and not element.duration.isGrace:
                voice += [(float(element.offset), length, int(p.midi)) for p in element.pitches]
        if voice:
            voices.append(sorted(voice))
    marks = list(score.flatten().getElementsByClass(tempo.MetronomeMark))
    bpm = marks[0].getQuarterBPM() if marks else None
    return voices, (float(bpm) if bpm and 30 < bpm < 250 else None)


def _choose_voices(voices: list[Voice], instrument: Instrument, performers: int, rng: np.random.Generator
                   ) -> list[Voice]:
    """Parts for each performer: a chordal instrument plays the whole texture, a melodic one a single part
    (the top one most often); a duet needs two different parts."""
    if performers > len(voices):
        performers = 1
    if instrument.max_polyphony >= 4 and performers == 1:
        return [sorted(n for v in voices for n in v)]
    weights = np.array([2.0] + [1.0] * (len(voices) - 1))
    picked = rng.choice(len(voices), size=performers, replace=False, p=weights / weights.sum())
    return [voices[i] for i in sorted(picked)]


# -------------------------------------------------------------------------------------------- generated


def _generate(kind: str, instrument: Instrument, performers: int, duration: float, rng: np.random.Generator
              ) -> list[Voice]:
    """Beats of material of one kind, long enough for `duration` at any tempo we pick (up to 160 bpm)."""
    beats = duration * 160 / 60
    scale = _SCALES[str(rng.choice(list(_SCALES), p=(0.35, 0.2, 0.1, 0.1, 0.15, 0.1)))]
    tonic = 60 + int(rng.integers(-6, 6))
    make = {"melody": _melody, "scale": _scale_run, "arpeggio": _arpeggio, "chords": _chords,
            "accompanied": _accompanied, "repeated": _repeated, "intervals": _intervals}[kind]
    voice: Voice = []
    end = 0.0
    while end < beats:
        start = end + float(rng.choice([0.0, 0.0, 1.0, 2.0])) if voice else 0.0
        voice += [(start + t, d, p) for t, d, p in make(rng, scale, tonic, instrument)]
        end = max(t + d for t, d, _ in voice)
    voices = [voice]
    if performers == 2:  # a second player: the same line a third/sixth lower, or a canon one bar later
        shift = int(rng.choice([-3, -4, -8, -9, -12]))
        delay = float(rng.choice([0.0, 0.0, 4.0]))
        voices.append([(t + delay, d, p + shift) for t, d, p in voice])
    return voices


def _rhythm(rng: np.random.Generator, beats: float) -> list[float]:
    durations: list[float] = []
    while sum(durations) < beats:
        durations += list(_RHYTHMS[rng.integers(len(_RHYTHMS))])
    return durations


def _degree(scale: tuple[int, ...], tonic: int, step: int) -> int:
    octave, index = divmod(step, len(scale))
    return tonic + 12 * octave + scale[index]


def _melody(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, _: Instrument) -> Voice:
    """A 2-4 bar line: mostly steps, some leaps, repeated notes and rests, ending on a long note."""
    step, t = int(rng.integers(0, len(scale))), 0.0
    notes: Voice = []
    for duration in _rhythm(rng, 4.0 * int(rng.integers(2, 5))):
        roll = rng.random()
        if roll < 0.1 and notes:
            t += duration  # a rest
            continue
        if roll > 0.25:  # otherwise repeat the note
            step += int(rng.choice([-2, -1, -1, 1, 1, 2, 3, -3, 4, -4]))
            step = int(np.clip(step, -len(scale), 2 * len(scale)))
        notes.append((t, duration * rng.uniform(0.6, 1.0), _degree(scale, tonic, step)))
        t += duration
    notes.append((t, 2.0, _degree(scale, tonic, round(step / len(scale)) * len(scale))))
    return notes


def _scale_run(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, _: Instrument) -> Voice:
    length = int(rng.integers(8, 25))
    value = float(rng.choice([0.25, 0.5, 0.5, 1.0]))
    steps = np.arange(length)
    if rng.random() < 0.4:
        steps = length - 1 - steps
    elif rng.random() < 0.4:
        steps = np.concatenate([steps[: length // 2], steps[: length // 2][::-1]])
    return [(i * value, value * 0.95, _degree(scale, tonic - 12, int(s))) for i, s in enumerate(steps)]


def _chord(scale: tuple[int, ...], tonic: int, root: int, size: int) -> list[int]:
    diatonic = scale if len(scale) == 7 else _SCALES["major"]
    return [_degree(diatonic, tonic, root + 2 * k) for k in range(size)]


def _arpeggio(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, _: Instrument) -> Voice:
    notes, t = [], 0.0
    value = float(rng.choice([0.25, 0.5, 1 / 3]))
    for root in _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]:
        chord = _chord(scale, tonic - 12, root, 3)
        pattern = chord + [p + 12 for p in chord] + ([chord[0] + 24] if rng.random() < 0.5 else [])
        if rng.random() < 0.4:
            pattern = pattern + pattern[-2:0:-1]
        for pitch in pattern:
            notes.append((t, value, pitch))
            t += value
    return notes


def _chords(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, instrument: Instrument) -> Voice:
    """Block chords in a rhythm, as strummed or comped; as many notes as the instrument can sound."""
    size = int(min(instrument.max_polyphony, rng.integers(3, 6)))
    notes, t = [], 0.0
    for root in _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]:
        chord = _chord(scale, tonic - 12, root, size)
        for duration in _rhythm(rng, 4.0):
            notes += [(t, duration * 0.9, p) for p in chord]
            t += duration
    return notes


def _accompanied(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, instrument: Instrument) -> Voice:
    """A melody over a left-hand accompaniment (block chords, broken chords or an Alberti bass)."""
    melody = [(t, d, p + 12) for t, d, p in _melody(rng, scale, tonic, instrument)]
    length = max(t + d for t, d, _ in melody)
    style = int(rng.integers(3))
    notes, t = [], 0.0
    progression = _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]
    while t < length:
        chord = _chord(scale, tonic - 12, progression[int(t // 4) % len(progression)], 3)
        if style == 0:
            notes += [(t, 1.9, p) for p in chord]
            t += 2.0
        else:
            for p in ((chord[0], chord[2], chord[1], chord[2]) if style == 1 else chord + [chord[1]]):
                notes.append((t, 0.5, p))
                t += 0.5
    return sorted(melody + [n for n in notes if n[0] < length])


def _repeated(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, _: Instrument) -> Voice:
    value = float(rng.choice([0.25, 0.5, 1.0]))
    notes, t, step = [], 0.0, int(rng.integers(len(scale)))
    for _group in range(int(rng.integers(2, 5))):
        for _i in range(int(rng.integers(3, 9))):
            notes.append((t, value * rng.uniform(0.4, 0.9), _degree(scale, tonic, step)))
            t += value
        step += int(rng.choice([-2, -1, 1, 2]))
        t += float(rng.choice([0.0, value]))
    return notes


def _intervals(rng: np.random.Generator, scale: tuple[int, ...], tonic: int, instrument: Instrument) -> Voice:
    """Two voices in thirds and sixths: double stops, two-mallet playing."""
    line = _melody(rng, scale, tonic, instrument)
    gap = int(rng.choice([3, 4, 8, 9]))
    return sorted(line + [(t, d, p - gap) for t, d, p in line if rng.random() < 0.7])


# -------------------------------------------------------------------------------------------- performing


def _perform(voices: list[Voice], instrument: Instrument, duration: float, rng: np.random.Generator,
             bpm: float | None, excerpt: bool) -> list[list[Note]]:
    """Beats -> seconds and velocities as a player would shape them, fitted into the instrument and clip."""
    bpm = (bpm or float(rng.uniform(60, 150))) * float(rng.uniform(0.85, 1.15))
    last = max(t + d for v in voices for t, d, _ in v)
    grid = np.arange(0.0, last + 1.0, 0.25)
    drift = sum(0.05 * np.sin(2 * np.pi * grid / rng.uniform(8, 32) + rng.uniform(0, 6.3)) for _ in range(2))
    clock = np.concatenate([[0.0], np.cumsum(0.25 * 60.0 / (bpm * (1.0 + drift[:-1])))])  # rubato

    def seconds(beat: np.ndarray) -> np.ndarray:
        return np.interp(beat, grid, clock)

    lead = float(rng.uniform(0.1, 1.0))
    offset = lead
    if excerpt:
        onsets = np.array(sorted({t for v in voices for t, _, _ in v}))
        start_times = seconds(onsets)
        latest = max(0.0, start_times[-1] - duration * 0.8)
        begin = start_times[np.searchsorted(start_times, rng.uniform(0.0, latest))] if latest > 0 else 0.0
        offset = lead - begin
    level = float(rng.uniform(45, 110))
    swell = rng.uniform(-15, 15)
    legato = float(rng.uniform(0.55, 1.0))
    shift = _transposition(voices, instrument, rng)
    tracks = []
    for voice in voices:
        beats = np.array(voice, dtype=np.float64).reshape(-1, 3)
        start = seconds(beats[:, 0]) + offset
        end = seconds(beats[:, 0] + beats[:, 1] * legato) + offset
        where = (beats[:, 0] % 4.0) / 4.0
        velocity = level + swell * np.sin(np.pi * (start / max(duration, 1e-3))) + 8 * (where == 0) \
            + 3 * (beats[:, 0] % 1.0 == 0) + rng.normal(0, 5, len(beats))
        notes = []
        for s, e, p, v in zip(start, end, beats[:, 2], velocity, strict=True):
            if 0.0 <= s < duration - 0.05:
                e = min(max(e, s + 0.06), duration)
                notes.append(Note(float(s), float(e), instrument.clamp_pitch(int(p) + shift),
                                  int(np.clip(round(v), 1, 127))))
        tracks.append(limit_polyphony(notes, instrument.max_polyphony))
    return tracks


def _transposition(voices: list[Voice], instrument: Instrument, rng: np.random.Generator) -> int:
    """Semitones to move the music so it sits somewhere inside the range (not always in the middle)."""
    pitches = np.array([p for v in voices for _, _, p in v])
    low, high = np.percentile(pitches, (5, 95))
    room = (instrument.highest - instrument.lowest) - (high - low)
    target = instrument.lowest + (high - low) / 2 + (rng.uniform(0.15, 0.85) * room if room > 0 else room / 2)
    return int(round(target - (low + high) / 2))


def limit_polyphony(notes: list[Note], most: int) -> list[Note]:
    """At most `most` notes sounding at once and no pitch overlapping itself: a chord keeps its top notes,
    a note held into a later one is cut where the later one starts (legato). Composed music's rule; detected
    strikes have their own (sources/baseline.py's _limit_voices: the loudest of a double detection stays)."""
    kept: list[Note] = []
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        sounding = sorted((k for k in kept if k.end > note.start), key=lambda k: k.start)
        excess = len(sounding) + 1 - most
        for old in sounding:
            legato = old.start < note.start - 0.03
            if old.pitch == note.pitch or (excess > 0 and legato):
                kept.remove(old)
                excess -= 1
                if legato:
                    kept.append(Note(old.start, note.start, old.pitch, old.velocity))
        if sum(k.end > note.start for k in kept) < most:
            kept.append(note)
    return sorted(kept)
