"""Writing the chosen take: .wav + .mid all-or-nothing, the updated timeline through the engine's timeline
stage, and the JSON an editor adapter reads back.

Everything goes through `foley_engine.outputs`, so a failure or a cancel never leaves half a file where an
editor would import it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from foley_engine.errors import OutputError
from foley_engine.midi import write_midi
from foley_engine.outputs import OutputSet, atomic_path, ensure_writable_dir
from foley_engine.synth import write_wav

from .generation import Settings, Take


def take_paths(video: Path, out_dir: Path) -> dict[str, Path]:
    """NAME.foley.wav and NAME.foley.mid, the names `foley generate` writes."""
    return {"wav": out_dir / f"{video.stem}.foley.wav", "mid": out_dir / f"{video.stem}.foley.mid"}


def export_take(take: Take, wav: Path, mid: Path) -> dict[str, Path]:
    """Write the take's audio and notes; both appear together or neither does. Replaces existing files
    (the caller asked the user)."""
    ensure_writable_dir(wav.parent)
    ensure_writable_dir(mid.parent)
    with OutputSet([wav, mid], force=True) as outputs:
        write_wav(take.audio, outputs.temp_for(wav), take.result.sample_rate)
        write_midi(take.performance, outputs.temp_for(mid))
    return {"wav": wav, "mid": mid}


def export_timeline(source: Path, output: Path, clip_index: int, settings: Settings, take: Take) -> dict[str, Path]:
    """SOURCE plus a Foley track holding the chosen take at its clip's place, written to OUTPUT.

    The timeline stage plans the clip, builds the track and writes the timeline, exactly as `foley timeline
    --clips NAME` would; only the audio is the take the user chose and heard (re-running the stage could not
    reproduce a second variation). Its WAV and MIDI are committed before the timeline, so OUTPUT never
    references audio that is not there.
    """
    import opentimelineio as otio

    from foley_engine import timeline as stage
    from foley_engine.timeline.jobs import fit_length
    from foley_engine.timeline.plan import TimelineOptions, plan_clips, resolve_media

    try:
        adapter = otio.adapters.from_filepath(str(output)).name
    except otio.exceptions.NoKnownAdapterForExtensionError:
        raise OutputError(f"no OpenTimelineIO adapter writes {output.suffix or 'extension-less'} files") from None
    options = TimelineOptions(instrument=settings.instrument, seed=settings.seed, model=settings.model_spec(),
                              temperature=settings.temperature if settings.samples() else None)
    ensure_writable_dir(output.parent)
    with tempfile.TemporaryDirectory(prefix="foley-panel-") as scratch:
        timeline, base = stage.read_timeline(source, Path(scratch))
        plans = plan_clips(timeline, options, base, output.parent, output.stem)
        if not 0 <= clip_index < len(plans) or plans[clip_index].status != "render":
            raise OutputError(f"{source.name} changed since it was opened: reopen it and generate again")
        plan = plans[clip_index]
        for other in plans:
            if other is not plan and other.status == "render":
                other.status, other.reason = "skipped", "not chosen in the panel"
        plan.status = "ok"
        plan.result = {"generator": take.performance.generator, "notes": len(take.notes)}
        stage.replace_foley_tracks(timeline, stage.foley_tracks(plans, options))
        if adapter in stage.BUNDLE_ADAPTERS:  # a bundle copies only media it can find by absolute path
            for clip in timeline.find_clips():
                url = getattr(clip.media_reference, "target_url", None)
                media = resolve_media(url, base)[0] if url else None
                if media is not None and media.is_file():
                    clip.media_reference.target_url = media.resolve().as_uri()
        mid = plan.wav.with_suffix(".mid")
        with OutputSet([plan.wav, mid], force=True) as outputs:
            write_wav(fit_length(take.audio, plan.samples), outputs.temp_for(plan.wav), take.result.sample_rate)
            write_midi(take.performance, outputs.temp_for(mid))
        stage.write_timeline(timeline, output, adapter)
    return {"timeline": output, "wav": plan.wav, "mid": mid}


def result_record(take: Take, settings: Settings, outputs: dict[str, Path], clip: str | None = None) -> dict:
    """What an editor adapter reads back: the engine's summary for this take, the settings and the files."""
    record = take.result.summary() | {
        "generator": take.performance.generator, "notes": len(take.notes),
        "take": take.number, "model": settings.model_spec(),
        "outputs": {kind: str(path) for kind, path in outputs.items()},
    }
    if settings.samples():
        record |= {"seed": settings.seed, "temperature": settings.temperature, "variations": settings.variations}
    if clip is not None:
        record["clip"] = clip
    return record


def write_result(path: Path, record: dict) -> None:
    ensure_writable_dir(path.parent)
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(record, indent=2) + "\n")
