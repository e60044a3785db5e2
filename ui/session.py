"""The panel's session without Qt: what is open, which range, the takes and the chosen one, and exporting it.

The window (window.py) owns the widgets, playback and the worker thread; it calls these operations and shows
what they leave behind. Keeping the state and its rules here — a new source drops the takes made for the
old one, a timeline clip's range comes from the edit, an export records the settings the take was made with,
an editor gets exit code 0 only for an accepted take — lets them be tested without a display.
"""

from __future__ import annotations

from pathlib import Path

from foley_engine import InputError, VideoInfo

from . import export
from .generation import Request, Settings, Take
from .source import Clip, Timeline, open_timeline, open_video

#: Times within this of the media's end count as its end (a range typed to two decimals, a rounded duration).
END_TOLERANCE = 1e-3


class Session:
    """One panel session. `result_json` set means editor mode: the chosen take is handed back through that file
    (and the files go to `out_dir`, when given, without asking where)."""

    def __init__(self, result_json: Path | None = None, out_dir: Path | None = None) -> None:
        self.result_json = result_json
        self.out_dir = out_dir
        self.exit_code = 1 if result_json is not None else 0  # an adapter gets 0 only for an accepted take
        self.video: Path | None = None
        self.range: tuple[float, float] = (0.0, 0.0)
        self.frame_rate = 30.0
        self.timeline: Timeline | None = None
        self.clip_index: int | None = None  # row in `timeline.clips`
        self.takes: list[Take] = []
        self.take: Take | None = None

    @property
    def editor_mode(self) -> bool:
        return self.result_json is not None

    @property
    def title(self) -> str:
        name = self.timeline.path.name if self.timeline else self.video.name if self.video else ""
        return f"Foley — {name}" if name else "Foley"

    @property
    def clip(self) -> Clip | None:
        """The timeline clip being worked on, if a timeline is open."""
        if self.timeline is None or self.clip_index is None:
            return None
        return self.timeline.clips[self.clip_index]

    @property
    def clip_detail(self) -> str:
        """The timeline clip being worked on, in words: timeline · clip 'name' · its media file."""
        clip = self.clip
        if self.timeline is None or clip is None or self.video is None:
            return ""
        return f"{self.timeline.path.name} · clip {clip.name!r} · {self.video.name}"

    # Opening
    def open_video(self, path: Path, span: tuple[float, float] | None = None) -> VideoInfo:
        """Work on a video, over `span` (default: all of it); the engine's one-line error for a file it cannot
        read, an InputError for a range outside the video. Nothing changes when it fails."""
        info = open_video(path)
        start, end = span if span is not None else (0.0, info.duration)
        if not 0 <= start < end <= info.duration + END_TOLERANCE:
            raise InputError(f"range {start:g}–{end:g} s is outside {path.name} (0–{info.duration:.2f} s)")
        self.timeline, self.clip_index = None, None
        self._set_source(path, (start, min(end, info.duration)), info)
        return info

    def open_timeline(self, path: Path, clip: str | None = None) -> tuple[Timeline, int | None]:
        """Open a timeline and list its clips; returns it and the row of the usable clip called `clip`
        (InputError when there is none), else of the first usable clip, or None when no clip is usable. Choosing
        it is `choose_clip`: until then no video is open."""
        timeline = open_timeline(path)
        index = timeline.find(clip) if clip is not None else timeline.first_usable()
        self.timeline, self.clip_index = timeline, None
        self.video, self.range = None, (0.0, 0.0)
        self.set_takes([])
        return timeline, index

    def choose_clip(self, index: int) -> VideoInfo | None:
        """Work on row `index` of the open timeline: its media over the range the edit gives. None when there is
        no such usable clip (nothing changes); the engine's error when its media cannot be read."""
        if self.timeline is None or not 0 <= index < len(self.timeline.clips):
            return None
        clip = self.timeline.clips[index]
        if not clip.usable or clip.media is None:
            return None
        info = open_video(clip.media)
        self.clip_index = index
        self._set_source(clip.media, (clip.start, clip.end), info)
        return info

    def set_range(self, start: float, end: float) -> bool:
        """A video's range edited by hand (a timeline clip's is the edit's); True when it changed, which drops
        the takes."""
        if self.video is None or self.timeline is not None or not end > start or (start, end) == self.range:
            return False
        self._set_source(self.video, (start, end))
        return True

    def _set_source(self, video: Path, span: tuple[float, float], info: VideoInfo | None = None) -> None:
        """A new video or range: earlier takes no longer match it, so they go."""
        self.video, self.range = video, span
        if info is not None:
            self.frame_rate = float(info.frame_rate)
        self.set_takes([])

    # Generating and choosing
    def request(self, settings: Settings) -> Request:
        """What to ask the engine for: the open range with these settings."""
        if self.video is None:
            raise InputError("open a video or a timeline clip first")
        start, end = self.range
        return Request(self.video, start, end, settings)

    def set_takes(self, takes: list[Take]) -> None:
        """The takes of one generation; the first is chosen."""
        self.takes = list(takes)
        self.take = self.takes[0] if self.takes else None

    def choose_take(self, number: int) -> Take | None:
        """Choose the take numbered `number` (as shown, from 1); None, and no change, when there is none."""
        take = next((take for take in self.takes if take.number == number), None)
        if take is not None:
            self.take = take
        return take

    # Exporting
    def default_destination(self) -> Path:
        """Where Export writes by default (in editor mode, without asking): the take's WAV beside the video, or
        the timeline as NAME.foley.EXT beside it; in `out_dir` when one was given."""
        if self.timeline is not None:
            source = self.timeline.path
            return (self.out_dir or source.parent) / f"{source.stem}.foley{source.suffix}"
        if self.video is None:
            raise InputError("nothing to export: open a video and generate first")
        return export.take_paths(self.video, self.out_dir or self.video.parent)["wav"]

    def export(self, destination: Path) -> dict[str, Path]:
        """Write the chosen take: to a timeline at `destination` (the open timeline plus a Foley track), or as
        `destination` (.wav added when missing) with its MIDI beside it. Replaces existing files: the window
        asked. Returns what was written, by kind."""
        take = self.take
        if take is None:
            raise InputError("nothing to export: generate a take first")
        clip = self.clip
        if self.timeline is not None and clip is not None:
            return export.export_timeline(self.timeline.path, destination, clip.index, take)
        wav = destination if destination.suffix.lower() == ".wav" else destination.with_name(destination.name + ".wav")
        mid = wav.with_name(wav.name[:-len(".wav")] + ".mid")
        return export.export_take(take, wav, mid)

    def accept(self, outputs: dict[str, Path]) -> bool:
        """In editor mode, hand the exported take back (the result JSON) and make the exit code 0; False, and
        nothing written, outside it."""
        if self.result_json is None or self.take is None:
            return False
        clip = self.clip
        record = export.result_record(self.take, outputs, clip.name if clip is not None else None)
        export.write_result(self.result_json, record)
        self.exit_code = 0
        return True
