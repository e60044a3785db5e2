"""MIDI files: write/read round trip, programs and tracks per performer, corrupt input, piano-roll pictures."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from foley_engine.errors import InputError, OutputError
from foley_engine.evaluation.plots import piano_roll_png
from foley_engine.instruments import get_instrument
from foley_engine.midi import read_notes, read_performance, write_midi
from foley_engine.notes import Note, Performance


def two_performers(name: str = "piano") -> Performance:
    first = [Note(0.0, 0.5, 60, 80), Note(0.5, 1.0, 64, 90), Note(1.0333, 2.7171, 67, 127),
             Note(1.0333, 1.5, 72, 1)]
    second = [Note(0.2567, 0.7891, 48, 40), Note(3.3333, 4.0, 43, 100)]
    return Performance(instrument=get_instrument(name), duration=5.25, tracks=[first, second],
                       generator="test")


def test_write_read_round_trip_keeps_notes_within_a_millisecond(tmp_path: Path) -> None:
    performance = two_performers()
    path = write_midi(performance, tmp_path / "out.mid")
    assert path == tmp_path / "out.mid" and [p.name for p in tmp_path.iterdir()] == ["out.mid"]
    back = read_performance(path, performance.instrument)
    assert back.instrument == performance.instrument
    assert back.duration == pytest.approx(performance.duration, abs=1e-3)
    assert len(back.tracks) == 2
    for written, read in zip(performance.tracks, back.tracks, strict=True):
        assert len(read) == len(written)
        for a, b in zip(sorted(written), read, strict=True):
            assert (a.pitch, a.velocity) == (b.pitch, b.velocity)
            assert a.start == pytest.approx(b.start, abs=1e-3) and a.end == pytest.approx(b.end, abs=1e-3)
    assert read_notes(path) == back.tracks


@pytest.mark.parametrize("name", ["piano", "flute", "violin", "tuba", "marimba"])
def test_one_instrument_per_performer_with_the_gm_program(tmp_path: Path, name: str) -> None:
    performance = two_performers(name)
    midi = pretty_midi.PrettyMIDI(str(write_midi(performance, tmp_path / "out.mid")))
    programs = [(part.program, part.is_drum) for part in midi.instruments]
    assert programs == [(performance.instrument.program, False)] * 2
    assert [part.name for part in midi.instruments] == [f"{name} · performer 1", f"{name} · performer 2"]
    assert [len(part.notes) for part in midi.instruments] == [4, 2]


def test_each_performer_gets_their_own_instruments_program_and_name(tmp_path: Path) -> None:
    duet = two_performers()
    duet.track_instruments = [get_instrument("violin"), get_instrument("guitar")]
    midi = pretty_midi.PrettyMIDI(str(write_midi(duet, tmp_path / "duet.mid")))
    assert [(part.program, part.name) for part in midi.instruments] == [
        (40, "violin · performer 1"), (24, "guitar · performer 2")]
    with pytest.raises(ValueError, match="3 instruments for 2 tracks"):
        Performance(get_instrument("violin"), 1.0, [[], []], track_instruments=[get_instrument("violin")] * 3)


def test_performers_use_separate_channels_and_never_the_drum_channel(tmp_path: Path) -> None:
    tracks = [[Note(0.1 * i, 0.1 * i + 0.05, 60, 64)] for i in range(12)]
    performance = Performance(instrument=get_instrument("piano"), duration=2.0, tracks=tracks)
    midi = mido.MidiFile(write_midi(performance, tmp_path / "many.mid"))
    channels = [{m.channel for m in track if m.type == "note_on"} for track in midi.tracks[1:]]
    assert all(len(c) == 1 for c in channels) and len(set.union(*channels)) == 12
    assert 9 not in set.union(*channels)


@pytest.mark.parametrize("content", [b"", b"not a midi file at all", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01"])
def test_corrupt_midi_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.mid"
    path.write_bytes(content)
    with pytest.raises(InputError, match="broken.mid"):
        read_notes(path)
    with pytest.raises(InputError):
        read_performance(path, get_instrument("piano"))


def test_truncated_midi_is_an_input_error(tmp_path: Path) -> None:
    data = write_midi(two_performers(), tmp_path / "full.mid").read_bytes()
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        read_notes(truncated)


def test_missing_midi_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_notes(tmp_path / "nope.mid")


def test_unwritable_path_is_an_output_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        write_midi(two_performers(), tmp_path / "missing-dir" / "out.mid")
    assert not (tmp_path / "missing-dir").exists()


def _pixels(path: Path) -> np.ndarray:
    from matplotlib.image import imread
    return imread(path)[..., :3]


def test_piano_roll_draws_each_performer_in_its_colour(tmp_path: Path) -> None:
    performance = two_performers()
    path = piano_roll_png(performance, tmp_path / "roll.png", title="two pianists",
                          ground_truth=[[Note(0.1, 0.6, 61, 64)]])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = _pixels(path)
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 700
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    bluish = np.count_nonzero((blue > red + 0.2) & (blue > green))  # performer 1: Blues
    orange = np.count_nonzero((red > blue + 0.3) & (green > blue))  # performer 2: Oranges
    assert bluish > 500 and orange > 200
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # shades, text, outlines: not a blank image


def test_piano_roll_of_silence_still_renders(tmp_path: Path) -> None:
    path = piano_roll_png([[]], tmp_path / "empty.png", duration=3.0)
    assert path.stat().st_size > 1000


def test_drums_are_written_on_the_percussion_channel_and_read_back(tmp_path: Path) -> None:
    kit = get_instrument("drums")
    hits = [Note(0.0, 0.2, 36, 100), Note(0.25, 0.4, 38, 90), Note(0.5, 1.5, 49, 110)]
    band = Performance(instrument=kit, duration=2.0, tracks=[hits, [Note(0.1, 0.6, 60, 80)]],
                       track_instruments=[kit, get_instrument("piano")])
    path = write_midi(band, tmp_path / "band.mid")
    midi = pretty_midi.PrettyMIDI(str(path))
    assert [(part.is_drum, part.program) for part in midi.instruments] == [(True, 0), (False, 0)]
    channels = [{m.channel for m in track if m.type == "note_on"} for track in mido.MidiFile(path).tracks[1:]]
    assert channels[0] == {9} and len(channels[1]) == 1 and 9 not in channels[1]  # GM channel 10 for the kit
    assert read_performance(path, kit).tracks == [hits]  # drums read as drums, pitched as pitched
    assert read_notes(path) == [[Note(0.1, 0.6, 60, 80)]]
