"""The timeline stage: any OpenTimelineIO timeline in, the same timeline plus an aligned Foley track out.

Reading and writing go through `otio.adapters`, so every installed adapter works (.otio, .otioz/.otiod
bundles, and with the `[formats]` extra FCP 7 XML, FCPX XML, Kdenlive and AAF). Each Foley clip sits at its
video clip's place on the timeline with the same RationalTimes, so nothing drifts however long the edit,
and its WAV is exactly that long at 48 kHz. IN is never modified; WAVs and OUT are staged and renamed into
place, WAVs first, so OUT never references audio that is not there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio

from . import __version__
from .errors import InputError, OutputError
from .generator_options import check_generator
from .outputs import OutputSet, ensure_writable_dir
from .progress import ProgressCallback, StageProgress
from .synth import SAMPLE_RATE, write_wav
from .timeline_jobs import ClipJob, ClipRender, default_workers, run_local, run_ray
from .timeline_plan import FOLEY, ClipPlan, TimelineOptions, plan_clips, resolve_media

BUNDLE_ADAPTERS = ("otioz", "otiod")
#: What some writers need: bundles copy only files that exist; AAF wants a MobID even for clips it never read.
WRITE_OPTIONS = {"otioz": {"media_policy": "MissingIfNotFile"}, "otiod": {"media_policy": "MissingIfNotFile"},
                 "AAF": {"use_empty_mob_ids": True}}
STAGE_WEIGHTS = {"read": 0.02, "clips": 0.95, "write": 0.03}


class MissingMediaError(InputError):
    """Some clips' media cannot be found; carries the report so `--json` can still list them."""

    def __init__(self, message: str, report: "TimelineReport"):
        super().__init__(message)
        self.report = report


@dataclass
class TimelineReport:
    source: Path
    output: Path
    output_format: str
    media_dir: Path
    options: TimelineOptions
    plans: list[ClipPlan]
    dry_run: bool = False
    backend: str = "local"
    workers: int = 0
    foley_tracks: list[str] = field(default_factory=list)
    replaced_tracks: int = 0
    written: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(plan.status == status for plan in self.plans)

    def summary(self) -> dict:
        """The `--json` summary: every clip with what happened to it and why, outputs and timings."""
        missing = self.count("missing")
        status = "dry-run" if self.dry_run else "missing" if missing else "ok"
        wavs = [str(plan.wav) for plan in self.plans if plan.status == "ok"]
        return {
            "status": status, "engine_version": __version__, "input": str(self.source),
            "output": str(self.output), "format": self.output_format, "media_dir": str(self.media_dir),
            "instrument": self.options.instrument, **self.options.generator(),
            "backend": self.backend, "workers": self.workers,
            "foley_tracks": self.foley_tracks, "replaced_tracks": self.replaced_tracks,
            "counts": {"clips": len(self.plans), "rendered": self.count("ok"), "planned": self.count("render"),
                       "skipped": self.count("skipped"), "missing": missing},
            "clips": [plan.summary() for plan in self.plans],
            "outputs": {"timeline": str(self.output), "wavs": wavs} if self.written else {},
            "timings": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
        }


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _adapter_for(path: Path, feature: str) -> str:
    verb = "reads" if feature == "read" else "writes"
    try:
        adapter = otio.adapters.from_filepath(str(path))
    except otio.exceptions.NoKnownAdapterForExtensionError:
        installed = sorted({suffix for name in otio.adapters.available_adapter_names()
                            for suffix in otio.plugins.ActiveManifest().from_name(name).suffixes})
        hint = "; for a video use `foley generate`" if feature == "read" else ""
        raise InputError(f"no OpenTimelineIO adapter {verb} {path.suffix or 'extension-less'} files ({path.name}); "
                         f"known: .{', .'.join(installed)} (more with pip install 'foley[formats]'){hint}") from None
    if not adapter.has_feature(feature):
        raise InputError(f"the {adapter.name} adapter cannot {feature} timelines ({path.name})")
    return adapter.name


def read_timeline(path: Path, scratch: Path) -> tuple[otio.schema.Timeline, Path]:
    """The timeline in `path` and the folder its relative media paths start from (.otioz unpacks to `scratch`)."""
    if not path.exists():
        raise InputError(f"timeline not found: {path}")
    adapter = _adapter_for(path, "read")
    options, base = {}, path.parent
    if adapter == "otioz":
        options, base = {"extract_to_directory": str(scratch)}, scratch
    elif adapter == "otiod":
        base = path
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout is for --json; some adapters print banners
            result = otio.adapters.read_from_file(str(path), adapter_name=adapter, **options)
    except Exception as error:  # noqa: BLE001 - adapters raise anything from ValueError to XML errors
        raise InputError(f"cannot read {path.name} as {adapter}: {_one_line(error)}") from None
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = [item for item in result if isinstance(item, otio.schema.Timeline)]
        if len(timelines) != 1:
            names = ", ".join(repr(timeline.name) for timeline in timelines)
            raise InputError(f"{path.name} holds {len(timelines)} timelines{': ' + names if names else ''}; "
                             "export the one to process on its own")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise InputError(f"{path.name} holds a {result.schema_name()}, not a timeline")
    return result, base.resolve()


def is_foley_track(track: otio.core.Composable) -> bool:
    """Ours if tagged in metadata; formats that drop metadata and names (FCP XML) keep the `.foley.wav` files."""
    if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio:
        return False
    tag = track.metadata.get(FOLEY)
    if isinstance(tag, Mapping) and tag.get("role") == "track":
        return True
    clips = list(track.find_clips(shallow_search=True))
    return bool(clips) and all(getattr(clip.media_reference, "target_url", "").endswith(".foley.wav")
                               for clip in clips)


def _lanes(plans: list[ClipPlan]) -> list[list[ClipPlan]]:
    """Clips on as few audio tracks as possible: only clips that overlap (several video tracks) need another."""
    lanes: list[list[ClipPlan]] = []
    for plan in sorted(plans, key=lambda plan: (plan.placement.start_time, plan.index)):
        for lane in lanes:
            if lane[-1].placement.end_time_exclusive() <= plan.placement.start_time:
                lane.append(plan)
                break
        else:
            lanes.append([plan])
    return lanes


def _foley_clip(plan: ClipPlan, options: TimelineOptions) -> otio.schema.Clip:
    duration = plan.placement.duration
    media_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0, duration.rate), duration)
    metadata = {"engine_version": __version__, "instrument": plan.instrument, **options.generator(),
                "generator": plan.result.get("generator", ""),
                "notes": plan.result.get("notes", 0), "sample_rate": SAMPLE_RATE, "samples": plan.samples,
                "source_clip": {"name": plan.name, "track": plan.track, "index": plan.index,
                                "media": str(plan.media), "start": plan.start, "end": plan.end}}
    return otio.schema.Clip(
        name=f"{plan.name} (Foley)", source_range=media_range, metadata={FOLEY: metadata},
        media_reference=otio.schema.ExternalReference(target_url=plan.wav.resolve().as_uri(),
                                                      available_range=media_range))


def foley_tracks(plans: list[ClipPlan], options: TimelineOptions) -> list[otio.schema.Track]:
    """Audio tracks with each rendered clip at its video clip's place, gaps between; one track if none overlap."""
    tracks = []
    for number, lane in enumerate(_lanes([plan for plan in plans if plan.status == "ok"]) or [[]], 1):
        name = options.track_name if number == 1 else f"{options.track_name} {number}"
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio, metadata={FOLEY: {
            "role": "track", "engine_version": __version__, "instrument": options.instrument,
            **options.generator()}})
        cursor = otio.opentime.RationalTime(0, lane[0].placement.start_time.rate) if lane else None
        for plan in lane:
            gap = plan.placement.start_time - cursor
            if gap.value > 0:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, gap.rate), gap)))
            track.append(_foley_clip(plan, options))
            cursor = plan.placement.end_time_exclusive()
        tracks.append(track)
    return tracks


def replace_foley_tracks(timeline: otio.schema.Timeline, tracks: list[otio.schema.Track]) -> int:
    """Swap earlier Foley tracks for `tracks` at the first one's position (else on top); returns how many went."""
    old = [index for index, track in enumerate(timeline.tracks) if is_foley_track(track)]
    for index in reversed(old):
        del timeline.tracks[index]
    position = old[0] if old else len(timeline.tracks)
    for offset, track in enumerate(tracks):
        timeline.tracks.insert(position + offset, track)
    return len(old)


def _relink(timeline: otio.schema.Timeline, plans: list[ClipPlan], base: Path, bundle: bool) -> None:
    """Point moved media at its new place; a bundle writer needs every local file as an absolute path."""
    for plan in plans:
        if plan.remapped and plan.media is not None and plan.media.is_file():
            plan.clip.media_reference.target_url = plan.media.resolve().as_uri()
    if bundle:
        for clip in timeline.find_clips():
            url = getattr(clip.media_reference, "target_url", None)
            path = resolve_media(url, base)[0] if url else None
            if path is not None and path.is_file():
                clip.media_reference.target_url = path.resolve().as_uri()


def write_timeline(timeline: otio.schema.Timeline, out: Path, adapter: str) -> None:
    """Write through a staging folder beside OUT, then rename: a failed write never leaves half a file."""
    ensure_writable_dir(out.parent)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part"))
    try:
        staged = staging / out.name
        try:
            with contextlib.redirect_stdout(sys.stderr):
                otio.adapters.write_to_file(timeline, str(staged), adapter_name=adapter,
                                            **WRITE_OPTIONS.get(adapter, {}))
        except Exception as error:  # noqa: BLE001 - adapters raise anything; the user needs one line
            raise OutputError(f"cannot write {out.name} as {adapter}: {_one_line(error)}") from None
        if out.is_dir() and not out.is_symlink():  # an .otiod bundle from an earlier run (--force)
            os.replace(out, staging / "previous")
        os.replace(staged, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [str(path) for path in paths if path.exists()]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise OutputError(f"output exists: {shown} (use --force to overwrite)")


def _jobs(plans: list[ClipPlan], options: TimelineOptions) -> list[ClipJob]:
    soundfont = str(options.soundfont) if options.soundfont else None
    generator = options.generator()  # a checkpoint's absolute path: workers may have another cwd
    return [ClipJob(plan.index, str(plan.media), plan.start, plan.end, plan.samples, plan.instrument, **generator,
                    soundfont=soundfont, allow_silence=options.allow_silence) for plan in plans]


def _check_generator(options: TimelineOptions, load: bool) -> None:
    """Bad generator options fail before any clip starts; `load` also loads the checkpoint (not for a dry run)."""
    generator = (options.model, options.temperature, options.top_k, options.top_p)
    check_generator(*generator)
    if load:
        from .pipeline import check_note_generator

        check_note_generator(*generator)


def foley_timeline(source: str | Path, output: str | Path, options: TimelineOptions = TimelineOptions(), *,
                   force: bool = False, dry_run: bool = False, workers: int | None = None,
                   ray_address: str | None = None, progress: ProgressCallback | None = None,
                   should_cancel: Callable[[], bool] | None = None) -> TimelineReport:
    """Generate foley for the video clips of SOURCE and write SOURCE plus a Foley track to OUTPUT."""
    clock = time.perf_counter()
    source, output = Path(source), Path(output)
    if source.exists() and output.exists() and source.resolve() == output.resolve():
        raise InputError(f"OUT must differ from IN ({output}): foley never modifies its input")
    adapter = _adapter_for(output, "write")
    _check_generator(options, load=False)
    if not dry_run:
        _refuse_existing([output], force)
    media_dir = Path(options.media_dir) if options.media_dir else output.parent
    stages = StageProgress(STAGE_WEIGHTS, progress, should_cancel)
    with tempfile.TemporaryDirectory(prefix="foley-timeline-") as scratch:
        timeline, base = read_timeline(source, Path(scratch))
        plans = plan_clips(timeline, options, base, media_dir, output.stem)
        report = TimelineReport(source, output, adapter, media_dir, options, plans, dry_run)
        todo = [plan for plan in plans if plan.status == "render"]
        stages.report("read", 1.0, f"{len(todo)} of {len(plans)} clips to render")
        report.timings["read"] = time.perf_counter() - clock
        missing = [plan for plan in plans if plan.status == "missing"]
        if missing and not options.allow_missing:
            listed = "; ".join(f"{plan.name} ({plan.reason})" for plan in missing[:3])
            raise MissingMediaError(f"media missing for {len(missing)} clip(s): {listed}"
                                    f"{' ...' if len(missing) > 3 else ''}; fix paths with --media-root-map "
                                    "OLD=NEW or pass --allow-missing", report)
        if not todo:
            reasons = sorted({plan.reason for plan in plans})
            raise InputError(f"no video clip to render in {source.name}: {'; '.join(reasons)}"[:300])
        if dry_run:
            return report
        ensure_writable_dir(media_dir)
        _refuse_existing([plan.wav for plan in todo], force)
        _check_generator(options, load=True)
        _render(report, todo, workers, ray_address, stages, should_cancel)
        clock = time.perf_counter()
        tracks = foley_tracks(plans, options)
        report.foley_tracks = [track.name for track in tracks]
        report.replaced_tracks = replace_foley_tracks(timeline, tracks)
        _relink(timeline, plans, base, bundle=adapter in BUNDLE_ADAPTERS)
        write_timeline(timeline, output, adapter)
        report.written = True
    report.timings["write"] = report.timings.get("write", 0.0) + time.perf_counter() - clock
    report.timings["total"] = sum(report.timings.values())
    stages.report("write", 1.0, f"wrote {output.name}")
    return report


def _render(report: TimelineReport, todo: list[ClipPlan], workers: int | None, ray_address: str | None,
            stages: StageProgress, should_cancel: Callable[[], bool] | None) -> None:
    """Run the clips and stage each WAV as it arrives (bounded memory); commit them all at the end."""
    clock = time.perf_counter()
    by_index = {plan.index: plan for plan in todo}
    total = sum(plan.samples for plan in todo) or 1
    done: list[int] = []
    staging = Path(tempfile.mkdtemp(dir=report.media_dir, prefix=".foley-timeline-", suffix=".part"))
    write_seconds = 0.0

    def on_done(render: ClipRender) -> None:
        nonlocal write_seconds
        plan = by_index[render.index]
        if render.error is not None:
            raise type(render.error)(f"clip {plan.name!r}: {render.error}")
        if render.audio is None:
            plan.status, plan.reason = "skipped", render.summary.get("reason", "skipped")
        else:
            started = time.perf_counter()
            write_wav(render.audio, staging / f"{render.index}.wav", SAMPLE_RATE)
            write_seconds += time.perf_counter() - started
            plan.status, plan.result = "ok", render.summary | {"timings": {
                **render.summary.get("timings", {}), "clip": round(render.seconds, 3)}}
        done.append(plan.samples)
        stages.report("clips", sum(done) / total, f"{len(done)}/{len(todo)} {plan.name}")

    try:
        if ray_address is not None:
            report.backend = "ray"
            report.workers = run_ray(_jobs(todo, report.options), ray_address, on_done, should_cancel)
        else:
            report.workers = min(len(todo), workers) if workers else default_workers(len(todo))
            run_local(_jobs(todo, report.options), report.workers, on_done, should_cancel)
        report.timings["clips"] = time.perf_counter() - clock - write_seconds
        rendered = [plan for plan in todo if plan.status == "ok"]
        with OutputSet([plan.wav for plan in rendered], force=True) as outputs:  # existence checked up front
            for plan in rendered:
                os.replace(staging / f"{plan.index}.wav", outputs.temp_for(plan.wav))
        report.timings["write"] = write_seconds
    finally:
        shutil.rmtree(staging, ignore_errors=True)
