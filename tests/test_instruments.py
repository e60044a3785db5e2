"""Choosing instruments: one for every performer, or one per performer left to right."""

from __future__ import annotations

import pytest

from foley_engine.errors import InputError
from foley_engine.instruments import get_instrument, instruments_for, parse_instruments


def test_one_name_is_one_instrument_for_everyone() -> None:
    choice = parse_instruments("Cello")
    assert choice == (get_instrument("cello"),)
    assert instruments_for(choice, 3) == [get_instrument("cello")] * 3
    assert instruments_for(choice, 0) == []


@pytest.mark.parametrize("spec", ["violin,guitar", " violin , guitar ", ["violin", "guitar"]])
def test_a_list_gives_each_performer_their_own_left_to_right(spec: str | list[str]) -> None:
    choice = parse_instruments(spec)
    assert [i.name for i in instruments_for(choice, 2)] == ["violin", "guitar"]


@pytest.mark.parametrize("spec, message", [("violin,", "empty name"), (",", "empty name"), ("", "empty name"),
                                           ("violin,kazoo", "unknown instrument 'kazoo'")])
def test_bad_lists_are_refused(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_instruments(spec)


def test_a_list_must_name_every_performer_seen() -> None:
    with pytest.raises(InputError, match="2 instruments given \\(violin,guitar\\) for 3 performer"):
        instruments_for(parse_instruments("violin,guitar"), 3)


PERCUSSION = ("drums", "snare", "congas", "bongos", "tabla", "cajon", "timpani", "claps", "footsteps", "stomps",
              "knocks")


def test_percussion_is_listed_with_its_family_and_pieces() -> None:
    from foley_engine.cli.info import instrument_rows
    from foley_engine.instruments import FAMILIES, INSTRUMENTS
    from foley_engine.instruments import PERCUSSION as FAMILY

    assert {name for name, i in INSTRUMENTS.items() if i.percussive} == set(PERCUSSION)
    rows = {row["name"]: row for row in instrument_rows()}
    assert all(rows[name]["family"] == "percussion" for name in PERCUSSION)
    assert FAMILY not in FAMILIES  # the motion generators' families stay the pitched ones
    kit = get_instrument("drums")
    assert kit.drum and kit.bank == 128 and kit.motion_family == "mallets"
    assert {name: kit.piece(name) for name in ("kick", "snare", "closed hi-hat", "pedal hi-hat", "crash", "ride")} \
        == {"kick": 36, "snare": 38, "closed hi-hat": 42, "pedal hi-hat": 44, "crash": 49, "ride": 51}
    timpani = get_instrument("timpani")
    assert (timpani.drum, timpani.program, timpani.bank) == (False, 47, 0)
    with pytest.raises(KeyError, match="has no piece 'gong'"):
        kit.piece("gong")


def test_a_drum_kit_plays_only_its_pieces() -> None:
    kit = get_instrument("drums")
    keys = {key for _, key in kit.pieces}
    assert all(kit.clamp_pitch(pitch) in keys for pitch in range(128))
    assert kit.clamp_pitch(40) == 38 and kit.clamp_pitch(100) == 51 and kit.clamp_pitch(0) == 36
    assert get_instrument("piano").clamp_pitch(130) == 106  # pitched instruments still fold by octaves


def test_the_instruments_command_lists_percussion(capsys: pytest.CaptureFixture[str]) -> None:
    from foley_engine.cli import main

    assert main(["instruments"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert all(name in lines and "percussion" in lines[name] for name in PERCUSSION)
