"""FluidSynth rendering with the real library and a real General MIDI soundfont (no mocks of either)."""

from __future__ import annotations

import ctypes.util
import hashlib
import os
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from media import make_video
from soundfonts import tiny_soundfont, truncated_copy

from foley_engine import cli, pipeline, synth
from foley_engine.errors import Cancelled, InputError, SynthUnavailableError
from foley_engine.instruments import INSTRUMENTS, get_instrument
from foley_engine.notes import Note, Performance
from foley_engine.synth import SAMPLE_RATE, find_soundfont, render, write_wav

SR = SAMPLE_RATE
#: FluidSynth starts events on 64-sample blocks (+-0.67 ms) and the GM samples begin with < 0.5 ms of silence.
ONSET = 0.002


@pytest.fixture(scope="module", autouse=True)
def soundfont() -> Path:
    """The machine's GM soundfont: skip without one on a user's machine, but never skip in CI."""
    try:
        return find_soundfont()
    except SynthUnavailableError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{error} and CI=true requires it")
        pytest.skip(str(error))


def performance(name: str, notes: list[Note], duration: float, *more: list[Note]) -> Performance:
    return Performance(instrument=get_instrument(name), duration=duration, tracks=[notes, *more])


def rms(samples: np.ndarray, start: float, end: float) -> float:
    window = samples[round(start * SR):round(end * SR)].astype(np.float64)
    return float(np.sqrt(np.mean(window ** 2)))


def first_sound(samples: np.ndarray, after: float = 0.0) -> float:
    """Time in seconds of the first non-zero sample at or after `after`."""
    offset = round(after * SR)
    return (offset + int(np.flatnonzero(np.abs(samples[offset:]).max(axis=1))[0])) / SR


# --- length and format ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("duration", [1.0, 10 / 3, 1.009, 44.0 + 1 / 30])  # 1.009 * 48000 = 48431.99999...
def test_length_is_the_clips_to_the_sample(duration: float) -> None:
    audio = render(performance("organ", [Note(0.1, duration + 5.0, 60, 90)], duration))
    assert audio.shape == (round(duration * SR), 2) and audio.dtype == np.int16
    assert np.abs(audio[-100:]).max() > 0  # the held note is cut by the length, not faded early


def test_explicit_length_and_sample_rate() -> None:
    audio = render(performance("piano", [Note(0.0, 0.5, 60, 90)], 1.0), sample_rate=44100, num_samples=12345)
    assert audio.shape == (12345, 2)


def test_stereo_has_two_different_channels() -> None:
    audio = render(performance("piano", [Note(0.0, 0.5, 40, 100), Note(0.0, 0.5, 90, 100)], 0.6))
    assert not np.array_equal(audio[:, 0], audio[:, 1])  # GM piano is panned across the keyboard


def test_empty_performance_is_exact_silence() -> None:
    for tracks in ([], [[]], [[], []]):
        audio = render(Performance(instrument=get_instrument("flute"), duration=1.5, tracks=tracks))
        assert audio.shape == (72000, 2) and not audio.any()


# --- timing and loudness ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("onset", [0.5, 0.5107, 1.23456])
def test_sound_starts_where_the_note_starts(onset: float) -> None:
    audio = render(performance("piano", [Note(onset, onset + 0.3, 60, 100)], onset + 1.0))
    assert not audio[: round((onset - 0.002) * SR)].any()
    # the nearest 64-sample FluidSynth block, and the piano sample's own 12-sample lead-in
    assert -synth.BLOCK / 2 <= (first_sound(audio) - onset) * SR <= synth.BLOCK / 2 + 16
    assert rms(audio, onset + 0.01, onset + 0.05) > 100 * max(1.0, rms(audio, onset - 0.05, onset - 0.01))


def test_notes_sound_where_they_are_and_silence_where_there_are_none() -> None:
    notes = [Note(0.5, 0.8, 60, 100), Note(3.0, 3.3, 67, 100)]
    audio = render(performance("piano", notes, 4.0))
    assert rms(audio, 0.0, 0.49) == 0.0
    assert rms(audio, 0.51, 0.8) > 300 and rms(audio, 3.01, 3.3) > 300
    assert rms(audio, 2.2, 2.99) < 1.0  # the first note and its reverb have died away
    assert first_sound(audio, after=2.5) == pytest.approx(3.0, abs=ONSET)


def test_each_performer_plays_on_time() -> None:
    audio = render(performance("marimba", [Note(0.25, 0.4, 60, 100)], 3.0, [Note(1.75, 1.9, 72, 100)]))
    assert first_sound(audio) == pytest.approx(0.25, abs=ONSET)
    assert rms(audio, 1.6, 1.74) < 1.0 and first_sound(audio, after=1.6) == pytest.approx(1.75, abs=ONSET)


def test_performers_get_their_own_channels_beyond_sixteen() -> None:
    assert [synth.performer_channel(p) for p in range(12)] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    tracks = [[] for _ in range(17)]
    tracks[16] = [Note(0.1, 0.4, 60, 100)]
    audio = render(Performance(instrument=get_instrument("piano"), duration=0.5, tracks=tracks))
    assert first_sound(audio) == pytest.approx(0.1, abs=ONSET)


def test_higher_velocity_is_louder() -> None:
    levels = [rms(render(performance("piano", [Note(0.0, 1.0, 60, velocity)], 1.0)), 0.0, 1.0)
              for velocity in (30, 70, 120)]
    assert levels[0] * 1.5 < levels[1] and levels[1] * 1.5 < levels[2]


def spectral_centroid(audio: np.ndarray) -> float:
    mono = audio.astype(np.float64).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float((spectrum * np.fft.rfftfreq(len(mono), 1 / SR)).sum() / spectrum.sum())


def test_the_program_decides_the_sound() -> None:
    flute, tuba = (render(performance(name, [Note(0.0, 1.0, 60, 100)], 1.0))[SR // 10:]
                   for name in ("flute", "tuba"))
    assert spectral_centroid(flute) > 2 * spectral_centroid(tuba)


def test_each_performer_sounds_with_their_own_instrument() -> None:
    """A duet of flute (left) and tuba (right): each track takes its own program, not the first one's."""
    note = [Note(0.0, 1.0, 60, 100)]
    duet = Performance(get_instrument("flute"), 1.0, [note, []], track_instruments=[get_instrument("flute"),
                                                                                   get_instrument("tuba")])
    swapped = Performance(get_instrument("tuba"), 1.0, [[], note], track_instruments=[get_instrument("tuba"),
                                                                                      get_instrument("tuba")])
    flute, tuba = (render(p)[SR // 10:] for p in (duet, swapped))
    assert spectral_centroid(flute) > 2 * spectral_centroid(tuba)


# --- determinism, progress, speed ----------------------------------------------------------------------------

def test_same_input_gives_identical_samples() -> None:
    notes = [Note(0.1 * i, 0.1 * i + 0.25, 50 + (i * 7) % 30, 30 + i * 5) for i in range(15)]
    first = render(performance("guitar", notes, 2.0))
    assert np.array_equal(first, render(performance("guitar", notes, 2.0)))


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="needs the C library to call srand()")
def test_samples_do_not_depend_on_the_processs_c_random_state() -> None:
    """FluidSynth's own 16-bit dither follows rand(); another library calling srand() must not change output."""
    script = (
        "import ctypes, ctypes.util, hashlib, sys\n"
        "ctypes.CDLL(ctypes.util.find_library('c')).srand(int(sys.argv[1]))\n"
        "from foley_engine.instruments import get_instrument\n"
        "from foley_engine.notes import Note, Performance\n"
        "from foley_engine.synth import render\n"
        "audio = render(Performance(get_instrument('piano'), 0.5, [[Note(0.0, 0.4, 60, 90)]]))\n"
        "print(hashlib.sha256(audio.tobytes()).hexdigest())\n")
    here = render(performance("piano", [Note(0.0, 0.4, 60, 90)], 0.5))
    there = subprocess.run([sys.executable, "-c", script, "4242"], capture_output=True, text=True, check=True)
    assert there.stdout.strip() == hashlib.sha256(here.tobytes()).hexdigest()


def test_progress_is_reported_and_cancel_propagates() -> None:
    seen: list[float] = []
    render(performance("piano", [Note(0.0, 0.5, 60, 90)], 5.0), progress=lambda f, _message: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 5

    def cancel(fraction: float, _message: str) -> None:
        if fraction > 0.3:
            raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        render(performance("piano", [Note(0.0, 0.5, 60, 90)], 5.0), progress=cancel)


# --- soundfont and library resolution -------------------------------------------------------------------------

def test_soundfont_order_explicit_then_environment(tmp_path: Path, soundfont: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    by_env, by_arg = tmp_path / "env.sf2", tmp_path / "arg.sf2"
    by_env.symlink_to(soundfont)
    by_arg.symlink_to(soundfont)
    monkeypatch.delenv("FOLEY_SOUNDFONT", raising=False)
    assert find_soundfont() in synth.STANDARD_SOUNDFONTS
    monkeypatch.setenv("FOLEY_SOUNDFONT", str(by_env))
    assert find_soundfont() == by_env
    assert find_soundfont(by_arg) == by_arg
    audio = render(performance("piano", [Note(0.0, 0.2, 60, 90)], 0.3), soundfont=str(by_arg))
    assert audio.any()


def test_a_named_soundfont_that_is_missing_says_how_to_install_and_a_foreign_file_is_an_input_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SynthUnavailableError, match="does not exist.*apt-get install fluid-soundfont-gm"):
        find_soundfont(tmp_path / "missing.sf2")
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    with pytest.raises(InputError, match="not a SoundFont"):
        find_soundfont(fake)
    monkeypatch.setenv("FOLEY_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(SynthUnavailableError, match="FOLEY_SOUNDFONT"):
        render(performance("piano", [], 1.0))


def test_no_soundfont_anywhere_says_how_to_install_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLEY_SOUNDFONT", "")
    monkeypatch.setattr(synth, "STANDARD_SOUNDFONTS", (tmp_path / "a.sf2", tmp_path / "b.sf2"))
    with pytest.raises(SynthUnavailableError) as error:
        find_soundfont()
    message = str(error.value)
    assert "sudo apt-get install fluid-soundfont-gm" in message and "\n" not in message
    assert error.value.exit_code == 6


def test_missing_fluidsynth_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert synth.require_fluidsynth().Synth
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # what `import fluidsynth` meets without libfluidsynth
    with pytest.raises(SynthUnavailableError, match="sudo apt-get install libfluidsynth3"):
        synth.require_fluidsynth()
    with pytest.raises(SynthUnavailableError, match="sudo apt-get install libfluidsynth3"):
        render(performance("piano", [Note(0.0, 0.2, 60, 90)], 0.3))


# --- broken and foreign soundfonts: refused before pose, one line, no FluidSynth chatter ------------------------

def _broken_soundfont(kind: str, folder: Path, system: Path) -> Path:
    """A copy cut off like an interrupted download, or random bytes with and without a valid RIFF header."""
    if kind == "truncated":
        return truncated_copy(system, folder / "cut.sf2")
    noise = np.random.default_rng(0).bytes(100_000)
    path = folder / f"{kind}.sf2"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(noise) + 4) + b"sfbk" + noise if kind == "header" else noise)
    return path


def _generate_before_pose(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], folder: Path,
                          *options: str) -> tuple[int, str]:
    """`foley generate` in this process with a pose stage that fails the test if it is reached."""
    def pose_must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("pose ran before the soundfont was checked")

    monkeypatch.setattr(pipeline, "extract", pose_must_not_run)
    clip = make_video(folder / "clip.mp4", seconds=0.5, rate=30)
    capfd.readouterr()
    code = cli.main(["generate", str(clip), "-o", str(folder / "out"), "--model", "baseline", "--progress", "none",
                     *options])
    return code, capfd.readouterr().err


@pytest.mark.parametrize("kind", ["truncated", "header", "noise"])
def test_a_broken_soundfont_is_refused_before_pose_in_one_line(kind: str, tmp_path: Path, soundfont: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    broken = _broken_soundfont(kind, tmp_path, soundfont)
    code, stderr = _generate_before_pose(monkeypatch, capfd, tmp_path, "--soundfont", str(broken))
    assert code == 3 and stderr.count("\n") == 1 and stderr.startswith("foley: error: "), (code, stderr)
    assert broken.name in stderr and "not a SoundFont" in stderr


def test_a_soundfont_without_the_instruments_preset_is_refused_before_pose(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capfd: pytest.CaptureFixture[str]) -> None:
    piano_only = tiny_soundfont(tmp_path / "piano-only.sf2", presets=[(0, 0)])
    assert find_soundfont(piano_only, get_instrument("piano")) == piano_only
    code, stderr = _generate_before_pose(monkeypatch, capfd, tmp_path, "-i", "cello", "--soundfont", str(piano_only))
    assert code == 6 and stderr.count("\n") == 1 and stderr.startswith("foley: error: "), (code, stderr)
    assert "piano-only.sf2" in stderr and "program 42 (Cello)" in stderr and "--soundfont" in stderr


def test_a_small_soundfont_with_the_preset_plays_without_a_word(tmp_path: Path,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    organ_only = tiny_soundfont(tmp_path / "organ.sf2", presets=[(0, 19), (8, 19)])
    capfd.readouterr()
    audio = render(performance("organ", [Note(0.0, 0.2, 69, 100)], 0.3), soundfont=organ_only)
    assert rms(audio, 0.0, 0.2) > 100 and capfd.readouterr().err == ""


@pytest.mark.parametrize("kind", ["truncated", "no-preset"])
def test_fluidsynths_own_messages_stay_off_the_terminal(kind: str, tmp_path: Path, soundfont: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    path = (_broken_soundfont("truncated", tmp_path, soundfont) if kind == "truncated"
            else tiny_soundfont(tmp_path / "piano-only.sf2"))
    monkeypatch.setattr(synth, "find_soundfont", lambda *args, **kwargs: path)  # as if the check had missed it
    capfd.readouterr()
    with pytest.raises(SynthUnavailableError, match=path.name):
        render(performance("cello", [Note(0.0, 0.2, 60, 90)], 0.3), soundfont=path)
    assert capfd.readouterr().err == ""


def test_the_system_soundfont_has_every_instrument_and_a_damaged_one_is_passed_over(
        tmp_path: Path, soundfont: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert all(find_soundfont(soundfont, instrument) == soundfont for instrument in INSTRUMENTS.values())
    monkeypatch.setenv("FOLEY_SOUNDFONT", "")
    cut = _broken_soundfont("truncated", tmp_path, soundfont)
    monkeypatch.setattr(synth, "STANDARD_SOUNDFONTS", (cut, soundfont))
    assert find_soundfont() == soundfont


# --- WAV ------------------------------------------------------------------------------------------------------

def test_wav_is_48k_stereo_16_bit_and_holds_the_samples(tmp_path: Path) -> None:
    audio = render(performance("piano", [Note(0.0, 0.2, 60, 90)], 10 / 3))
    path = write_wav(audio, tmp_path / "out.wav")
    assert path == tmp_path / "out.wav"
    with wave.open(str(path), "rb") as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (48000, 2, 2)
        assert file.getnframes() == 160000
        frames = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(frames, audio)


def test_wav_rejects_samples_that_are_not_int16_stereo(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_wav(np.zeros((10, 2), dtype=np.float32), tmp_path / "bad.wav")
    with pytest.raises(ValueError):
        write_wav(np.zeros(10, dtype=np.int16), tmp_path / "bad.wav")
    assert not (tmp_path / "bad.wav").exists()


# --- percussion: the GM drum kit of bank 128 ----------------------------------------------------------------------

def test_the_drum_kit_sounds_and_each_piece_sounds_different() -> None:
    kit = get_instrument("drums")
    hits = {piece: render(performance("drums", [Note(0.1, 0.5, kit.piece(piece), 110)], 0.6))
            for piece in ("kick", "snare", "closed hi-hat", "crash")}
    assert all(rms(audio, 0.1, 0.3) > 100 and rms(audio, 0.0, 0.09) == 0 for audio in hits.values())
    centroids = {piece: spectral_centroid(audio[SR // 10:]) for piece, audio in hits.items()}
    assert centroids["closed hi-hat"] > 2 * centroids["kick"] and centroids["crash"] > 2 * centroids["kick"]
    assert not np.array_equal(hits["snare"], hits["kick"])
    # the kit, not the piano of bank 0: the same key on the piano sounds otherwise
    piano = render(performance("piano", [Note(0.1, 0.5, kit.piece("snare"), 110)], 0.6))
    assert not np.allclose(piano, hits["snare"], atol=200)


def test_hand_drums_timpani_claps_and_steps_sound(soundfont: Path) -> None:
    for name in ("snare", "congas", "bongos", "tabla", "cajon", "timpani", "claps", "footsteps", "stomps", "knocks"):
        instrument = get_instrument(name)
        audio = render(performance(name, [Note(0.05, 0.4, key, 100) for _, key in instrument.pieces[:1]], 0.5))
        assert rms(audio, 0.05, 0.3) > 50, name


def test_drum_stems_sound_like_their_part_of_the_mix() -> None:
    kit, piano = get_instrument("drums"), get_instrument("piano")
    band = Performance(kit, 0.6, [[Note(0.1, 0.4, 38, 110)], [Note(0.1, 0.4, 60, 90)]], track_instruments=[kit, piano])
    mix = render(band).astype(np.int64)
    drums, keys = (stem.astype(np.int64) for stem in synth.render_stems(band))
    assert rms(drums, 0.1, 0.3) > 100 and np.abs(drums + keys - mix).max() < 0.001 * np.abs(mix).max() + 2


def test_a_soundfont_without_a_drum_kit_is_refused_for_percussion(tmp_path: Path) -> None:
    pitched_only = tiny_soundfont(tmp_path / "no-kit.sf2", presets=[(0, 0), (0, 47)])
    assert find_soundfont(pitched_only, get_instrument("timpani")) == pitched_only  # timpani are pitched
    with pytest.raises(SynthUnavailableError, match=r"no-kit.sf2 .*program 0 \(Standard Drum Kit\) in bank 128"):
        find_soundfont(pitched_only, get_instrument("drums"))
