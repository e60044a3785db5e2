"""Note sources: what turns a range of video into notes, and the one place that picks which of them plays.

Every source has the same shape (`NoteSource`): it is given a `SourceClip` (the range's keypoints, and the
video and range, for a source that reads the frames) and returns takes of `Performance`, or None when it
cannot play this clip (the keys source with no keyboard in view). `open_sources(options)` turns the user's
`GeneratorOptions` into the sources to try, in order, checked and loaded before any expensive work:

- "keys": keys.py reads the notes off a keyboard found in the frame;
- "model": motion.py plays from the performers' motion with the `--model` generator (the learned model,
  model/, or the baseline rules, baseline.py);
- "strikes": strikes.py plays percussion and foley (claps, steps) from the limbs' impacts;
- "auto" (the default): the keys when a keyboard is in view, else the motion; percussion is never read off
  keys, and is played by PERCUSSION_SOURCE (the strikes: they score better on real footage so far).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import InputError
from ..instruments import Instrument, instruments_for
from ..keypoints import Keypoints
from ..notes import Performance
from ..options import GeneratorOptions, model_path
from ..pose.bands import BandRows, BandSampler

if TYPE_CHECKING:
    from ..keyboard.follow import CameraMotion
    from ..keyboard.geometry import KeyboardGeometry
    from ..pose.extract import PoseSettings

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SourceClip:
    """What a source is given: the range [start, end) of `video`, its keypoints, and the instrument(s) asked
    for (one for every performer, or one per performer left to right)."""

    video: Path
    start: float
    end: float
    keypoints: Keypoints
    instruments: tuple[Instrument, ...]
    band: BandRows | None = None  # the band a source asked the pose workers to sample (Sources.prepare)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class SourceNotes:
    """What a source played: the takes (the first is the one heard) and, from the keys source, the keyboard
    the notes were read off (for the summary and the preview)."""

    takes: list[Performance]
    source: str  # "keys", "model" or "strikes"
    keyboard: KeyboardGeometry | None = None
    note: str = ""  # why the source that plays is not the first one tried (for the summary)
    stage: str = "notes"  # the progress stage its work is reported under
    camera_motion: CameraMotion | None = None  # keys: how the camera moved the keys (None: it stood still)
    performer_sources: list[str] = field(default_factory=list)  # a band's: the source of each performer's part


class NoteSource(Protocol):
    """A way to make notes. `name` is what `--source` calls it, `stage` the progress stage it reports under.

    A source that reads the frames may also have `prepare(video, start, end, progress) -> BandSampler | None`,
    called before the pose stage: the band it returns is sampled by the pose workers on every frame they
    decode, and comes back in `SourceClip.band`. A source that needs less of the pose stage than everything may
    have `pose_settings(settings) -> PoseSettings`: what the pose stage must find for it to play (the strikes:
    wrists, so no Hands where Pose sees them)."""

    name: str
    stage: str

    def play(self, clip: SourceClip, progress: Progress) -> SourceNotes | None:
        """Takes of the clip, or None when this source cannot play it (the next source is tried)."""
        ...


@dataclass
class Sources:
    """The sources `options` names, in the order they are tried."""

    options: GeneratorOptions
    tried: list[NoteSource] = field(default_factory=list)

    def prepare(self, video: Path, start: float, end: float, instruments: tuple[Instrument, ...],
                progress: Progress) -> BandSampler | None:
        """What the pose workers should sample for the first source that reads the frames and may play these
        instruments, if any (a drum kit is never read off keys: no keyboard is looked for). When none will
        play the clip, the sources after it that may play these instruments are loaded now, before the pose
        stage (a learned model's checkpoint: a bad one fails here, and neither a keyboard clip nor a drummer's
        in auto pays for loading it)."""
        band: BandSampler | None = None
        candidates = self.candidates(instruments)
        for source in candidates:
            prepare = getattr(source, "prepare", None)
            if prepare is not None:
                band = prepare(video, start, end, progress)
                break
        if band is None:
            self.load(candidates)
        return band

    def load(self, sources: list[NoteSource] | None = None) -> None:
        """Load every source (of `sources`, else of all tried) that has something to load (`load()`: the
        learned model's checkpoint)."""
        for source in self.tried if sources is None else sources:
            load = getattr(source, "load", None)
            if load is not None:
                load()

    def play(self, clip: SourceClip, progress: Callable[[str], Progress]) -> SourceNotes:
        """The first source that can play the clip; `progress(stage)` gives each source its stage's callback.
        When none can (only "keys" was asked for and no keyboard is in view) it is an InputError. In auto, a
        band's percussionists and its other players are each played by their own sources (`_band`)."""
        band = self._band(clip, progress)
        if band is not None:
            return band
        skipped: list[str] = []
        for source in self.candidates(clip.instruments):
            notes = source.play(clip, progress(source.stage))
            if notes is not None:
                notes.note = "; ".join(skipped)
                return notes
            skipped.append(_NOT_PLAYED.get(source.name, f"{source.name}: nothing to play"))
        raise InputError(f"no keyboard found in {clip.video.name} between {clip.start:.2f}s and {clip.end:.2f}s "
                         "(use --source auto or model to play from the performers' motion)")

    def _band(self, clip: SourceClip, progress: Callable[[str], Progress]) -> SourceNotes | None:
        """A band of percussionists and other players in auto (`--instrument violin,drums`): the percussion
        parts by PERCUSSION_SOURCE, the others as auto plays them alone (the keys, else the motion), each
        source given its own players' keypoints; take k of each part joins take k of the band. Otherwise
        (one instrument for all, another --source, one kind of player only, or a keyboard read as one part for
        several pitched players) None: the clip is played whole.
        Until a band was split so, its drummer was played by the learned model (the snare clip 0.675 against
        the strike source's 0.871)."""
        if self.options.source != "auto" or len(clip.instruments) == 1:
            return None
        players = instruments_for(clip.instruments, clip.keypoints.num_performers)
        drummers = [p for p, instrument in enumerate(players) if instrument.percussive]
        others = [p for p in range(len(players)) if p not in drummers]
        if not drummers or not others:
            return None

        def part(group: list[int]) -> SourceNotes:
            return self.play(replace(clip, keypoints=clip.keypoints.performers(group),
                                     instruments=tuple(players[p] for p in group)), progress)

        pitched = part(others)  # first: where it is a keyboard read as one part, the drummers' work is not done
        if len(pitched.takes[0].tracks) != len(others):
            return None  # the keys read one keyboard as one part, whoever plays it: the band is played whole
        struck = part(drummers)
        where = {p: (pitched, index) for index, p in enumerate(others)}
        where |= {p: (struck, index) for index, p in enumerate(drummers)}
        takes = [Performance(instrument=players[0], duration=clip.duration,
                             tracks=[where[p][0].takes[k].tracks[where[p][1]] for p in range(len(players))],
                             generator=f"{pitched.takes[k].generator} + {struck.takes[k].generator}",
                             track_instruments=players)
                 for k in range(len(pitched.takes))]
        sources = [where[p][0].source for p in range(len(players))]
        return SourceNotes(takes, "+".join(dict.fromkeys(sources)), pitched.keyboard, pitched.note, pitched.stage,
                           pitched.camera_motion, sources)

    def pose_settings(self, instruments: tuple[Instrument, ...], settings: PoseSettings) -> PoseSettings:
        """What the pose stage must find for the source tried first for these instruments (its
        `pose_settings`, where it has one; else `settings` as they are)."""
        candidates = self.candidates(instruments)
        narrow = pose_hook(candidates[0]) if candidates else None
        return settings if narrow is None else narrow(settings)

    def candidates(self, instruments: tuple[Instrument, ...]) -> list[NoteSource]:
        """In auto, percussion is played by PERCUSSION_SOURCE (never read off keys) and the rest as before: the
        instruments are the clip's (a timeline's clips each have their own), so the choice is made here."""
        if self.options.source != "auto":
            return self.tried
        if all(instrument.percussive for instrument in instruments):
            return [source for source in self.tried if source.name == PERCUSSION_SOURCE]
        return [source for source in self.tried if source.name != "strikes"]


#: What auto plays percussion with: the source that scores better on real footage with sound. Measured on the
#: one such clip we may test on (../shared/media/snare-solo, onset F1 at the best lag within +-0.1 s, 50 ms,
#: chance at the same density beside it): the strike source 0.85 (chance 0.37), reading the sticks' strokes in
#: the pixels around the hands; the learned model 0.68 (chance 0.42). README, Instruments.
PERCUSSION_SOURCE = "strikes"


_NOT_PLAYED = {"keys": "no keyboard in view: notes from the performers' motion"}


def pose_hook(source: NoteSource) -> Callable[[PoseSettings], PoseSettings] | None:
    """The source's optional `pose_settings` hook (NoteSource), or None where it needs all the pose stage finds."""
    hook: Callable[[PoseSettings], PoseSettings] | None = getattr(source, "pose_settings", None)
    return hook


def open_sources(options: GeneratorOptions, instruments: tuple[Instrument, ...] = ()) -> Sources:
    """The sources to try for `options`, checked now; the learned model's checkpoint is loaded here when it is
    a file the user named (a broken one fails before anything else) or nothing reads the frames, else (the
    shipped model, with the keys tried first) by `Sources.prepare` once no keyboard is found; either way before
    pose, and it stays loaded for this process's next clip; `instruments`, when known,
    are checked against a source that cannot play them (--source strikes with a pitched instrument)."""
    from .keys import KeysSource
    from .motion import MotionSource
    from .strikes import StrikeSource, refuse_pitched

    tried: list[NoteSource] = []
    if options.source == "strikes":
        refuse_pitched(instruments)
    if options.source in ("auto", "strikes"):
        tried.append(StrikeSource(options))
    if options.source in ("auto", "keys"):
        tried.append(KeysSource(options))
    if options.source in ("auto", "model"):
        tried.append(MotionSource(options))
    sources = Sources(options, tried)
    if model_path(options.model) is not None or not any(hasattr(source, "prepare") for source in tried):
        sources.load()  # a checkpoint the user named is checked at once; so is any when no source reads frames
    return sources


__all__ = ["PERCUSSION_SOURCE", "NoteSource", "SourceClip", "SourceNotes", "Sources", "open_sources", "pose_hook"]
