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

The soundtrack and the picture share the container's clock; decode_audio puts audio sample 0 on the first
video frame. What remains is a small muxing or capture lag (tens of ms), which is searched, not assumed: the
recording is scored like a real recording whose clock offset is estimated at 0, at every LAG_STEP (lags.py)
within +-offset_spread, each generator and its chance at the same note density at their own best lag (lags.py).
"""

from __future__ import annotations

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
                              settings: PoseSettings = PoseSettings()) -> tuple[Example, SoundtrackReference, dict]:
    """A video with sound as one real example over its whole length: keypoints from the picture, reference
    notes from the soundtrack (clock offset 0, the residual lag searched when scored). Returns the example, the
    reference and the provenance for the report."""
    video = Path(video)
    chosen = get_instrument(instrument)
    info = probe(video)
    heard = soundtrack_reference(video, chosen, reference)
    if not heard.notes:
        raise InputError(f"no {'onset' if not heard.pitched else 'note'} heard in the soundtrack of {video}")
    keypoints = extract_keypoints(info.path, settings=settings)
    name = video.parent.name if video.stem == "video" else video.stem
    example = Example(keypoints, [heard.notes], chosen.name, f"soundtrack:{name}", "real")
    return example, heard, {"video": str(video), "alignment": {"offset": 0.0, "method": CLOCK_METHOD},
                            "range_seconds": [0.0, round(example.duration, 3)], "notes_evaluated": len(heard.notes),
                            "pitched": heard.pitched} | heard.description


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
                  f"{recording['reference']} ({recording['notes_evaluated']} "
                  f"{'notes' if recording['pitched'] else 'onsets'}); detector: {recording['detector']}; "
                  f"parameters: {parameters}"]
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
