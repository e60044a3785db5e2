"""The event vocabulary: layout, quantisation, encode/decode round trips, decoder robustness, grammar masks."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foley_engine.instruments import Instrument, get_instrument
from foley_engine.model.vocabulary import (
    BOS_TOKEN,
    EOS_TOKEN,
    KINDS,
    PAD_TOKEN,
    VOCABULARY,
    EventVocabulary,
    GrammarState,
)
from foley_engine.notes import Note

V = VOCABULARY
ANY_RANGE = Instrument(name="test", program=0, family="keys", lowest=0, highest=127, max_polyphony=128,
                       gm_name="test")


def names(tokens: list[int]) -> list[str]:
    return [V.describe(token) for token in tokens]


# --- layout ------------------------------------------------------------------------------------------------

def test_token_layout_matches_the_documented_ids() -> None:
    assert V.size == 391
    assert (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN) == (0, 1, 2) == (V.token("pad"), V.token("bos"), V.token("eos"))
    assert (V.token("note_on", 0), V.token("note_on", 127)) == (3, 130)
    assert (V.token("note_off", 0), V.token("note_off", 127)) == (131, 258)
    assert (V.token("time_shift", 1), V.token("time_shift", 100)) == (259, 358)
    assert (V.token("velocity", 0), V.token("velocity", 31)) == (359, 390)


def test_every_token_describes_and_maps_back_to_itself() -> None:
    seen = set()
    for token in range(V.size):
        kind, value = V.event(token)
        assert kind in KINDS
        assert V.token(kind, value) == token
        seen.add(V.describe(token))
    assert len(seen) == V.size
    assert [V.describe(t) for t in (0, 1, 2, 63, 191, 261, 370)] == [
        "pad", "bos", "eos", "note_on:60", "note_off:60", "time_shift:3", "velocity:11"]


@pytest.mark.parametrize("kind, value", [("note_on", 128), ("note_off", -1), ("time_shift", 0),
                                         ("time_shift", 101), ("velocity", 32), ("eos", 3), ("chord", 1)])
def test_invalid_events_are_rejected(kind: str, value: int) -> None:
    with pytest.raises(ValueError):
        V.token(kind, value)


def test_sizes_are_fields_and_shape_the_layout() -> None:
    small = EventVocabulary(steps_per_second=50, max_shift_steps=25, velocity_bins=8)
    assert small.size == 3 + 128 + 128 + 25 + 8
    assert small.describe(small.size - 1) == "velocity:7"
    with pytest.raises(ValueError):
        EventVocabulary(velocity_bins=100)


def test_velocity_bins_decode_to_their_centre() -> None:
    assert [V.bin_velocity(b) for b in (0, 1, 31)] == [2, 6, 126]
    assert [V.velocity_bin(v) for v in (1, 3, 4, 64, 127)] == [0, 0, 1, 16, 31]
    for velocity in range(1, 128):
        centre = V.bin_velocity(V.velocity_bin(velocity))
        assert abs(centre - velocity) <= 2 and V.velocity_bin(centre) == V.velocity_bin(velocity)


# --- encoding ------------------------------------------------------------------------------------------------

def test_simultaneous_events_have_one_order_offs_first_and_velocity_only_on_change() -> None:
    notes = [Note(0.0, 0.5, 64, 82), Note(0.0, 0.5, 60, 82), Note(0.5, 1.0, 67, 82), Note(0.5, 1.0, 60, 102)]
    expected = [
        "bos", "velocity:20", "note_on:60", "note_on:64", "time_shift:50", "note_off:60", "note_off:64",
        "velocity:25", "note_on:60", "velocity:20", "note_on:67", "time_shift:50", "note_off:60", "note_off:67",
        "eos"]
    assert names(V.encode(notes)) == expected
    assert names(V.encode(list(reversed(notes)))) == expected


def test_long_gaps_become_several_shifts_largest_first() -> None:
    tokens = V.encode([Note(2.57, 2.6, 60, 66)], bos=False, eos=False)
    assert names(tokens) == ["time_shift:100", "time_shift:100", "time_shift:57", "velocity:16", "note_on:60",
                             "time_shift:3", "note_off:60"]


def test_quantise_snaps_keeps_one_step_and_cuts_overlaps_of_a_pitch() -> None:
    notes = [Note(0.004, 0.006, 50, 100),  # would vanish: kept one step long
             Note(1.0, 2.0, 60, 64), Note(1.5, 1.8, 60, 90),  # the later start cuts the earlier note
             Note(3.0, 3.2, 62, 64), Note(3.001, 3.5, 62, 64)]  # equal starts after snapping: longer one wins
    assert V.quantise(notes) == [Note(0.0, 0.01, 50, 102), Note(1.0, 1.5, 60, 66), Note(1.5, 1.8, 60, 90),
                                 Note(3.0, 3.5, 62, 66)]


# --- round trips -----------------------------------------------------------------------------------------------

@st.composite
def grid_tracks(draw: st.DrawFn) -> list[Note]:
    """Notes already on the 10 ms grid with bin-centre velocities, never overlapping within a pitch."""
    notes = []
    for pitch in draw(st.lists(st.integers(0, 127), max_size=6, unique=True)):
        step = 0
        for gap, length, velocity_bin in draw(st.lists(
                st.tuples(st.integers(0, 250), st.integers(1, 250), st.integers(0, 31)), max_size=5)):
            step += gap
            notes.append(Note(step / 100, (step + length) / 100, pitch, V.bin_velocity(velocity_bin)))
            step += length
    return notes


any_notes = st.lists(st.builds(
    lambda start, length, pitch, velocity: Note(start, start + length, pitch, velocity),
    st.floats(0, 30, allow_nan=False), st.floats(1e-4, 5, allow_nan=False), st.integers(0, 127),
    st.integers(1, 127)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(grid_tracks())
def test_notes_on_the_grid_survive_encode_decode_exactly(notes: list[Note]) -> None:
    assert V.decode(V.encode(notes)) == sorted(notes)
    assert V.quantise(notes) == sorted(notes)


@settings(max_examples=200, deadline=None)
@given(any_notes)
def test_any_notes_decode_to_their_quantised_form(notes: list[Note]) -> None:
    quantised = V.quantise(notes)
    assert V.decode(V.encode(notes)) == quantised
    assert V.quantise(quantised) == quantised
    for before in notes:  # quantising moves no onset further than half a step
        same_pitch = [after for after in quantised if after.pitch == before.pitch]
        assert any(abs(after.start - before.start) <= 0.005 + 1e-9 for after in same_pitch)


@settings(max_examples=100, deadline=None)
@given(any_notes, st.randoms())
def test_encoding_does_not_depend_on_input_order(notes: list[Note], rng: random.Random) -> None:
    shuffled = list(notes)
    rng.shuffle(shuffled)
    assert V.encode(shuffled) == V.encode(notes)


@settings(max_examples=100, deadline=None)
@given(any_notes)
def test_encoded_sequences_obey_the_generation_grammar(notes: list[Note]) -> None:
    grammar = GrammarState(V, ANY_RANGE)
    tokens = V.encode(notes)
    assert tokens[0] == BOS_TOKEN
    for token in tokens[1:]:
        assert grammar.allowed_mask()[token], V.describe(token)
        grammar.advance(token)
    assert grammar.finished


# --- decoding robustness -------------------------------------------------------------------------------------

def tok(*events: str) -> list[int]:
    """Tokens from "kind:value" strings, the inverse of describe()."""
    result = []
    for event in events:
        kind, _, value = event.partition(":")
        result.append(V.token(kind, int(value) if value else None))
    return result


def test_decode_ignores_an_unmatched_note_off() -> None:
    assert V.decode(tok("note_off:60", "velocity:20", "note_on:62", "time_shift:10", "note_off:62",
                        "note_off:62")) == [Note(0.0, 0.1, 62, 82)]


def test_decode_ends_a_sounding_pitch_before_striking_it_again() -> None:
    assert V.decode(tok("velocity:20", "note_on:60", "time_shift:10", "velocity:30", "note_on:60",
                        "time_shift:5", "note_off:60")) == [Note(0.0, 0.1, 60, 82), Note(0.1, 0.15, 60, 122)]


def test_decode_closes_open_notes_at_the_end_or_the_given_duration() -> None:
    tokens = tok("velocity:20", "note_on:60", "time_shift:30", "note_on:64", "time_shift:20")
    assert V.decode(tokens) == [Note(0.0, 0.5, 60, 82), Note(0.3, 0.5, 64, 82)]
    assert V.decode(tokens, duration=2.345) == [Note(0.0, 2.345, 60, 82), Note(0.3, 2.345, 64, 82)]
    assert V.decode(tokens, duration=0.2) == [Note(0.0, 0.2, 60, 82)]  # the 0.3 s note would be negative


def test_decode_drops_zero_length_notes_skips_pad_and_bos_and_stops_at_eos() -> None:
    tokens = tok("bos", "pad", "velocity:20", "note_on:60", "note_off:60", "note_on:61", "bos", "time_shift:1",
                 "note_off:61", "eos", "note_on:70", "time_shift:9")
    assert V.decode(tokens) == [Note(0.0, 0.01, 61, 82)]


def test_decode_without_velocity_token_uses_velocity_64s_bin() -> None:
    assert V.decode(tok("note_on:60", "time_shift:1")) == [Note(0.0, 0.01, 60, 66)]


def test_decode_rejects_ids_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError):
        V.decode([V.size])
    with pytest.raises(ValueError):
        V.decode([-1])


# --- grammar -------------------------------------------------------------------------------------------------

def allowed(grammar: GrammarState) -> set[str]:
    return {V.describe(int(token)) for token in np.flatnonzero(grammar.allowed_mask())}


def test_grammar_mask_shape_and_start_state() -> None:
    flute = get_instrument("flute")
    mask = GrammarState(V, flute).allowed_mask()
    assert mask.dtype == np.bool_ and mask.shape == (V.size,)
    names_allowed = allowed(GrammarState(V, flute))
    assert "eos" in names_allowed and "pad" not in names_allowed and "bos" not in names_allowed
    assert {f"note_on:{p}" for p in range(flute.lowest, flute.highest + 1)} <= names_allowed
    assert not {f"note_on:{flute.lowest - 1}", f"note_on:{flute.highest + 1}"} & names_allowed
    assert not any(name.startswith("note_off") for name in names_allowed)
    assert {f"time_shift:{s}" for s in range(1, 101)} | {f"velocity:{b}" for b in range(32)} <= names_allowed


def test_grammar_note_offs_only_for_sounding_pitches_and_no_restrike() -> None:
    grammar = GrammarState(V, get_instrument("piano"))
    for token in tok("velocity:20", "note_on:60", "note_on:64"):
        grammar.advance(token)
    names_allowed = allowed(grammar)
    assert {n for n in names_allowed if n.startswith("note_off")} == {"note_off:60", "note_off:64"}
    assert "note_on:60" not in names_allowed and "note_on:62" in names_allowed
    grammar.advance(V.token("note_off", 60))
    assert "note_on:60" in allowed(grammar) and "note_off:60" not in allowed(grammar)


def test_grammar_enforces_polyphony() -> None:
    violin = get_instrument("violin")  # two notes at once
    grammar = GrammarState(V, violin)
    grammar.advance(V.token("note_on", 60))
    assert "note_on:62" in allowed(grammar)
    grammar.advance(V.token("note_on", 67))
    assert not any(name.startswith("note_on") for name in allowed(grammar))
    with pytest.raises(ValueError):
        grammar.advance(V.token("note_on", 62))
    grammar.advance(V.token("note_off", 60))
    assert "note_on:62" in allowed(grammar)


def test_grammar_allows_no_velocity_twice_in_a_row_nor_a_repeat_of_the_current_bin() -> None:
    grammar = GrammarState(V, get_instrument("piano"))
    grammar.advance(V.token("velocity", 10))
    assert not any(name.startswith("velocity") for name in allowed(grammar))
    grammar.advance(V.token("note_on", 60))
    names_allowed = allowed(grammar)
    assert "velocity:10" not in names_allowed and "velocity:11" in names_allowed


def test_grammar_tracks_time_and_only_pads_after_eos() -> None:
    grammar = GrammarState(V, get_instrument("piano"))
    for token in tok("time_shift:100", "time_shift:25"):
        grammar.advance(token)
    assert grammar.time == 1.25
    grammar.advance(EOS_TOKEN)
    assert allowed(grammar) == {"pad"}
    grammar.advance(PAD_TOKEN)
    with pytest.raises(ValueError):
        grammar.advance(V.token("time_shift", 1))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["piano", "violin", "flute", "guitar"]), st.randoms(use_true_random=False))
def test_random_sampling_under_the_mask_decodes_to_playable_notes(name: str, rng: random.Random) -> None:
    """What a masked model emits stays inside the instrument's range and polyphony after decoding."""
    instrument = get_instrument(name)
    grammar = GrammarState(V, instrument)
    tokens = []
    for _ in range(300):
        token = int(rng.choice(np.flatnonzero(grammar.allowed_mask())))
        grammar.advance(token)
        tokens.append(token)
        if grammar.finished:
            break
    notes = V.decode(tokens)
    assert all(instrument.lowest <= note.pitch <= instrument.highest for note in notes)
    for note in notes:
        sounding = sum(1 for other in notes if other.start <= note.start < other.end)
        assert sounding <= instrument.max_polyphony
