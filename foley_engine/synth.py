"""Audio from notes with FluidSynth and a General MIDI soundfont, exactly as long as the clip.

The audio must drop onto an editor's timeline next to the clip, so its length is the clip's length to the
sample and every note starts where the MIDI says. FluidSynth applies events only at the start of its internal
64-sample blocks, so each event is issued at the block boundary nearest to its time: onsets are within 32
samples (0.67 ms at 48 kHz) of the MIDI time, far below a video frame.
"""

from __future__ import annotations

import atexit
import os
import struct
import sys
import tempfile
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ctypes import c_int, c_void_p
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from . import fluidsynth_quiet  # noqa: F401  (pyfluidsynth's own import, silenced, before anything else)
from .errors import InputError, SynthUnavailableError
from .instruments import Instrument
from .notes import Performance
from .outputs import atomic_output

if TYPE_CHECKING:
    import fluidsynth

SAMPLE_RATE = 48000

#: Output level: one mezzo-forte note peaks around -21 dBFS and a ten-note fortissimo chord around -6 dBFS.
GAIN = 0.4

#: FluidSynth's internal block (FLUID_BUFSIZE); MIDI events take effect at its boundaries.
BLOCK = 64

#: Samples rendered per FluidSynth call at most: bounds the float scratch buffer, not the int16 output.
CHUNK = 1 << 15

DRUM_CHANNEL = 9

STANDARD_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/opt/homebrew/share/soundfonts/default.sf2"),
    Path("/usr/local/share/soundfonts/default.sf2"),
)

NO_SOUNDFONT = ("no General MIDI soundfont found; install one with `sudo apt-get install fluid-soundfont-gm` "
                "(macOS: put a GM .sf2 at /opt/homebrew/share/soundfonts/default.sf2) "
                "or pass --soundfont / set FOLEY_SOUNDFONT")
NO_FLUIDSYNTH = ("FluidSynth library not found; install it with `sudo apt-get install libfluidsynth3` "
                 "(macOS: `brew install fluid-synth`)")

Progress = Callable[[float, str], None]


#: The preset-data chunks every SoundFont 2 has, with their record sizes; each table ends in a terminal record.
_PDTA_RECORDS = {b"phdr": 38, b"pbag": 4, b"pmod": 10, b"pgen": 4, b"inst": 22, b"ibag": 4, b"imod": 10,
                 b"igen": 4, b"shdr": 46}


def _riff_chunks(file: BinaryIO, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """{id: (data offset, size)} of the chunks in [start, end); a LIST is keyed by its list type.

    ValueError if a chunk claims to run past `end`: the file was cut off (or is not what it says).
    """
    chunks: dict[bytes, tuple[int, int]] = {}
    position = start
    while position + 8 <= end:
        file.seek(position)
        chunk_id, size = struct.unpack("<4sI", file.read(8))
        if position + 8 + size > end:
            raise ValueError(f"its {chunk_id.decode('latin-1')!r} chunk runs past the end: the file is cut off")
        data, length = position + 8, size
        if chunk_id == b"LIST" and size >= 4:
            chunk_id, data, length = file.read(4), data + 4, size - 4
        chunks[chunk_id] = (data, length)
        position += 8 + size + (size & 1)  # chunks are padded to an even length
    return chunks


def soundfont_presets(path: Path) -> frozenset[tuple[int, int]]:
    """The (bank, program) of every preset of the SoundFont 2 at `path`, read from its RIFF structure.

    Pure Python and a few small reads, so a file FluidSynth would choke on (and libinstpatch would print
    criticals about) is refused up front with a reason. ValueError if the structure does not parse,
    OSError if the file cannot be read.
    """
    with path.open("rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"sfbk":
            raise ValueError("no RIFF/sfbk header")
        riff_end = 8 + struct.unpack("<I", header[4:8])[0]
        size = os.fstat(file.fileno()).st_size
        if riff_end > size:
            raise ValueError(f"the file is cut off ({size} of {riff_end} bytes)")
        parts = _riff_chunks(file, 12, riff_end)
        for part in (b"INFO", b"sdta", b"pdta"):
            if part not in parts:
                raise ValueError(f"it has no {part.decode()} part")
        pdta = _riff_chunks(file, parts[b"pdta"][0], sum(parts[b"pdta"]))
        for name, record in _PDTA_RECORDS.items():
            if name not in pdta or pdta[name][1] < record or pdta[name][1] % record:
                raise ValueError(f"its preset data has no valid {name.decode()} table")
        offset, length = pdta[b"phdr"]
        file.seek(offset)
        table = file.read(length)
    records = [struct.unpack_from("<HHH", table, start) for start in range(20, length, 38)]  # program, bank, bag
    bags = [bag for _, _, bag in records]
    if bags != sorted(bags) or bags[-1] >= pdta[b"pbag"][1] // 4:
        raise ValueError("its preset headers point outside the preset zones")
    return frozenset((bank, program) for program, bank, _ in records[:-1])  # the last one is the terminal


def _read_presets(path: Path, origin: str) -> frozenset[tuple[int, int]]:
    """soundfont_presets for a file the user named: a damaged or foreign file is a one-line InputError."""
    try:
        return soundfont_presets(path)
    except ValueError as error:
        raise InputError(f"{origin} {path} is not a SoundFont 2 file, or it is damaged: {error}") from None
    except OSError as error:
        raise InputError(f"cannot read {origin} {path}: {error.strerror or error}") from None


def _require_preset(path: Path, presets: frozenset[tuple[int, int]], instruments: tuple[Instrument, ...]) -> None:
    """FluidSynth plays silence for a program the soundfont lacks: refuse such a soundfont before any work
    (percussion needs a GM drum kit, in bank 128)."""
    for instrument in instruments:
        if (instrument.bank, instrument.program) not in presets:
            raise SynthUnavailableError(
                f"{path} is not a General MIDI soundfont: it has no preset for program {instrument.program} "
                f"({instrument.gm_name}) in bank {instrument.bank}; pass a GM soundfont with --soundfont")


def find_soundfont(explicit: str | Path | None = None, *instruments: Instrument) -> Path:
    """The soundfont to use: `explicit`, else $FOLEY_SOUNDFONT, else the first standard location found.

    A missing soundfont, named or not, is a SynthUnavailableError that says how to install one; a named file
    that is not a whole SoundFont 2 is an InputError (a damaged one at a standard location is passed over).
    A soundfont without the General MIDI preset of one of `instruments` is a SynthUnavailableError.
    """
    for given, origin in ((explicit, "soundfont"), (os.environ.get("FOLEY_SOUNDFONT"), "FOLEY_SOUNDFONT")):
        if given is None or str(given) == "":
            continue
        path = Path(given).expanduser()
        if not path.is_file():
            raise SynthUnavailableError(f"{origin} {path} does not exist; install the General MIDI soundfont "
                                        "with `sudo apt-get install fluid-soundfont-gm` or name another .sf2")
        _require_preset(path, _read_presets(path, origin), instruments)
        return path
    for path in STANDARD_SOUNDFONTS:
        try:
            presets = soundfont_presets(path)
        except (OSError, ValueError):
            continue  # absent, or a damaged install: the next location may do
        _require_preset(path, presets, instruments)
        return path
    raise SynthUnavailableError(NO_SOUNDFONT)


@contextmanager
def _native_stderr_captured() -> Iterator[Callable[[], str]]:
    """Send file descriptor 2 to a temp file while FluidSynth sets up; yield a function returning its text.

    FluidSynth logs on stderr, and libinstpatch (which it asks about files it cannot read as SoundFont 2)
    prints GLib criticals there; the user gets our one-line error instead, with FluidSynth's last word in
    it. Only around setup, never around rendering, so a progress bar on stderr keeps drawing.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:

        def text() -> str:
            sink.seek(0)
            return sink.read().decode(errors="replace")

        os.dup2(sink.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _first_error(chatter: str) -> str:
    """FluidSynth's first error line, for our message: it says why ("file size mismatch"), later ones don't."""
    prefix = "fluidsynth: error: "
    reasons = [line.strip()[len(prefix):] for line in chatter.splitlines() if line.strip().startswith(prefix)]
    return f": {reasons[0]}" if reasons else ""


def require_fluidsynth() -> ModuleType:
    """pyfluidsynth with a usable libfluidsynth, else SynthUnavailableError naming the install command.

    Imported only here, so the rest of Foley works without FluidSynth and callers can fail before slow work.
    """
    try:
        import fluidsynth
    except (ImportError, OSError):
        raise SynthUnavailableError(NO_FLUIDSYNTH) from None
    if not hasattr(fluidsynth, "Synth") or not hasattr(fluidsynth, "cfunc"):
        raise SynthUnavailableError(NO_FLUIDSYNTH)
    _float_writer(fluidsynth)
    module: ModuleType = fluidsynth
    return module


def _float_writer(fluidsynth: ModuleType) -> Callable[..., int]:
    """fluid_synth_write_float, which pyfluidsynth does not wrap.

    Synth.get_samples() converts to 16 bit with FluidSynth's dither, drawn from the C library's rand(): its
    output changes when anything in the process has called srand(), and silence is +-1 LSB noise. Rendering
    floats and converting here keeps the output identical for identical input and silence exactly zero.
    """
    write = fluidsynth.cfunc("fluid_synth_write_float", c_int, ("synth", c_void_p, 1), ("len", c_int, 1),
                             ("lout", c_void_p, 1), ("loff", c_int, 1), ("lincr", c_int, 1),
                             ("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
    if write is None:
        raise SynthUnavailableError(NO_FLUIDSYNTH)
    writer: Callable[..., int] = write
    return writer


def performer_channel(performer: int) -> int:
    """MIDI channel of performer `performer` (0-based): 0, 1, ..., skipping the GM drum channel 9."""
    return performer if performer < DRUM_CHANNEL else performer + 1


def _events(performance: Performance, sample_rate: int,
            num_samples: int) -> list[tuple[int, int, int, int, int]]:
    """(block, 0 = off / 1 = on, channel, pitch, velocity), sorted; offs first so repeated notes restrike.

    Notes shorter than a block after rounding are dropped: FluidSynth could not start and stop them apart.
    """
    events = []
    for performer, track in enumerate(performance.tracks):
        channel = performer_channel(performer)
        for note in track:
            on = round(note.start * sample_rate / BLOCK)
            off = round(note.end * sample_rate / BLOCK)
            if off <= on or on * BLOCK >= num_samples:
                continue
            events.append((on, 1, channel, note.pitch, note.velocity))
            events.append((off, 0, channel, note.pitch, 0))
    events.sort()
    return events


class _Renderer:
    """Fills the output from a FluidSynth synth up to a sample position, a chunk at a time."""

    def __init__(self, synth: fluidsynth.Synth, write_float: Callable[..., int], num_samples: int,
                 sample_rate: int, progress: Progress | None) -> None:
        self.synth = synth
        self.write_float = write_float
        self.output = np.zeros((num_samples, 2), dtype=np.int16)
        self.scratch = np.zeros((CHUNK, 2), dtype=np.float32)
        self.position = 0
        self.progress = progress
        self.report_every = sample_rate  # one progress call per second of audio
        self.next_report = self.report_every

    def until(self, target: int) -> None:
        """Render up to (excluding) sample `target`; events sent afterwards start at the next block."""
        target = min(target, len(self.output))
        pointer = self.scratch.ctypes.data
        while self.position < target:
            count = min(CHUNK, target - self.position)
            self.write_float(self.synth.synth, count, pointer, 0, 2, pointer, 1, 2)
            chunk = self.scratch[:count]
            np.clip(np.rint(chunk * 32767.0), -32768, 32767, out=chunk)
            self.output[self.position:self.position + count] = chunk
            self.position += count
            if self.progress and self.position >= self.next_report:
                self.progress(self.position / len(self.output), "synthesising audio")
                self.next_report = self.position + self.report_every


def render(performance: Performance, soundfont: str | Path | None = None, sample_rate: int = SAMPLE_RATE,
           num_samples: int | None = None, progress: Progress | None = None) -> np.ndarray:
    """Stereo int16 audio of shape (num_samples, 2); num_samples defaults to the performance's duration.

    One MIDI channel per performer with the instrument's program; notes still ringing at the end are cut.
    Identical input gives identical samples. `progress(fraction, message)` is called about once per second
    of audio and may raise Cancelled, which propagates.
    """
    if num_samples is None:
        num_samples = round(performance.duration * sample_rate)
    if num_samples < 0:
        raise InputError(f"cannot render a negative length ({num_samples} samples)")
    soundfont_path = find_soundfont(soundfont, *performance.instruments)
    fluidsynth = require_fluidsynth()
    write_float = _float_writer(fluidsynth)
    events = _events(performance, sample_rate, num_samples)
    channels = 16 * (performer_channel(max(len(performance.tracks) - 1, 0)) // 16 + 1)
    if progress:
        progress(0.0, "loading soundfont")
    _anchor(fluidsynth, soundfont_path)
    with _native_stderr_captured():
        synth = fluidsynth.Synth(gain=GAIN, samplerate=float(sample_rate), channels=channels)
    try:
        renderer = _Renderer(synth, write_float, num_samples, sample_rate, progress)
        with _native_stderr_captured() as chatter:
            _load_programs(synth, soundfont_path, performance, chatter)
        for block, is_on, channel, pitch, velocity in events:
            renderer.until(block * BLOCK)
            if is_on:
                synth.noteon(channel, pitch, velocity)
            else:
                synth.noteoff(channel, pitch)
        renderer.until(num_samples)
        if progress:
            progress(1.0, "synthesising audio")
    finally:
        with _native_stderr_captured():
            synth.delete()
    return renderer.output


class _Anchors:
    """Soundfonts kept loaded in this process while it renders clip after clip (`resident_soundfonts`).

    Why: loading FluidR3_GM takes about 0.15 s a render, most of it reading its 140 MB of samples. FluidSynth
    shares the samples of a file that another synth of the process still holds, so one idle synth holding each
    soundfont makes the next loads read only the preset tables (about 0.06 s). Every render still gets a synth
    of its own, fresh, so the audio is what it would be without (a reused synth's reverb and voices carry over
    from the previous clip, even after a system reset: measured)."""

    def __init__(self) -> None:
        self.scopes = 0
        self.forever = False
        self.synths: dict[str, fluidsynth.Synth] = {}

    @property
    def keep(self) -> bool:
        return self.forever or self.scopes > 0

    def close(self) -> None:
        synths, self.synths = self.synths, {}
        for synth in synths.values():
            with _native_stderr_captured():
                synth.delete()


_ANCHORS = _Anchors()


def _anchor(fluidsynth: ModuleType, soundfont: Path) -> None:
    """Hold `soundfont` loaded while soundfonts are kept (see _Anchors); one that does not load is not held
    (its render says why)."""
    key = str(soundfont)
    if not _ANCHORS.keep or key in _ANCHORS.synths:
        return
    with _native_stderr_captured():
        synth = fluidsynth.Synth(gain=GAIN, samplerate=float(SAMPLE_RATE), channels=16)
        if synth.sfload(key) < 0:
            synth.delete()
            return
    _ANCHORS.synths[key] = synth


def keep_soundfonts() -> None:
    """Keep soundfonts loaded for the rest of this process (a timeline or Ray worker)."""
    if not _ANCHORS.forever:
        _ANCHORS.forever = True
        atexit.register(_ANCHORS.close)


@contextmanager
def resident_soundfonts() -> Iterator[None]:
    """Keep the soundfonts loaded between the renders run in here; let go at the end unless kept for good."""
    _ANCHORS.scopes += 1
    try:
        yield
    finally:
        _ANCHORS.scopes -= 1
        if not _ANCHORS.keep:
            _ANCHORS.close()


def held_soundfonts() -> list[str]:
    """The soundfonts held loaded now."""
    return list(_ANCHORS.synths)


def render_stems(performance: Performance, soundfont: str | Path | None = None, sample_rate: int = SAMPLE_RATE,
                 num_samples: int | None = None, progress: Progress | None = None) -> list[np.ndarray]:
    """One stereo int16 array per performer, left to right, each that performer alone (`render` of their solo).

    Stems let an editor mix or mute players separately; each is exactly as long as the mix, and together
    they sound as the mix does (FluidSynth adds voices up: the sum differs from the mix by well under a
    thousandth of its level). `progress` covers all stems together.
    """
    count = len(performance.tracks)
    return [render(performance.solo(performer), soundfont, sample_rate, num_samples,
                   _share(progress, performer, count)) for performer in range(count)]


def _share(progress: Progress | None, performer: int, count: int) -> Progress | None:
    """Stem `performer`'s progress as its share of all `count` stems' progress."""
    if progress is None:
        return None
    return lambda fraction, message: progress((performer + fraction) / count, f"performer {performer + 1}: {message}")


def _load_programs(synth: fluidsynth.Synth, soundfont: Path, performance: Performance,
                   chatter: Callable[[], str]) -> None:
    """Load `soundfont` and give every performer's channel the instrument's program: bank 0, or for percussion
    the GM drum kit of bank 128 (selected by bank, a performer's own channel plays it like channel 10 does)."""
    font = synth.sfload(str(soundfont))
    if font < 0:
        raise SynthUnavailableError(f"FluidSynth could not load the soundfont {soundfont}{_first_error(chatter())}")
    for performer in range(len(performance.tracks)):
        instrument = performance.instrument_of(performer)
        if synth.program_select(performer_channel(performer), font, instrument.bank, instrument.program) != 0:
            raise SynthUnavailableError(
                f"{soundfont} is not a General MIDI soundfont: it has no preset for program {instrument.program} "
                f"({instrument.gm_name}) in bank {instrument.bank}; pass a GM soundfont with --soundfont")


def write_wav(samples: np.ndarray, path: str | Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write 16-bit PCM stereo to exactly `path`; on failure nothing is left there."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"expected int16 samples of shape (n, 2), got {samples.dtype} {samples.shape}")
    path = Path(path)
    with atomic_output(path, "WAV file") as temp, wave.open(str(temp), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes(samples.astype("<i2", copy=False).tobytes())
    return path
