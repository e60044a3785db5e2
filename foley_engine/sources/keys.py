"""The keys note source: find a keyboard in the clip and read what was played off its keys.

Keypoints alone cannot carry a keyboard seen from above (neither the key nor the moment of the press shows in
a hand's 2-D joints), but the frame does: the keyboard's geometry gives every key and its pitch, and each
key's pixels show when it goes down (presses.py, reading.py). When no keyboard is found, the caller falls
back to the generators that read motion.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import video
from ..errors import OutputError
from ..instruments import Instrument
from ..keyboard.detect import find_keyboard
from ..keyboard.follow import (
    FOLLOW_VERSION,
    CameraMotion,
    Followed,
    camera_motion,
    camera_moved,
    followed_rows,
    load_followed,
    save_followed,
    steadied,
    steadied_frames,
)
from ..keyboard.geometry import KeyboardGeometry
from ..keyboard.presses import band_rows, key_band, press_evidence
from ..keyboard.reading import read_notes
from ..keyboard.recall import RememberedKeyboards, still_fits
from ..keyboard.register import octave_from_hands
from ..keypoints import Keypoints
from ..notes import Performance
from ..options import GeneratorOptions
from ..pose.bands import BandRows, BandSampler
from ..pose.extract import PoseSettings, content_hash_of, default_cache_dir
from . import SourceClip, SourceNotes

#: Generator name recorded in the MIDI, the summary and the panel.
SOURCE_NAME = "keys:pixels"
#: Frames are read at this size (longer side): a white key is then about 10 pixels wide on a keyboard that
#: fills the frame's width, enough for the edge lines that show a press, and it is the pose stage's size.
FRAME_SIZE = 640
#: Frames spread over the range that are searched for the keyboard (hands move between them).
SEARCH_FRAMES = 24
#: Fewer distinct keyframes than this in the range (a short range of a clip with sparse keyframes, often one
#: every 8-10 s): frames spread over the range are decoded instead, which costs a pass over the range.
MIN_KEYFRAMES = 6
#: ... and of at most this many seconds from the range's first keyframe (or its start): hands move enough in that
#: time to show every key.
DECODED_SECONDS = 8.0
#: Fewer frames than this cannot separate the keys from the hands over them: no keyboard is looked for, and
#: the motion generators play.
MIN_FRAMES = 2
#: A keyboard found with less confidence than this is not trusted to play from.
MIN_CONFIDENCE = 0.3

#: How often the keys source needs the hands (per second): a press takes the fingertips within 70 ms of it
#: (reading.FINGER_SECONDS) and the speed over the 0.1 s before it, which 15 samples a second still give,
#: interpolated to every frame. The notes come from every frame's pixels.
HANDS_PER_SECOND = 15.0

Progress = Callable[[float, str], None]


def keys_pose_settings(settings: PoseSettings, frame_rate: float) -> PoseSettings:
    """What the pose stage has to find on a clip whose notes are read off the keys: the hands, on every
    frame up to HANDS_PER_SECOND, and no one's body (the notes do not use it). Half the pose stage's time on a
    30 fps keyboard clip (bench/pipeline_bench.py)."""
    every = int(min(4, max(1, round(frame_rate / HANDS_PER_SECOND))))
    return dataclasses.replace(settings, bodies=False, model_every=every)


@dataclass(frozen=True)
class KeyboardReading:
    """What the keys source found: the geometry (for previews and the summary) and the notes it read."""

    geometry: KeyboardGeometry
    performance: Performance
    camera_motion: CameraMotion | None = None  # how the camera moved the keys; None when it stood still


def locate_keyboard(path: str | Path, start: float, end: float) -> KeyboardGeometry | None:
    """The keyboard in [start, end) of the video, or None when there is none to trust. It is searched on the
    keyframes spread over the range (hands move between them, so together they show every key)."""
    frames = video.keyframes_near(path, _search_times(start, end), FRAME_SIZE)
    if len(frames) < MIN_KEYFRAMES:
        # Decoding starts at the range's first keyframe when it has one: from `start` itself, the decoder would
        # first go through every frame since the keyframe before it (up to a whole group of pictures, seconds).
        first = next((frame.time for frame in frames if start <= frame.time < end), start)
        stretch = min(end - first, DECODED_SECONDS)
        frames = _frames_at(path, first, first + stretch, _search_times(first, first + stretch))
    if len(frames) < MIN_FRAMES:
        return None  # a clip too short to show the keyboard without the hands on it
    geometry = find_keyboard([frame.image for frame in frames])
    return geometry if geometry is not None and geometry.confidence >= MIN_CONFIDENCE else None


def _search_times(start: float, end: float) -> list[float]:
    """The SEARCH_FRAMES times, spread evenly over [start, end), whose frames the keyboard is looked for on."""
    step = (end - start) / SEARCH_FRAMES
    return [start + (index + 0.5) * step for index in range(SEARCH_FRAMES)]


def recall_keyboard(path: str | Path, start: float, end: float) -> KeyboardGeometry | None:
    """locate_keyboard's answer, remembered beside the keypoints (keyboard/recall.py): for this very range
    as found before; else a keyboard found in another range of the video where the keyframes at or before
    this range's start and end still show it (two decoded frames, not a search); else, unless this range was
    searched before in vain, looked for now. What was found is remembered for this range."""
    path = Path(path)
    memory = RememberedKeyboards(default_cache_dir() / "keyboards", content_hash_of(path))
    searched, geometry = memory.found(start, end)
    if geometry is not None:
        return geometry
    candidates = memory.elsewhere(start, end)
    looks = video.keyframes_near(path, [start, max(start, end - 1e-3)], FRAME_SIZE) if candidates else []
    geometry = next((candidate for candidate in candidates
                     if looks and all(still_fits(candidate, look.image) for look in looks)), None)
    if geometry is None and not searched:
        geometry = locate_keyboard(path, start, end)
    if geometry is not None or not searched:
        memory.remember(start, end, geometry)
    return geometry


def _frames_at(path: str | Path, start: float, end: float, times: list[float]) -> list[video.Frame]:
    """The first frame at or after each of `times` (sorted), in one pass over [start, end) that decodes only
    the frames others are predicted from (half the cost of every frame; any frame shows the keyboard) and
    converts only those it takes."""
    return list(video.iter_frames(path, start, end, FRAME_SIZE, references_only=True, at_times=times))


def read_keyboard(path: str | Path, start: float, end: float, keypoints: Keypoints, instrument: Instrument,
                  geometry: KeyboardGeometry, progress: Progress | None = None,
                  rows: BandRows | None = None) -> KeyboardReading:
    """Notes of [start, end) read off the keys of `geometry`, played on `instrument`: from the band `rows` the
    pose workers sampled (key_band(geometry).sampler), or else from the frames, decoded now. A keyboard with
    neither end in view takes its octave from where the hands play (register.py); the reading's geometry says so.
    Where the band shows that the camera moved, the keys are followed from frame to frame (follow.py: two more
    passes over the range, remembered beside the keypoints for the next reading of the range)."""
    report = progress or (lambda fraction, message: None)
    duration = end - start
    geometry = octave_from_hands(geometry, keypoints)  # with no end of the keyboard in view
    band = key_band(geometry)

    def frames(doing: str, low: float, high: float) -> Iterator[video.Frame]:
        for count, frame in enumerate(video.iter_frames(path, start, end, FRAME_SIZE), start=1):
            if count % 30 == 0:
                done = min(0.99, (frame.time - start) / duration)
                report(low + (high - low) * done, f"{doing} at {frame.time:.1f} s")
            yield frame

    followed_file = _followed_file(Path(path), start, end, band.sampler)
    followed = load_followed(followed_file)  # this range was read before and the camera had moved
    if followed is None:
        sampled = rows if rows is not None else band_rows(frames("reading the keys", 0.0, 0.3), band)
        followed = _follow(start, end, geometry, keypoints, frames) if camera_moved(sampled, band) else None
        if followed is not None:
            with contextlib.suppress(OSError, OutputError):  # an unwritable cache only costs time next run
                save_followed(followed_file, followed)
    motion: CameraMotion | None = None
    if followed is not None:
        sampled, motion, geometry = followed.rows, followed.motion, followed.geometry
        band = key_band(geometry)
        keypoints = steadied(keypoints, motion, geometry.frame_size)
    notes = read_notes(press_evidence(sampled, band, moving=motion is not None), geometry, keypoints, instrument,
                       start, duration)
    report(1.0, f"{len(notes)} notes read off {len(geometry.keys)} keys")
    return KeyboardReading(geometry, Performance(instrument, duration, [notes], SOURCE_NAME), motion)


def _follow(start: float, end: float, geometry: KeyboardGeometry, keypoints: Keypoints,
            frames: Callable[[str, float, float], Iterator[video.Frame]]) -> Followed | None:
    """The keys of [start, end) followed where the camera moved them (follow.py; `frames` decodes the range), or
    None when the keyboard shows too little to measure the motion on. The keyboard is also found again, on frames
    spread over the range as locate_keyboard spreads them, steadied by the motion: found on frames the camera had
    moved, the key map is where the keys were on average, blurred by the motion, and a camera swaying by a few
    pixels gave the keys wrong pitches (rendered, 61 keys at 640x360: note F1 0.64 at 4 px, 0.05 at 8 px)."""
    spread: list[video.Frame] = []
    motion = camera_motion(_picking(frames("the camera moves: following the keys", 0.3, 0.65),
                                    _search_times(start, end), spread), geometry)
    if motion is None:
        return None
    again = find_keyboard(steadied_frames(spread, motion)) if len(spread) >= MIN_FRAMES else None
    if again is not None and again.confidence > geometry.confidence:
        geometry = octave_from_hands(again, keypoints)
    rows = followed_rows(frames("reading the keys where the camera moved them", 0.65, 0.99), key_band(geometry),
                         motion)
    return Followed(rows, motion, geometry)


def _picking(frames: Iterable[video.Frame], times: list[float], picked: list[video.Frame]) -> Iterator[video.Frame]:
    """`frames`, passed on, with the first frame at or after each of `times` (sorted) appended to `picked`."""
    for frame in frames:
        if len(picked) < len(times) and frame.time >= times[len(picked)] - 1e-6:
            picked.append(frame)
        yield frame


def _followed_file(path: Path, start: float, end: float, sampler: BandSampler) -> Path:
    """Where the band of [start, end) of the video followed from frame to frame is cached (follow.save_followed)."""
    name = f"{content_hash_of(path)}-{start:.3f}-{end:.3f}-{sampler.digest()}-v{FOLLOW_VERSION}.npz"
    return default_cache_dir() / "followed" / name


class KeysSource:
    """The keys of a keyboard in view, as a note source: None when no keyboard is found (the next source plays).
    The keys say what was played, so every take is the same; the first instrument asked for plays them.

    The keyboard is looked for before the pose stage (`prepare`), so the pose workers can sample the band of
    keys on the frames they decode anyway; the notes are read after it (`play`)."""

    name = "keys"
    stage = "keys"

    def __init__(self, options: GeneratorOptions) -> None:
        self.variations = options.variations
        self.geometry: KeyboardGeometry | None = None
        self.prepared: tuple[Path, float, float] | None = None

    def prepare(self, path: Path, start: float, end: float, progress: Progress) -> BandSampler | None:
        """Find the keyboard in [start, end); the band the pose workers should sample, None without a keyboard."""
        progress(0.0, "looking for a keyboard")
        self.geometry = recall_keyboard(path, start, end)
        self.prepared = (path, start, end)
        progress(1.0, "a keyboard" if self.geometry is not None else "no keyboard")
        return key_band(self.geometry).sampler if self.geometry is not None else None

    def play(self, clip: SourceClip, progress: Progress) -> SourceNotes | None:
        if self.prepared != (clip.video, clip.start, clip.end):
            self.prepare(clip.video, clip.start, clip.end, progress)
        if self.geometry is None:
            return None
        reading = read_keyboard(clip.video, clip.start, clip.end, clip.keypoints, clip.instruments[0], self.geometry,
                                progress, clip.band)
        return SourceNotes([reading.performance] * self.variations, self.name, reading.geometry, stage=self.stage,
                           camera_motion=reading.camera_motion)
