"""Note material: inside every instrument's range and polyphony, reproducible, and split by piece."""

from __future__ import annotations

import numpy as np
import pytest

from foley_engine.data.phrases import SPLITS, corpus_pieces, draw_phrase, limit_polyphony, sample_phrase, split_of
from foley_engine.errors import InputError
from foley_engine.instruments import INSTRUMENTS, get_instrument
from foley_engine.notes import Note


def max_sounding(track: list[Note]) -> int:
    return max((sum(o.start <= n.start < o.end for o in track) for n in track), default=0)


def check_playable(tracks: list[list[Note]], name: str, duration: float) -> None:
    instrument = get_instrument(name)
    assert 1 <= len(tracks) <= 2
    for track in tracks:
        assert track == sorted(track)
        for note in track:
            assert instrument.lowest <= note.pitch <= instrument.highest
            assert 0 <= note.start < note.end <= duration
        assert max_sounding(track) <= instrument.max_polyphony
        for a in track:  # a pitch never overlaps itself
            assert not any(b is not a and b.pitch == a.pitch and a.start <= b.start < a.end for b in track)


@pytest.mark.parametrize("name", list(INSTRUMENTS))
def test_generated_phrases_are_playable(name: str) -> None:
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    for _ in range(4):
        tracks = sample_phrase(get_instrument(name), 12.0, rng, source="generated")
        check_playable(tracks, name, 12.0)
        assert sum(len(t) for t in tracks) >= 3


@pytest.mark.parametrize("name", ["piano", "violin", "flute", "guitar", "marimba"])
def test_corpus_phrases_are_playable(name: str) -> None:
    pytest.importorskip("music21")
    rng = np.random.default_rng(11)
    for _ in range(2):
        phrase = draw_phrase(get_instrument(name), 10.0, rng, source="corpus")
        assert not phrase.piece.startswith("generated/")
        check_playable(phrase.tracks, name, 10.0)


def test_deterministic_for_a_seed() -> None:
    piano = get_instrument("piano")
    first = [draw_phrase(piano, 8.0, np.random.default_rng(5), "generated") for _ in range(3)]
    again = [draw_phrase(piano, 8.0, np.random.default_rng(5), "generated") for _ in range(3)]
    assert first == again


def test_held_out_splits_share_no_piece() -> None:
    rng = np.random.default_rng(3)
    seen: dict[str, set[str]] = {split: set() for split in SPLITS}
    for split in SPLITS:
        for _ in range(15):
            phrase = draw_phrase(get_instrument("clarinet"), 6.0, rng, "generated", split=split)
            assert phrase.split == split == split_of(phrase.piece)
            seen[split].add(phrase.piece)
    assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"])
    assert split_of("bach/bwv66.6") == split_of("bach/bwv66.6")


def test_corpus_split_is_by_piece() -> None:
    pytest.importorskip("music21")
    train, val, test = (set(corpus_pieces(split)) for split in SPLITS)
    assert train and val and test
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(val) < len(train) / 4


def test_polyphony_limit_keeps_top_notes_and_cuts_legato() -> None:
    chord = [Note(0.0, 1.0, p, 80) for p in (48, 55, 60, 64)]
    assert sorted(n.pitch for n in limit_polyphony(chord, 2)) == [60, 64]
    legato = [Note(0.0, 1.0, 60, 80), Note(0.5, 1.5, 62, 80)]
    assert limit_polyphony(legato, 1) == [Note(0.0, 0.5, 60, 80), Note(0.5, 1.5, 62, 80)]


def test_unknown_source_is_an_input_error() -> None:
    with pytest.raises(InputError):
        sample_phrase(get_instrument("piano"), 5.0, np.random.default_rng(0), source="radio")
