"""Reference notes from a video's own soundtrack, for footage that comes with sound and no MIDI.

Most footage an editor has carries its sound, and the sound says when every note or hit happened. The
reference is taken from it in one of two ways, chosen by the instrument unless asked for:

* **onsets** (percussion, or anything unpitched): a spectral-flux onset detector, SuperFlux (Böck & Widmer,
  "Maximum filter vibrato suppression for onset detection", DAFx 2013), as librosa implements it, with the
  paper's spectrogram parameters and librosa's default peak picking; the onset is the flux peak, as onset
  detection is evaluated in that literature (MIREX). librosa's backtracking to the preceding flux minimum is
  for cutting audio into segments: on notes rendered by FluidSynth at known times (five instruments, 210
  notes) the peak was 6 ms late on median and at most 21 ms off, the backtracked onset 4 ms early and up to
  27 ms off, so backtracking stays an option (`backtrack`), off. The parameters are the
  published ones, not fitted to any clip; they are written into every report (`OnsetSettings.describe`).
  Onsets have no pitch, so note F1 is not applicable and the report says so.
* **notes** (pitched instruments): basic-pitch's transcription (data/transcription.py), whose notes carry
  pitches, so note F1 with pitch is reported beside onset F1.

A soundtrack may hold more players than the picture shows: an ensemble's mix cropped to one player, a backing
track. Their notes count as misses for every generator and its chance alike, so F1 against such a soundtrack
is bounded below 1 by how much of it the players in view play. A pitched reference is checked for it
(`check_voices`): how often more voices sound than the players in view could play; a percussion soundtrack
(`check_pitched_sound`): how much of it basic-pitch hears pitched notes in, a band or a backing track beside
the drums. Every report gives the figure, and says plainly when it is high.

The soundtrack and the picture share the container's clock; decode_audio puts audio sample 0 on the first
video frame. What remains is a small muxing or capture lag (tens of ms), which is searched, not assumed: the
recording is scored like a real recording whose clock offset is estimated at 0, at every LAG_STEP (lags.py)
within +-offset_spread, each generator and its chance at the same note density at their own best lag (lags.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np

from ..data.discovery import VIDEO_SUFFIXES
from ..data.shards import Example
from ..errors import InputError
from ..extras import missing_extra
from ..instruments import Instrument, get_instrument
from ..notes import Note
from ..pose.extract import PoseSettings, extract_keypoints
from ..video import probe
from .lags import HEARD_TOGETHER, LAG_STEP

Reference = Literal["auto", "onsets", "notes"]
REFERENCES: tuple[Reference, ...] = ("auto", "onsets", "notes")
#: Length given to an onset's reference note: only onsets are scored, this is what a piano roll draws.
ONSET_NOTE_SECONDS = 0.1
#: How the clock of a soundtrack relates to its picture, for the report.
CLOCK_METHOD = ("the soundtrack shares the video's clock (audio sample 0 = first video frame, decode_audio); the "
                f"residual audio-video muxing lag is searched every {LAG_STEP * 1000:.0f} ms within --offset-spread "
                "(0.1 s unless given; the best clock lag table gives the range), each generator and its chance at "
                "the same note density at their own best lag")

#: Intervals in semitones above a sounding note at which a transcription hears that note's own partials as notes
#: of their own (2nd to 5th partials: octave, twelfth, two octaves, two octaves and a major third).
PARTIAL_INTERVALS = (12, 19, 24, 28)
#: Share of the sounding time with more voices than the players in view can play above which a report says the
#: soundtrack holds other players. FluidSynth renders of one violin or one double bass, transcribed, give 0
#: (partials and overlapping tails set apart); three independent lines (violin, viola, flute) 0.40-0.78.
CROWDED_SHARE = 0.25
#: Time step at which voices are counted (s).
VOICE_STEP = 0.01
#: Share of a percussion soundtrack's length in which basic-pitch hears pitched notes above which a report says
#: other instruments are heard: FluidSynth's GM kit transcribed gives 0 (a groove) to 0.17 (tom fills), the kit
#: with piano chords 0.90. Tuned drums (tabla, timpani) can sound pitched on their own: the report says so.
PITCHED_SHARE = 0.5


@dataclass(frozen=True)
class OnsetSettings:
    """SuperFlux's spectrogram (Böck & Widmer 2013: 2048-sample window at 44.1 kHz, 200 frames/s, 138 log-spaced
    bands from 27.5 Hz to 16 kHz, difference to the frame 2 back, maximum filter over 3 bands; the values
    librosa's documentation gives for it) and librosa.onset.onset_detect's default peak picking (seconds)."""

    rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 220  # 1/200 s at 44.1 kHz, as librosa's SuperFlux example computes it
    n_mels: int = 138
    fmin: float = 27.5
    fmax: float = 16000.0
    lag: int = 2
    max_size: int = 3
    pre_max: float = 0.03
    post_max: float = 0.0
    pre_avg: float = 0.10
    post_avg: float = 0.10
    wait: float = 0.03
    delta: float = 0.07
    backtrack: bool = False  # librosa's onset_backtrack: to the flux minimum before the peak

    def peak_picking(self) -> dict:
        """The peak-picking windows in frames, converted as librosa converts its own defaults (seconds * rate //
        hop, the post windows one frame longer), so the defaults here reproduce onset_detect's exactly."""
        rate, hop = self.rate, self.hop_length
        return {"pre_max": self.pre_max * rate // hop, "post_max": self.post_max * rate // hop + 1,
                "pre_avg": self.pre_avg * rate // hop, "post_avg": self.post_avg * rate // hop + 1,
                "wait": self.wait * rate // hop, "delta": self.delta}

    def describe(self) -> dict:
        """Name and every parameter, for the report."""
        where = "backtracked to the flux minimum before the peak" if self.backtrack else "at the flux peak"
        return {"detector": f"SuperFlux onset detection (librosa.onset.onset_strength + onset_detect, {where})",
                "parameters": asdict(self)}


@dataclass
class SoundtrackReference:
    """The reference notes heard in a soundtrack, whether they carry pitches, and how they were found."""

    notes: list[Note]
    pitched: bool
    description: dict


@dataclass(frozen=True)
class VoiceCheck:
    """How many voices a pitched soundtrack holds against how many the players in view can play: `crowded` is
    the share of the time anything sounds during which more than `playable` voices sound."""

    performers: int
    playable: int
    most: int
    crowded: float

    @property
    def other_players(self) -> bool:
        """Whether the soundtrack often holds more voices than the players in view can play."""
        return self.crowded > CROWDED_SHARE

    def describe(self) -> dict:
        return {"performers in view": self.performers, "voices they can play": self.playable,
                "most voices heard": self.most, "share with more voices": round(self.crowded, 3),
                "other players heard": self.other_players}

    def warning(self, instrument: Instrument) -> str:
        """One sentence for the CLI and the report when the soundtrack holds other players."""
        return (f"for {self.crowded:.0%} of the time sound is heard, more voices sound than the {self.performers} "
                f"{instrument.name} player(s) in view can play ({self.playable} at once): the soundtrack holds "
                "players not in view (an ensemble's mix, a backing track); their notes count as misses for every "
                "generator and its chance alike, so no generator can reach an F1 of 1 against it")


@dataclass(frozen=True)
class PitchedSoundCheck:
    """How much of a percussion soundtrack (`share` of its length) holds pitched notes, as basic-pitch hears it."""

    share: float

    @property
    def other_instruments(self) -> bool:
        return self.share > PITCHED_SHARE

    def describe(self) -> dict:
        return {"share with pitched notes": round(self.share, 3), "other instruments heard": self.other_instruments}

    def warning(self) -> str:
        """One sentence for the CLI and the report when much of the soundtrack is pitched."""
        return (f"pitched notes sound through {self.share:.0%} of the soundtrack: unless that is the percussion "
                "itself (tabla and timpani are tuned), it holds other instruments (a band, a backing track), "
                "whose onsets count as misses for every generator and its chance alike")


def check_pitched_sound(audio: np.ndarray) -> PitchedSoundCheck:
    """The share of mono `audio` (at the transcriber's rate) in which basic-pitch hears any pitched note."""
    from ..data.transcription import AUDIO_RATE, transcribe

    seconds = len(audio) / AUDIO_RATE
    if seconds <= 0:
        return PitchedSoundCheck(0.0)
    return PitchedSoundCheck(min(1.0, len(count_voices(transcribe(audio))) * VOICE_STEP / seconds))


def count_voices(notes: Sequence[Note], step: float = VOICE_STEP) -> np.ndarray:
    """The voices sounding at every `step` at which any note sounds: the notes sounding, less those at a
    partial's interval (PARTIAL_INTERVALS) above a lower one sounding, which one player's note makes heard."""
    if not notes:
        return np.zeros(0, int)
    times = np.arange(0.0, max(n.end for n in notes), step)
    sounding: list[set[int]] = [set() for _ in times]  # per step, not a steps x notes table: a film is long
    for note in notes:
        for index in range(int(np.searchsorted(times, note.start)), int(np.searchsorted(times, note.end))):
            sounding[index].add(note.pitch)
    counts = []
    for pitches in sounding:
        heard = sorted(pitches)
        if heard:
            counts.append(sum(not any(p - q in PARTIAL_INTERVALS for q in heard[:i]) for i, p in enumerate(heard)))
    return np.array(counts, int)


def check_voices(notes: Sequence[Note], performers: int, instrument: Instrument) -> VoiceCheck:
    """The voices heard in `notes` (a soundtrack's transcription) against `performers` players of
    `instrument`, each playing at most its max_polyphony notes at once."""
    counts = count_voices(notes)
    playable = max(performers, 1) * instrument.max_polyphony
    crowded = float(np.mean(counts > playable)) if counts.size else 0.0
    return VoiceCheck(performers, playable, int(counts.max(initial=0)), crowded)


def _librosa() -> ModuleType:
    """librosa, imported only where a soundtrack is read (the [eval] extra; one line when it is missing)."""
    try:
        import librosa
    except ImportError as exc:
        raise missing_extra(exc) or InputError(f"librosa could not be imported ({exc})") from exc
    return librosa


def detect_onsets(audio: np.ndarray, settings: OnsetSettings = OnsetSettings()) -> tuple[np.ndarray, np.ndarray]:
    """Onset times (s from the first sample) in mono `audio` at settings.rate, and each onset's flux peak
    relative to the loudest one (0..1], a loudness proxy used as the reference velocity."""
    librosa = _librosa()
    audio = np.asarray(audio, np.float32)
    if audio.size < settings.n_fft or not np.any(audio):
        return np.zeros(0), np.zeros(0)
    s = settings
    envelope = librosa.onset.onset_strength(
        y=audio, sr=s.rate, n_fft=s.n_fft, hop_length=s.hop_length, lag=s.lag, max_size=s.max_size,
        n_mels=s.n_mels, fmin=s.fmin, fmax=min(s.fmax, s.rate / 2))
    peaks = librosa.onset.onset_detect(
        onset_envelope=envelope, sr=s.rate, hop_length=s.hop_length, units="frames", backtrack=False,
        **s.peak_picking())
    if peaks.size == 0:
        return np.zeros(0), np.zeros(0)
    frames = librosa.onset.onset_backtrack(peaks, envelope) if s.backtrack else peaks
    strength = envelope[peaks] / max(float(envelope[peaks].max()), 1e-9)
    return librosa.frames_to_time(frames, sr=s.rate, hop_length=s.hop_length), strength


def onset_notes(times: np.ndarray, strengths: np.ndarray, instrument: Instrument) -> list[Note]:
    """Onsets as notes: a placeholder pitch (onsets have none; the instrument's middle, or its piece nearest
    to it, for the piano rolls), a short length, and a velocity from the onset's strength."""
    pitch = instrument.clamp_pitch((instrument.lowest + instrument.highest) // 2)
    return [Note(float(t), float(t) + ONSET_NOTE_SECONDS, pitch, max(1, min(127, int(round(127 * float(v))))))
            for t, v in zip(times, strengths, strict=True)]


def choose_reference(instrument: Instrument, reference: Reference = "auto") -> Literal["onsets", "notes"]:
    """"auto": onsets for the instruments of the GM percussion channel (drums, hand drums, claps, steps: a hit
    has no pitch), basic-pitch notes for everything with a pitch (timpani included)."""
    if reference not in REFERENCES:
        raise InputError(f"unknown reference {reference!r}; choose one of: {', '.join(REFERENCES)}")
    if reference != "auto":
        return reference
    return "onsets" if instrument.drum else "notes"


def soundtrack_reference(path: str | Path, instrument: Instrument, reference: Reference = "auto",
                         onset_settings: OnsetSettings = OnsetSettings()) -> SoundtrackReference:
    """The reference notes in the soundtrack of `path`, on the video's clock."""
    from ..data.transcription import TRANSCRIBER, TranscriptionSettings, decode_audio, transcribe

    if choose_reference(instrument, reference) == "onsets":
        times, strengths = detect_onsets(decode_audio(path, onset_settings.rate), onset_settings)
        return SoundtrackReference(onset_notes(times, strengths, instrument), False,
                                   {"reference": "onsets detected in the soundtrack"} | onset_settings.describe())
    notes = transcribe(decode_audio(path), instrument)
    return SoundtrackReference(notes, True, {
        "reference": "notes (with pitches) transcribed from the soundtrack", "detector": TRANSCRIBER,
        "parameters": asdict(TranscriptionSettings()) | {"pitch range": f"{instrument.name}: MIDI "
                                                         f"{instrument.lowest}-{instrument.highest}"}})


def soundtrack_video(path: str | Path) -> Path | None:
    """The video to take a soundtrack reference from: `path` itself if it is a video file, or the one video of
    a folder that has no MIDI beside it; None for a folder with a MIDI (a recording, recordings.load_recording)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(f"{path} is not a video ({', '.join(VIDEO_SUFFIXES)}) or a recording folder")
        return path
    if not path.is_dir():
        raise InputError(f"recording not found: {path}")
    if any(p.suffix.lower() in (".mid", ".midi") for p in path.iterdir()):
        return None
    videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if len(videos) != 1:
        raise InputError(f"{path} must hold exactly one video (found {len(videos)}), with or without a MIDI file")
    return videos[0]


def load_soundtrack_recording(video: str | Path, instrument: str, reference: Reference = "auto",
                              settings: PoseSettings = PoseSettings(), audio: str | Path | None = None,
                              ) -> tuple[Example, SoundtrackReference, dict]:
    """A video with sound as one real example over its whole length: keypoints from the picture, reference
    notes from the soundtrack (clock offset 0, the residual lag searched when scored). Returns the example, the
    reference and the provenance for the report.

    `audio`, if given, is heard instead of the video's own soundtrack: the player's own track (a stem, a close
    microphone) where the soundtrack mixes in players the picture does not show. It is taken to start at the
    video's first frame, its residual lag searched as a soundtrack's."""
    video = Path(video)
    chosen = get_instrument(instrument)
    info = probe(video)
    heard_in = video if audio is None else Path(audio)
    heard = soundtrack_reference(heard_in, chosen, reference)
    if not heard.notes:
        raise InputError(f"no {'onset' if not heard.pitched else 'note'} heard in "
                         f"{'the soundtrack of ' if audio is None else ''}{heard_in}")
    keypoints = extract_keypoints(info.path, settings=settings)
    name = video.parent.name if video.stem == "video" else video.stem
    example = Example(keypoints, [heard.notes], chosen.name, f"soundtrack:{name}", "real")
    provenance = {"video": str(video), "alignment": {"offset": 0.0, "method": CLOCK_METHOD},
                  "range_seconds": [0.0, round(example.duration, 3)], "notes_evaluated": len(heard.notes),
                  "pitched": heard.pitched} | heard.description
    if audio is not None:
        provenance["audio"] = str(audio)
    if heard.pitched:
        voices = check_voices(heard.notes, keypoints.num_performers, chosen)
        provenance["voices"] = voices.describe()
        if voices.other_players:
            provenance["warning"] = voices.warning(chosen)
    else:
        from ..data.transcription import decode_audio

        pitched = check_pitched_sound(decode_audio(heard_in))
        provenance["pitched sound"] = pitched.describe()
        if pitched.other_instruments:
            provenance["warning"] = pitched.warning()
    return example, heard, provenance


def reference_preface(recordings: list[dict]) -> list[str]:
    """The report's section on soundtrack references: what the reference is, the detector and its parameters,
    and how the clock lag is found (the lag found is beside every F1 in the best clock lag table)."""
    heard = [r for r in recordings if "detector" in r]
    if not heard:
        return []
    lines = ["## Reference: the soundtrack", ""]
    for recording in heard:
        parameters = ", ".join(f"{key}={value}" for key, value in recording["parameters"].items())
        lines += [f"- **{Path(recording['video']).parent.name}/{Path(recording['video']).name}**: reference = "
                  f"{recording['reference']}{' (heard in ' + recording['audio'] + ')' if 'audio' in recording else ''} "
                  f"({recording['notes_evaluated']} "
                  f"{'notes' if recording['pitched'] else 'onsets'}); detector: {recording['detector']}; "
                  f"parameters: {parameters}"]
        if "voices" in recording:
            voices = recording["voices"]
            lines += [f"  - voices: the {voices['performers in view']} player(s) in view can play "
                      f"{voices['voices they can play']} at once; up to {voices['most voices heard']} heard; more "
                      f"than they can play for {voices['share with more voices']:.0%} of the time sound is heard "
                      f"(partials of a lower note not counted; above {CROWDED_SHARE:.0%} the soundtrack is taken to "
                      "hold other players)"]
        if "pitched sound" in recording:
            lines += [f"  - pitched sound: basic-pitch hears notes through "
                      f"{recording['pitched sound']['share with pitched notes']:.0%} of the soundtrack (above "
                      f"{PITCHED_SHARE:.0%} other instruments are taken to be heard)"]
        if "warning" in recording:
            lines += [f"  - **Other players heard**: {recording['warning']}."]
    lines += ["", f"Onsets heard together are one onset: a note starting at most {HEARD_TOGETHER * 1000:.0f} ms after "
              "the first of a group joins it, in the reference and in every generator alike (a transcription hears "
              "one bowed or plucked note with its octave or another harmonic as notes of their own; onset detection "
              "is scored so: madmom combines annotated onsets within 30 ms). Onset counts and F1 are of heard onsets, "
              "note F1 and the notes columns count notes; chance plays as many heard onsets as the generator.",
              "", f"Clock: {CLOCK_METHOD}. The lag found is printed beside each F1 in the best clock lag table "
              "(how far the heard onsets were moved to score best; positive = later)."
              + ("" if all(r["pitched"] for r in heard) else " Onsets have no pitch: note F1 is n/a for them, and an "
                 "onset's velocity is its flux peak relative to the loudest (velocity r: loudness, roughly).")]
    return lines
