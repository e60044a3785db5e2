"""`foley timeline IN -o OUT`: the timeline stage from the command line, with a JSON summary for pipelines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..options import GeneratorOptions, add_generator_args
from ..outputs import refuse_existing
from ..progress import PROGRESS_MODES
from ..protocol import SummaryLine, write_line

if TYPE_CHECKING:
    from ..timeline.plan import TimelineOptions

EPILOG = """examples:
  foley timeline edit.otio -o edit.foley.otio
  foley timeline cut.xml -o cut.foley.xml --clips 'Cello.*' --instrument cello
  foley timeline edit.otio -o edit.foley.otio --media-root-map /Volumes/Shoot=/mnt/shoot
  foley timeline edit.otio -o edit.foley.otio --seed 7 --temperature 0.9   # another take of the learned model
  foley timeline edit.otio -o edit.foley.otio --model baseline   # deterministic motion-onset rules
  foley timeline band.otio -o band.foley.otio --stems           # a Foley track per performer
  foley timeline big.otio -o big.foley.otio --ray auto          # on an existing Ray cluster"""


def add_timeline_command(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(
        "timeline", help="OTIO timeline (or FCP XML, FCPX, Kdenlive, AAF) -> the same timeline + a Foley track",
        description="Generate foley for every video clip of a timeline and write it back as an aligned audio "
                    "track. IN is never modified; OUT's format follows its extension.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("input", type=Path, metavar="IN", help="any timeline an installed OTIO adapter reads")
    cmd.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    cmd.add_argument("-i", "--instrument", default="piano", help="default instrument (default: piano)")
    cmd.add_argument("--instrument-map", type=Path, metavar="FILE",
                     help='JSON {"clip name or regex": "instrument" or ["violin", "guitar"] (one per performer, left '
                          'to right)}; beats the clips\' foley.instrument metadata')
    cmd.add_argument("--track-name", default="Foley", help="name of the audio track (default: Foley)")
    cmd.add_argument("--stems", action="store_true",
                     help="a track per performer ('Foley · performer 1', ...) with each one's own WAV, to mix or mute "
                          "players separately, instead of one track with the mix of all")
    cmd.add_argument("--clips", nargs="+", default=(), metavar="NAME_OR_REGEX",
                     help="only these clips (exact name or a regex matching the whole name)")
    cmd.add_argument("--video-track", type=int, metavar="N", help="only video track N (1 = V1, the lowest)")
    cmd.add_argument("--media-dir", type=Path, metavar="DIR", help="where the WAVs go (default: OUT's folder)")
    cmd.add_argument("--media-root-map", action="append", default=[], metavar="OLD=NEW",
                     help="media moved: read OLD/... from NEW/... (repeatable; OUT points at the new place)")
    add_generator_args(cmd, seed_default=0, seed_help="note generation seed (default: 0, reproducible)",
                       variations=False)  # one WAV per clip: further takes would be thrown away
    cmd.add_argument("--soundfont", type=Path, default=None, help="GM soundfont (.sf2); else $FOLEY_SOUNDFONT")
    cmd.add_argument("--allow-missing", action="store_true",
                     help="skip clips whose media is missing instead of failing (they are listed)")
    cmd.add_argument("--allow-silence", action="store_true",
                     help="write silent audio for clips without a visible performer instead of skipping them")
    cmd.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="clips rendered at once by local processes (default: one per CPU core)")
    cmd.add_argument("--ray", metavar="ADDRESS", default=None,
                     help="run the clips as Ray tasks on the cluster at ADDRESS ('auto' = this machine's; "
                          "needs pip install 'foley[cluster]')")
    cmd.add_argument("--dry-run", action="store_true", help="show what would be done; write nothing")
    cmd.add_argument("--preview", type=Path, metavar="PNG", help="also draw the tracks before/after as a PNG")
    cmd.add_argument("--force", action="store_true", help="overwrite OUT, its WAVs and the preview")
    cmd.add_argument("--json", action="store_true", help="print a JSON summary on stdout when done")
    cmd.add_argument("--progress", choices=PROGRESS_MODES, default="auto",
                     help="bar on a terminal (default there), json = one JSON object per line on stdout")
    cmd.set_defaults(handler=run_timeline_command)


def _root_map(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old or not new:
            raise InputError(f"--media-root-map wants OLD=NEW, got {value!r}")
        pairs.append((old, new))
    return tuple(pairs)


def _instrument_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        mapping = json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"cannot read --instrument-map {path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"--instrument-map {path} is not valid JSON: {error.msg} (line {error.lineno})") from None
    def instruments(value: object) -> str | None:
        """"cello", or one per performer left to right: "violin,guitar" or ["violin", "guitar"]."""
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return ",".join(value)
        return value if isinstance(value, str) else None

    if not isinstance(mapping, dict) or any(instruments(v) is None for v in mapping.values()):
        raise InputError(f'--instrument-map {path} must be a JSON object like {{"Cello.*": "cello", '
                         f'"Duo.*": ["violin", "guitar"]}}')
    return {pattern: str(instruments(value)) for pattern, value in mapping.items()}


def options_from_args(args: argparse.Namespace) -> TimelineOptions:
    from ..timeline.plan import TimelineOptions  # OTIO and PyAV: only when a timeline command runs

    return TimelineOptions(
        instrument=args.instrument, instrument_map=_instrument_map(args.instrument_map), clips=tuple(args.clips),
        video_track=args.video_track, media_dir=args.media_dir, media_root_map=_root_map(args.media_root_map),
        track_name=args.track_name, generator=GeneratorOptions.from_args(args), soundfont=args.soundfont,
        allow_silence=args.allow_silence, allow_missing=args.allow_missing, stems=args.stems)


def _print_report(summary: dict) -> None:
    counts = summary["counts"]
    print(f"{summary['status']}: {counts['rendered'] or counts['planned']} of {counts['clips']} clips"
          f"{' would be' if summary['status'] == 'dry-run' else ''} rendered, {counts['skipped']} skipped, "
          f"{counts['missing']} missing")
    for clip in summary["clips"]:
        where = clip.get("wav", clip.get("reason", ""))
        print(f"  {clip['index']:>3} {clip['track']:<6} {clip['name'][:30]:<30} {clip['status']:<8} {where}")
    if summary["outputs"]:
        print(f"wrote {summary['output']} (tracks: {', '.join(summary['foley_tracks'])})")


def run_timeline_command(args: argparse.Namespace) -> int:
    from ..timeline import MissingMediaError, foley_timeline
    from . import _progress_sink

    options = options_from_args(args)
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    if args.preview is not None:
        if args.preview.suffix.lower() != ".png":
            raise InputError(f"--preview must end in .png, got {args.preview.name}")
        if not args.dry_run:
            refuse_existing([args.preview], args.force)
    try:
        report = foley_timeline(args.input, args.output, options, force=args.force, dry_run=args.dry_run,
                                workers=args.jobs, ray_address=args.ray, progress=_progress_sink(args.progress))
    except MissingMediaError as error:
        if args.json:
            write_line(SummaryLine("timeline", error.report.summary()))
        raise
    summary = report.summary()
    if args.preview is not None and not args.dry_run:
        from ..timeline.render import render_roundtrip

        render_roundtrip(args.input, args.output, args.preview)
        summary["outputs"]["preview"] = str(args.preview)
    if args.json:
        write_line(SummaryLine("timeline", summary))
    elif args.progress != "json":
        _print_report(summary)
    sys.stdout.flush()
    return 0
