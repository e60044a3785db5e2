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
