"""The timeline stage: any OpenTimelineIO timeline in, the same timeline plus an aligned Foley track out.

Reading and writing go through `otio.adapters`, so every installed adapter works (.otio, .otioz/.otiod
bundles, and with the `[formats]` extra FCP 7 XML, FCPX XML, Kdenlive and AAF). Each Foley clip sits at its
video clip's place on the timeline with the same RationalTimes, so nothing drifts however long the edit,
and its WAV is exactly that long at 48 kHz (a retimed clip's too: its notes follow the picture's speed). IN
is never modified; WAVs and OUT are staged and renamed into place, WAVs first, so OUT never references audio
that is not there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio

from .. import __version__
from ..errors import InputError, OutputError
from ..outputs import OutputSet, ensure_writable_dir, refuse_existing, staging_folder, stem_path, stem_pattern
from ..progress import ProgressCallback, StageProgress
from ..protocol import ClipStatus
from ..synth import SAMPLE_RATE, write_wav
from .jobs import ClipJob, ClipRender, default_workers, run_local, run_ray
from .place import place_clips, place_take, timeline_clips  # noqa: F401 - also this API
from .plan import ClipPlan, TimelineOptions, plan_clips
from .tracks import foley_tracks, is_foley_track, replace_foley_tracks  # noqa: F401 - also this API

#: What some writers need: bundles copy only files that exist; AAF wants a MobID even for clips it never read.
WRITE_OPTIONS: dict[str, dict[str, object]] = {
    "otioz": {"media_policy": "MissingIfNotFile"}, "otiod": {"media_policy": "MissingIfNotFile"},
    "AAF": {"use_empty_mob_ids": True}}
STAGE_WEIGHTS = {"read": 0.02, "clips": 0.95, "write": 0.03}


class MissingMediaError(InputError):
    """Some clips' media cannot be found; carries the report so `--json` can still list them."""

    def __init__(self, message: str, report: TimelineReport):
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

    def count(self, status: ClipStatus) -> int:
        return sum(plan.status == status for plan in self.plans)

    def summary(self) -> dict:
        """The `--json` summary: every clip with what happened to it and why, outputs and timings."""
        missing = self.count("missing")
        status = "dry-run" if self.dry_run else "missing" if missing else "ok"
        rendered = [plan for plan in self.plans if plan.status == "ok"]
        outputs: dict = {"timeline": str(self.output), "wavs": [str(plan.wav) for plan in rendered]}
        if self.options.stems:
            outputs["stems"] = [str(stem) for plan in rendered for stem in plan.stems]
        return {
            "status": status, "engine_version": __version__, "input": str(self.source),
            "output": str(self.output), "format": self.output_format, "media_dir": str(self.media_dir),
            "instrument": self.options.instrument, **self.options.generator.record(),
            "backend": self.backend, "workers": self.workers,
            "foley_tracks": self.foley_tracks, "replaced_tracks": self.replaced_tracks,
            "counts": {"clips": len(self.plans), "rendered": self.count("ok"), "planned": self.count("render"),
                       "skipped": self.count("skipped"), "missing": missing},
            "clips": [plan.summary() for plan in self.plans],
            "outputs": outputs if self.written else {},
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
    name: str = adapter.name
    return name


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
        raise InputError(f"{path.name} holds a {_kind(result)}, not a timeline")
    return result, base.resolve()


def _kind(value: object) -> str:
    """What a file that is no timeline holds: an OTIO object's schema, else the plain JSON value OTIO read."""
    if isinstance(value, otio.core.SerializableObject):
        schema: str = value.schema_name()
        return schema
    names = {"AnyVector": "list", "AnyDictionary": "object", "NoneType": "null", "bool": "boolean", "int": "number",
             "float": "number", "str": "string"}
    return f"JSON {names.get(type(value).__name__, type(value).__name__)}"


def write_timeline(timeline: otio.schema.Timeline, out: Path, adapter: str) -> None:
    """Write through a staging folder beside OUT, then rename: a failed write never leaves half a file."""
    ensure_writable_dir(out.parent)
    with staging_folder(out.parent, f".{out.name}.") as staging:
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


def _refuse_existing(paths: list[Path], force: bool) -> None:
    refuse_existing(paths, force, most=3)  # a timeline has many clips: name a few


def _jobs(plans: list[ClipPlan], options: TimelineOptions) -> list[ClipJob]:
    soundfont = str(options.soundfont) if options.soundfont else None
    generator = options.generator.portable()  # a checkpoint's absolute path: workers may have another cwd
    return [ClipJob(plan.index, str(plan.media), plan.start, plan.end, plan.samples, plan.instrument, generator,
                    soundfont=soundfont, allow_silence=options.allow_silence, stems=options.stems, speed=plan.speed)
            for plan in plans]


def _load_generator(options: TimelineOptions) -> None:
    """Load (and so check) the checkpoint before any clip starts; the options themselves were checked when made."""
    from ..pipeline import check_options

    check_options(options.generator)


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
        _refuse_existing([plan.target_wav for plan in todo], force)
        if options.stems:  # how many performers each clip has is known only after its pose stage
            _refuse_existing(sorted(stem for plan in todo
                                    for stem in media_dir.glob(stem_pattern(plan.target_wav))), force)
        _load_generator(options)
        _render(report, todo, workers, ray_address, stages, should_cancel)
        clock = time.perf_counter()
        report.foley_tracks, report.replaced_tracks = place_clips(timeline, plans, options, base, adapter)
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
    write_seconds = 0.0
    with staging_folder(report.media_dir, ".foley-timeline-") as staging:

        def on_done(render: ClipRender) -> None:
            nonlocal write_seconds
            plan = by_index[render.index]
            if render.error is not None:
                raise type(render.error)(f"clip {plan.name!r}: {render.error}")
            if render.audio is None:
                plan.status, plan.reason = "skipped", render.summary.get("reason", "skipped")
                plan.code, plan.detail = render.summary.get("code"), render.summary.get("detail", "")
            else:
                started = time.perf_counter()
                write_wav(render.audio, staging / f"{render.index}.wav", SAMPLE_RATE)
                for performer, stem in enumerate(render.stems, start=1):
                    write_wav(stem, staging / f"{render.index}.performer{performer}.wav", SAMPLE_RATE)
                plan.stems = [stem_path(plan.target_wav, performer) for performer in range(1, len(render.stems) + 1)]
                write_seconds += time.perf_counter() - started
                plan.status, plan.result = "ok", render.summary | {"timings": {
                    **render.summary.get("timings", {}), "clip": round(render.seconds, 3)}}
            done.append(plan.samples)
            stages.report("clips", sum(done) / total, f"{len(done)}/{len(todo)} {plan.name}")

        if ray_address is not None:
            report.backend = "ray"
            report.workers = run_ray(_jobs(todo, report.options), ray_address, on_done, should_cancel)
        else:
            report.workers = min(len(todo), workers) if workers else default_workers(len(todo))
            run_local(_jobs(todo, report.options), report.workers, on_done, should_cancel)
        report.timings["clips"] = time.perf_counter() - clock - write_seconds
        rendered = [plan for plan in todo if plan.status == "ok"]
        finals = [path for plan in rendered for path in (plan.target_wav, *plan.stems)]
        with OutputSet(finals, force=True) as outputs:  # existence checked up front
            for plan in rendered:
                os.replace(staging / f"{plan.index}.wav", outputs.temp_for(plan.target_wav))
                for performer, stem in enumerate(plan.stems, start=1):
                    os.replace(staging / f"{plan.index}.performer{performer}.wav", outputs.temp_for(stem))
        report.timings["write"] = write_seconds
