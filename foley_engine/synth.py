"""Audio from notes with FluidSynth and a General MIDI soundfont, exactly as long as the clip.

The audio must drop onto an editor's timeline next to the clip, so its length is the clip's length to the
sample and every note starts where the MIDI says. FluidSynth applies events only at the start of its internal
64-sample blocks, so each event is issued at the block boundary nearest to its time: onsets are within 32
samples (0.67 ms at 48 kHz) of the MIDI time, far below a video frame.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable
from ctypes import c_int, c_void_p
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError, OutputError, SynthUnavailableError
from .notes import Performance

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


def is_soundfont(path: Path) -> bool:
    """True if the file starts like a SoundFont 2 (RIFF ... sfbk), without loading it."""
    try:
        with path.open("rb") as file:
            header = file.read(12)
    except OSError:
        return False
    return header[:4] == b"RIFF" and header[8:12] == b"sfbk"


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """The soundfont to use: `explicit`, else $FOLEY_SOUNDFONT, else the first standard location found.

    A missing soundfont, named or not, is a SynthUnavailableError that says how to install one; a named file
    that is not a soundfont is an InputError.
    """
    for given, origin in ((explicit, "soundfont"), (os.environ.get("FOLEY_SOUNDFONT"), "FOLEY_SOUNDFONT")):
        if given is None or str(given) == "":
            continue
        path = Path(given).expanduser()
        if not path.is_file():
            raise SynthUnavailableError(f"{origin} {path} does not exist; install the General MIDI soundfont "
                                        "with `sudo apt-get install fluid-soundfont-gm` or name another .sf2")
        if not is_soundfont(path):
            raise InputError(f"{origin} {path} is not a SoundFont 2 file (no RIFF/sfbk header)")
        return path
    for path in STANDARD_SOUNDFONTS:
        if path.is_file() and is_soundfont(path):
            return path
    raise SynthUnavailableError(NO_SOUNDFONT)


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
    return fluidsynth


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
    return write


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
    soundfont_path = find_soundfont(soundfont)
    fluidsynth = require_fluidsynth()
    write_float = _float_writer(fluidsynth)
    events = _events(performance, sample_rate, num_samples)
    channels = 16 * (performer_channel(max(len(performance.tracks) - 1, 0)) // 16 + 1)
    synth = fluidsynth.Synth(gain=GAIN, samplerate=float(sample_rate), channels=channels)
    try:
        renderer = _Renderer(synth, write_float, num_samples, sample_rate, progress)
        if progress:
            progress(0.0, "loading soundfont")
        font = synth.sfload(str(soundfont_path))
        if font < 0:
            raise SynthUnavailableError(f"FluidSynth could not load the soundfont {soundfont_path}")
        program = performance.instrument.program
        for performer in range(len(performance.tracks)):
            if synth.program_select(performer_channel(performer), font, 0, program) != 0:
                raise SynthUnavailableError(
                    f"{soundfont_path} is not a General MIDI soundfont: it has no preset for program {program} "
                    f"({performance.instrument.gm_name}); pass a GM soundfont with --soundfont")
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
        synth.delete()
    return renderer.output


def write_wav(samples: np.ndarray, path: str | Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write 16-bit PCM stereo to exactly `path`; on failure nothing is left there."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"expected int16 samples of shape (n, 2), got {samples.dtype} {samples.shape}")
    path = Path(path)
    try:
        with wave.open(str(path), "wb") as file:
            file.setnchannels(2)
            file.setsampwidth(2)
            file.setframerate(sample_rate)
            file.writeframes(samples.astype("<i2", copy=False).tobytes())
    except OSError as error:
        path.unlink(missing_ok=True)
        raise OutputError(f"cannot write WAV file {path}: {error.strerror or error}") from error
    return path
