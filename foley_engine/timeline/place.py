"""Putting audio on a timeline: the Foley tracks of rendered clips, and one take made elsewhere at its clip's place.

`foley timeline` renders its clips and then places them all (`place_clips`). A caller that makes the take
itself — the panel, where the user hears the variations of one clip and chooses one — lists the timeline's
clips (`timeline_clips`), generates for one, and hands the chosen take to `place_take`: the timeline is
planned and written exactly as `foley timeline --clips NAME` would, only the audio is the caller's (re-running
the stage could not reproduce a take the user chose among several).
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import opentimelineio as otio

from ..errors import InputError
from ..midi import write_midi
from ..notes import Performance
from ..outputs import OutputSet, ensure_writable_dir, refuse_existing
from ..synth import SAMPLE_RATE, write_wav
from .jobs import fit_length
from .plan import ClipPlan, TimelineOptions, plan_clips, resolve_media
from .tracks import foley_tracks, replace_foley_tracks

#: OTIO bundle adapters: they copy only the media they can find by absolute path.
BUNDLE_ADAPTERS = ("otioz", "otiod")


def relink(timeline: otio.schema.Timeline, plans: list[ClipPlan], base: Path, bundle: bool) -> None:
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


def place_clips(timeline: otio.schema.Timeline, plans: list[ClipPlan], options: TimelineOptions, base: Path,
                adapter: str) -> tuple[list[str], int]:
    """Swap in Foley tracks holding the plans with status "ok" and relink media for the `adapter` that will
    write the timeline; returns the new tracks' names and how many earlier Foley tracks went."""
    tracks = foley_tracks(plans, options)
    replaced = replace_foley_tracks(timeline, tracks)
    relink(timeline, plans, base, bundle=adapter in BUNDLE_ADAPTERS)
    return [track.name for track in tracks], replaced


def timeline_clips(source: str | Path, scratch: str | Path,
                   options: TimelineOptions = TimelineOptions()) -> list[ClipPlan]:
    """Every video clip of SOURCE as `foley timeline` plans it: index, name, track, status ("render" for a
    clip that gets foley, else "skipped"/"missing" with its reason), media file and seconds of it.

    An .otioz unpacks into the folder `scratch` (made if missing), where its clips' media then live: keep it
    while using them."""
    from . import read_timeline  # the package's __init__ imports this module

    source = Path(source)
    timeline, base = read_timeline(source, ensure_writable_dir(Path(scratch)))
    return plan_clips(timeline, options, base, source.parent, source.stem)


def write_take(performance: Performance, audio: np.ndarray, wav: str | Path, mid: str | Path,
               sample_rate: int = SAMPLE_RATE, force: bool = False) -> None:
    """A take's audio as WAV and its notes as MIDI, both or neither (an editor never imports half a take).

    Without `force` an existing file is an OutputError before anything is written."""
    wav, mid = Path(wav), Path(mid)
    ensure_writable_dir(wav.parent)
    ensure_writable_dir(mid.parent)
    with OutputSet([wav, mid], force=force) as outputs:
        outputs.write(wav, partial(write_wav, audio, sample_rate=sample_rate))
        outputs.write(mid, partial(write_midi, performance))


def place_take(source: str | Path, output: str | Path, clip: int, performance: Performance, audio: np.ndarray,
               options: TimelineOptions = TimelineOptions(), *, sample_rate: int = SAMPLE_RATE,
               force: bool = False) -> dict[str, Path]:
    """SOURCE plus a Foley track holding this take at clip `clip`'s place (its 1-based index, as
    `timeline_clips` and `foley timeline --json` number clips), written to OUTPUT.

    `options` are the ones the clips were listed and the take generated with: they name the WAV and are
    recorded with the Foley clip. The audio is padded or cut to the clip's exact length. The take's WAV and
    MIDI (beside the WAV) are committed before the timeline, so OUTPUT never references audio that is not
    there; returns the paths written ("timeline", "wav", "mid"). SOURCE is never modified.
    """
    from . import _adapter_for, read_timeline, write_timeline  # the package's __init__ imports this module

    source, output = Path(source), Path(output)
    if source.exists() and output.exists() and source.resolve() == output.resolve():
        raise InputError(f"OUT must differ from IN ({output}): foley never modifies its input")
    if options.stems:
        raise InputError("a take is placed as the mix: stems need each performer's audio (use foley timeline "
                         "--stems)")
    adapter = _adapter_for(output, "write")
    refuse_existing([output], force)
    media_dir = Path(options.media_dir) if options.media_dir else output.parent
    ensure_writable_dir(output.parent)
    with tempfile.TemporaryDirectory(prefix="foley-place-") as scratch:
        timeline, base = read_timeline(source, Path(scratch))
        plans = plan_clips(timeline, options, base, media_dir, output.stem)
        plan = next((plan for plan in plans if plan.index == clip), None)
        if plan is None or plan.status != "render" or plan.wav is None:
            raise InputError(f"clip {clip} of {source.name} is not a video clip to render: has the timeline "
                             "changed since its clips were listed?")
        for other in plans:
            if other is not plan and other.status == "render":
                other.status, other.reason = "skipped", "not the clip of the placed take"
        plan.status = "ok"
        plan.result = {"generator": performance.generator, "notes": len(performance.notes)}
        mid = plan.wav.with_suffix(".mid")
        write_take(performance, fit_length(audio, plan.samples), plan.wav, mid, sample_rate, force)
        place_clips(timeline, plans, options, base, adapter)
        write_timeline(timeline, output, adapter)
    return {"timeline": output, "wav": plan.wav, "mid": mid}
