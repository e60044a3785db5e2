"""Which clips of a timeline get foley, from which file, over which seconds of it.

Planning only reads the timeline and probes media, so `--dry-run` can show the whole plan (and every
reason a clip is skipped) without loading a model. Times follow OTIO: a clip's place on the timeline is its
trimmed range transformed up to the top-level stack (compound clips included), and the engine's seconds are
the clip's source range measured from the media's available-range start (its start timecode). A retimed clip
(LinearTimeWarp) keeps its length on the timeline and shows `speed` times as much media (`clip_speed`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from ..errors import InputError
from ..instruments import parse_instruments
from ..options import GeneratorOptions
from ..outputs import slug
from ..protocol import CLIP_STATUS, ClipCode, ClipStatus, clip_code
from ..synth import SAMPLE_RATE
from ..video import VideoInfo, probe

#: Metadata namespace on clips and tracks: `foley.instrument` on a video clip, our provenance on Foley ones.
FOLEY = "foley"

STILL_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx", ".bmp", ".gif",
                                  ".psd", ".tga", ".webp", ".heic", ".svg"})
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class TimelineOptions:
    """What to generate and where; the CLI's options, usable from Python as they are."""

    instrument: str = "piano"
    #: clip name or regex -> instrument, or instruments one per performer left to right ("violin,guitar")
    instrument_map: dict[str, str] = field(default_factory=dict)
    clips: tuple[str, ...] = ()  # clip names or regexes to process; empty = all
    video_track: int | None = None  # 1-based among video tracks, as editors number V1, V2, ...
    media_dir: Path | None = None  # default: OUT's folder
    media_root_map: tuple[tuple[str, str], ...] = ()  # (old prefix, new prefix) for moved projects
    track_name: str = "Foley"
    #: where the notes come from and how the model samples, as `foley generate`; the seed is fixed by default
    #: (0), so the same timeline always gives the same audio
    generator: GeneratorOptions = GeneratorOptions()
    soundfont: Path | None = None
    allow_silence: bool = False
    allow_missing: bool = False
    #: a track per performer ("Foley · performer 1", ...) instead of one track with the mix
    stems: bool = False

    def __post_init__(self) -> None:
        if self.generator.variations != 1:
            raise InputError("a timeline places one take per clip: variations must be 1")


@dataclass
class ClipPlan:
    """One video clip: what will be (or was) done with it and why."""

    index: int  # 1-based, in track then timeline order
    name: str
    track: str  # "V1", or "V1/Compound" inside a compound clip
    clip: otio.schema.Clip
    status: ClipStatus  # "render" -> "ok"/"skipped" after the run, or "skipped", "missing"
    reason: str = ""
    code: ClipCode | None = None  # why, for programs (protocol.ClipCode); None: the status says it
    detail: str = ""  # the reason without command-line advice, for an editor's user; empty: the reason
    placement: TimeRange | None = None  # the visible part of the clip on the timeline
    media: Path | None = None
    remapped: bool = False  # media was found through --media-root-map
    start: float = 0.0  # engine seconds, from the media's first frame
    end: float = 0.0  # clamped to the media's end; the audio is padded to `samples`
    samples: int = 0  # the clip's exact length at SAMPLE_RATE: on the timeline, whatever its speed
    speed: float = 1.0  # media seconds per timeline second (`clip_speed`); the notes are played this much faster
    instrument: str = ""
    wav: Path | None = None
    stems: list[Path] = field(default_factory=list)  # --stems: each performer's WAV, left to right, once rendered
    result: dict = field(default_factory=dict)  # the engine's summary once rendered

    @property
    def target_wav(self) -> Path:
        """The WAV of a clip to render: planning gives every such clip one (`wav` is None only on the others)."""
        assert self.wav is not None, f"clip {self.index} ({self.name}) is not one to render: it has no WAV"
        return self.wav

    @property
    def placed(self) -> TimeRange:
        """Where a clip to render sits on the timeline: planning gives every such clip its placement."""
        assert self.placement is not None, f"clip {self.index} ({self.name}) is not on the timeline"
        return self.placement

    def performers(self) -> list[dict]:
        """With --stems, each performer's stem, left to right, with the instrument they play and their notes (the
        clip's `instrument` and `notes` are the whole ensemble's): what a stem's OTIO clip records, and what an
        editor that places stems from the summary needs for each."""
        players = {row.get("index"): row for row in self.result.get("performers", [])}
        return [{"performer": number, "instrument": players.get(number, {}).get("instrument", self.instrument),
                 "notes": players.get(number, {}).get("notes", 0), "wav": str(stem)}
                for number, stem in enumerate(self.stems, 1)]

    def summary(self) -> dict:
        row: dict = {"index": self.index, "name": self.name, "track": self.track, "status": self.status}
        row["code"] = clip_code(self.status, self.code).value
        if self.reason:
            row |= {"reason": self.reason, "detail": self.detail or self.reason}
        if self.placement is not None:
            row["timeline"] = {"start": self.placement.start_time.value, "duration": self.placement.duration.value,
                               "rate": self.placement.duration.rate,
                               "start_seconds": self.placement.start_time.to_seconds(),
                               "duration_seconds": self.placement.duration.to_seconds()}
        if self.media is not None:
            row["media"] = str(self.media)
        if self.status in ("render", "ok") or self.samples:
            row |= {"source": {"start": self.start, "end": self.end}, "samples": self.samples,
                    "instrument": self.instrument} | ({"speed": self.speed} if self.speed != 1 else {})
        if self.wav is not None and self.status in ("render", "ok"):
            row["wav"] = str(self.wav)
        if self.stems:
            row["stems"] = [str(stem) for stem in self.stems]
            row["performers"] = self.performers()
        if self.result:
            row |= {key: self.result[key] for key in ("notes", "generator", "timings") if key in self.result}
        return row


@dataclass(frozen=True)
class VideoClip:
    clip: otio.schema.Clip
    track: str
    full: TimeRange | None  # the whole clip on the timeline; None when OTIO cannot compute it
    visible: TimeRange | None  # after the trims of enclosing compound clips; None when fully hidden
    enabled: bool


def name_matches(pattern: str, name: str) -> bool:
    """`--clips`/instrument-map keys: an exact name, or a regular expression matching the whole name."""
    if pattern == name:
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def _intersection(a: TimeRange, b: TimeRange | None) -> TimeRange | None:
    if b is None:
        return a
    start = max(a.start_time, b.start_time)
    end = min(a.end_time_exclusive(), b.end_time_exclusive())
    return TimeRange(start, end - start) if start < end else None


def video_clips(timeline: otio.schema.Timeline, video_track: int | None = None) -> list[VideoClip]:
    """Every clip on the video tracks, descending into compound clips (nested stacks and tracks)."""
    tracks = [track for track in timeline.tracks
              if isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Video]
    if video_track is not None and not 1 <= video_track <= len(tracks):
        raise InputError(f"--video-track {video_track}: the timeline has {len(tracks)} video track(s)")
    found: list[VideoClip] = []
    for number, track in enumerate(tracks, 1):
        if video_track in (None, number):
            found.extend(_walk(track, f"V{number}", timeline.tracks, None, track.enabled))
    return found


def _walk(composition: otio.core.Composition, label: str, top: otio.schema.Stack, window: TimeRange | None,
          enabled: bool) -> Iterator[VideoClip]:
    for child in composition:
        if isinstance(child, otio.schema.Clip):
            try:
                full = child.transformed_time_range(child.trimmed_range(), top)
            except otio.exceptions.CannotComputeAvailableRangeError:
                yield VideoClip(child, label, None, None, enabled and child.enabled)
                continue
            yield VideoClip(child, label, full, _intersection(full, window), enabled and child.enabled)
        elif isinstance(child, otio.core.Composition):  # a compound clip: a nested stack or track
            inner = _intersection(child.transformed_time_range(child.trimmed_range(), top), window)
            nested = [child] if isinstance(child, otio.schema.Track) else list(child)
            for track in nested:
                if isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Video:
                    yield from _walk(track, f"{label}/{child.name or 'compound'}", top, inner,
                                     enabled and child.enabled and track.enabled)


def local_path(url: str) -> str | None:
    """The file path a target_url names (POSIX separators); None for http:, s3: and other remote URLs."""
    if _WINDOWS_PATH.match(url):
        return url.replace("\\", "/")
    scheme = urllib.parse.urlparse(url).scheme
    if scheme == "file":
        file_path: str = otio.url_utils.filepath_from_url(url)
        return file_path
    return url.replace("\\", "/") if scheme == "" else None


def remap(path: str, root_map: tuple[tuple[str, str], ...]) -> tuple[str, bool]:
    """Apply the first `--media-root-map OLD=NEW` whose OLD is a whole-component prefix of `path`."""
    for old, new in root_map:
        old = old.replace("\\", "/").rstrip("/")
        if path == old or path.startswith(old + "/"):
            return new.rstrip("/") + path[len(old):], True
    return path, False


def resolve_media(url: str, base: Path, root_map: tuple[tuple[str, str], ...] = ()) -> tuple[Path | None, bool]:
    """A reference's local file (relative paths are relative to the timeline file) and whether it was remapped."""
    path = local_path(url)
    if path is None:
        return None, False
    path, remapped = remap(path, root_map)
    resolved = Path(path).expanduser()
    return (resolved if resolved.is_absolute() else base / resolved), remapped


def clip_samples(duration: RationalTime) -> int:
    """Audio samples for a duration: computed per clip from its own RationalTime, so nothing accumulates."""
    return int(round(duration.to_seconds() * SAMPLE_RATE))


def clip_speed(clip: otio.schema.Clip) -> tuple[float, str]:
    """A clip's speed from its time effects, media seconds per timeline second, and why the engine cannot follow
    them (then 1.0; "" when it can).

    OTIO's convention (LinearTimeWarp.time_scalar): a warp does not change the clip's length on the timeline,
    its source range's duration; the media plays `time_scalar` times as fast under it, from the source range's
    start. A clip of 2 s with time_scalar 2.0 shows [start, start + 4 s) of its media, in 2 s. Several warps
    multiply. A freeze frame (time_scalar 0, FreezeFrame included), a reverse (negative) and any other time
    effect (a ramp) have no single media range to play the notes of, so they are not followed.
    """
    speed = 1.0
    for effect in clip.effects:
        if not isinstance(effect, otio.schema.TimeEffect):
            continue
        schema = effect.schema_name()
        if not isinstance(effect, otio.schema.LinearTimeWarp):
            return 1.0, (f"time effect {effect.effect_name or schema} is not supported, only a constant speed "
                         "(LinearTimeWarp)")
        if isinstance(effect, otio.schema.FreezeFrame) or effect.time_scalar == 0:
            return 1.0, f"freeze frame ({schema}{'' if schema == 'FreezeFrame' else ' 0'}) is not supported"
        if effect.time_scalar < 0:
            return 1.0, f"reverse playback ({schema} {effect.time_scalar:g}) is not supported"
        speed *= effect.time_scalar
    return speed, ""


def plan_clips(timeline: otio.schema.Timeline, options: TimelineOptions, media_base: Path, media_dir: Path,
               stem: str) -> list[ClipPlan]:
    """Decide for every video clip: render (with engine range, instrument and WAV path), skip, or missing."""
    found = video_clips(timeline, options.video_track)
    if not found:
        raise InputError(f"no video clips in timeline {timeline.name!r}"
                         + (f" on video track {options.video_track}" if options.video_track else ""))
    for pattern in options.clips:
        if not any(name_matches(pattern, item.clip.name) for item in found):
            raise InputError(f"--clips {pattern!r} matches no video clip; clips are: "
                             + ", ".join(sorted({item.clip.name for item in found}))[:300])
    probes: dict[Path, VideoInfo | InputError] = {}
    plans = []
    for index, item in enumerate(found, 1):
        plan = ClipPlan(index, item.clip.name, item.track, item.clip, "render", placement=item.visible)
        _plan_one(plan, item, options, media_base, probes)
        if plan.status == "render":
            plan.wav = media_dir / f"{stem}.{index:03d}.{slug(plan.name, 'clip')}.foley.wav"
        plans.append(plan)
    return plans


def _plan_one(plan: ClipPlan, item: VideoClip, options: TimelineOptions, media_base: Path,
              probes: dict[Path, VideoInfo | InputError]) -> None:
    clip = item.clip

    def skip(code: ClipCode, reason: str) -> None:
        plan.status, plan.code, plan.reason = CLIP_STATUS[code], code, reason

    reference = clip.media_reference
    if not item.enabled:
        return skip(ClipCode.DISABLED, "disabled")
    if options.clips and not any(name_matches(pattern, clip.name) for pattern in options.clips):
        return skip(ClipCode.NOT_SELECTED, "not selected by --clips")
    if item.full is None:
        return skip(ClipCode.NO_RANGE, "no source range, and the media has no available range")
    if item.visible is None:
        return skip(ClipCode.HIDDEN, "hidden by the trim of its compound clip")
    plan.speed, unsupported = clip_speed(clip)
    if unsupported:
        return skip(ClipCode.SPEED_CHANGE, unsupported)
    if isinstance(reference, otio.schema.GeneratorReference):
        return skip(ClipCode.GENERATOR_CLIP, f"generator clip ({reference.generator_kind or 'generator'})")
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return skip(ClipCode.IMAGE_SEQUENCE, "image sequence")
    if isinstance(reference, otio.schema.MissingReference):
        return skip(ClipCode.OFFLINE, "offline: the timeline has no media for it")
    if not isinstance(reference, otio.schema.ExternalReference):
        return skip(ClipCode.UNSUPPORTED_REFERENCE, f"unsupported media reference {reference.schema_name()}")
    media, plan.remapped = resolve_media(reference.target_url, media_base, options.media_root_map)
    if media is None:
        return skip(ClipCode.REMOTE_MEDIA, f"not a local file: {reference.target_url}")
    plan.media = media
    if media.suffix.lower() in STILL_IMAGE_SUFFIXES:
        return skip(ClipCode.STILL_IMAGE, "still image")
    if not media.is_file():
        return skip(ClipCode.MISSING_MEDIA, f"media not found: {media}")
    if media not in probes:
        try:
            probes[media] = probe(media)  # once per file, however many clips use it
        except InputError as error:
            probes[media] = error
    info = probes[media]
    if isinstance(info, InputError):
        return skip(ClipCode.UNREADABLE_MEDIA, f"cannot read video: {info}")

    source = clip.trimmed_range()
    media_start = reference.available_range.start_time if reference.available_range else RationalTime(0, 1)
    hidden = item.visible.start_time - item.full.start_time  # cut off the front by a compound clip's trim
    plan.start = max(0.0, (source.start_time - media_start).to_seconds() + hidden.to_seconds() * plan.speed)
    plan.samples = clip_samples(item.visible.duration)
    if plan.start >= info.duration:
        return skip(ClipCode.PAST_MEDIA_END,
                    f"source range starts at {plan.start:.2f}s, after the media's end ({info.duration:.2f}s)")
    plan.end = min(plan.start + plan.samples / SAMPLE_RATE * plan.speed, info.duration)
    try:
        plan.instrument = ",".join(i.name for i in parse_instruments(_instrument_for(clip, options)))
    except InputError as error:
        raise InputError(f"clip {clip.name!r}: {error}") from None


def _instrument_for(clip: otio.schema.Clip, options: TimelineOptions) -> str:
    """--instrument-map beats the clip's `foley.instrument` metadata, which beats --instrument."""
    for pattern, instrument in options.instrument_map.items():
        if name_matches(pattern, clip.name):
            return instrument
    metadata = clip.metadata.get(FOLEY)
    if isinstance(metadata, Mapping) and metadata.get("instrument"):
        return str(metadata["instrument"])
    return options.instrument
