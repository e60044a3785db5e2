"""Generate Foley: the chosen clips -> Resolve's OTIO export -> `foley timeline` -> WAVs on "Foley" audio tracks.

By default each clip gets the mix of all its performers on a "Foley" track: one track keeps the timeline simple
and plays the ensemble balanced as the engine rendered it. "Per performer" (`--stems`) gives each performer a
track of their own ("Foley · performer 1", ...), to mix or mute players separately.

Nothing in the timeline changes until the engine has rendered every WAV and Resolve has imported them, so a
failure anywhere before that leaves the timeline as it was. Each run writes into a folder of its own
(ROOT/PROJECT/TIMELINE/DATE-TIME-xxxx), so a rerun never overwrites a WAV Resolve is still using.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

from . import FoleyScriptError, dialog
from .connect import check_version, connect
from .engine import engine_info, find_engine, foley_clips, instruments, model_names, parse_rate, run_timeline, skipped
from .place import place
from .selection import CLIP_COLORS, Scope, choose, colors_in_use, video_tracks, write_selection

MEDIA_ENV = "FOLEY_RESOLVE_MEDIA"
DEFAULT_MEDIA_ROOT = Path("~") / "Foley" / "Resolve"
TITLE = "Generate Foley"


def _color(value: str) -> str:
    for color in CLIP_COLORS:
        if color.lower() == value.lower():
            return color
    raise argparse.ArgumentTypeError(f"unknown clip colour {value!r}; Resolve's are {', '.join(CLIP_COLORS)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=TITLE, description="Foley for the chosen clips of the current DaVinci Resolve timeline, on a "
                                "'Foley' audio track aligned to them. Inside Resolve a dialog asks; from a "
                                "terminal these flags do (Resolve must be running).")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--playhead", action="store_true", help="the clip under the playhead (the default)")
    which.add_argument("--track", type=int, metavar="N", help="every clip on video track N (1 = V1)")
    which.add_argument("--color", type=_color, metavar="COLOUR",
                       help="every clip with this clip colour (Orange, Blue, ...)")
    parser.add_argument("--instrument", help="see `foley instruments` (default: the engine's)")
    parser.add_argument("--stems", action="store_true",
                        help="a Foley track per performer ('Foley · performer 1', ...) instead of one with the mix")
    generator = parser.add_argument_group("note generator (as `foley timeline`; default: the engine's)")
    generator.add_argument("--model", help="default (the shipped learned model, the engine's default), baseline "
                                           "(deterministic motion-onset rules) or the PATH of a checkpoint from "
                                           "`foley train`")
    generator.add_argument("--seed", type=int, help="note generation seed (default: the engine's)")
    generator.add_argument("--temperature", type=float, help="learned model: sampling temperature, 0 = greedy")
    generator.add_argument("--top-k", type=int, help="learned model: sample among the k likeliest (0 = all)")
    generator.add_argument("--top-p", type=float, help="learned model: nucleus sampling mass")
    parser.add_argument("--media-dir", type=Path, metavar="ROOT",
                        help=f"where each run's WAVs go, in ROOT/PROJECT/TIMELINE/DATE-TIME-xxxx (default: "
                             f"${MEDIA_ENV}, else {DEFAULT_MEDIA_ROOT})")
    parser.add_argument("--dialog", action="store_true", help="ask with Resolve's dialog, as inside Resolve")
    return parser


def _scope(args: argparse.Namespace) -> Scope:
    if args.track is not None:
        return Scope("track", track=args.track)
    if args.color is not None:
        return Scope("color", color=args.color)
    return Scope("playhead")


def generator_options(args: argparse.Namespace, models: Sequence[str]) -> List[str]:
    """The note generator flags given, for `foley timeline` (which checks them); `models` are the engine's named
    ones (`foley info`), any other --model is a checkpoint's path."""
    model = args.model
    if model is not None and model not in models:  # a checkpoint: the engine runs elsewhere
        model = str(Path(model).expanduser().resolve())
    flags = (("--model", model), ("--seed", args.seed), ("--temperature", args.temperature),
             ("--top-k", args.top_k), ("--top-p", args.top_p))
    return [text for flag, value in flags if value is not None for text in (flag, str(value))]


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name or "").strip("-.")[:60] or "untitled"


def run_folder(root: Path, project: str, timeline: str) -> Path:
    """A new folder for this run's files: Resolve keeps using earlier runs' WAVs, so they are never overwritten."""
    parent = Path(root).expanduser().resolve() / _slug(project) / _slug(timeline)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=str(parent)))
    except OSError as error:
        raise FoleyScriptError(f"cannot create a folder for the WAVs in {parent}: {error.strerror or error}") from None


def current(resolve: Any) -> tuple:
    project = resolve.GetProjectManager().GetCurrentProject()
    if project is None:
        raise FoleyScriptError("no project is open in DaVinci Resolve")
    timeline = project.GetCurrentTimeline()
    if timeline is None:
        raise FoleyScriptError("no timeline is open: open one on the Edit page first")
    return project, timeline


def generate(resolve: Any, project: Any, timeline: Any, scope: Scope, instrument: str, engine: str, root: Path,
             progress: Optional[Callable[[float, str], None]] = None, options: Sequence[str] = (),
             stems: bool = False) -> str:
    """The whole run; returns what to tell the user. Raises FoleyScriptError with the timeline untouched.

    `stems` puts each performer's own WAV on a track of theirs instead of the mix on "Foley"."""
    chosen = choose(timeline, scope)
    start_frame = int(timeline.GetStartFrame())
    fps = parse_rate(timeline.GetSetting("timelineFrameRate") or project.GetSetting("timelineFrameRate"))
    folder = run_folder(root, project.GetName(), timeline.GetName())
    export, selection = folder / "resolve.otio", folder / "selection.otio"
    if not timeline.Export(str(export), resolve.EXPORT_OTIO, resolve.EXPORT_NONE) or not export.is_file():
        raise FoleyScriptError(f"Resolve did not export the timeline as OTIO to {export}")
    write_selection(export, selection, chosen, start_frame, fps)
    summary = run_timeline(engine, selection, folder / f"{_slug(timeline.GetName())}.otio", instrument, progress,
                           [*options, *(["--stems"] if stems else [])])
    clips = foley_clips(summary, start_frame, fps, folder)
    reasons = skipped(summary)
    if not clips:
        raise FoleyScriptError("no foley for " + scope.describe() + ": " + "; ".join(reasons))
    placement = place(project, timeline, clips)
    tracks = sorted({track for _, track in placement.placed})
    videos = sum(row.get("status") == "ok" for row in summary.get("clips", []))
    each = ", one per performer," if stems else ""
    lines = [f"Placed {len(clips)} Foley clip{'s' if len(clips) != 1 else ''} ({instrument}){each} for "
             f"{scope.describe()} on {', '.join(f'A{track} {placement.track_names[track]!r}' for track in tracks)}, "
             f"aligned to {'their video clips' if videos != 1 else 'its video clip'}."]
    if placement.replaced:
        lines.append(f"Replaced {placement.replaced} Foley clip{'s' if placement.replaced != 1 else ''} "
                     "of an earlier run.")
    if reasons:
        lines.append("No foley for " + "; ".join(reasons) + ".")
    lines.append(f"WAVs: {folder}")
    return "\n".join(lines)


def _console_progress() -> Callable[[float, str], None]:
    """Progress on Resolve's console (Workspace › Console) or the terminal, every 5 %."""
    last = [-5]

    def report(overall: float, message: str) -> None:
        percent = int(overall * 100)
        if percent >= last[0] + 5 or percent == 100:
            last[0] = percent
            print(f"{TITLE}: {percent:3d}% {message}", flush=True)

    return report


def _show(ui: Any, text: str, error: bool) -> None:
    """Inside Resolve: the console and a message window; in a terminal: stdout, or stderr for a failure."""
    stream = sys.stderr if error and ui is None else sys.stdout
    print(f"{TITLE}: {'error: ' if error else ''}{text}", file=stream, flush=True)
    if ui is not None:
        dialog.message(ui[0], ui[1], ("Stopped: " if error else "") + text)


def main(argv: Optional[Sequence[str]] = None, resolve: Any = None, bmd: Any = None,
         engine: Optional[str] = None) -> int:
    """Entry point of `Generate Foley.py`: `resolve`/`bmd` are Resolve's globals when it runs the script.

    Returns 0 when done or cancelled, 1 on a failure (shown in a message inside Resolve, on stderr outside).
    """
    args = build_parser().parse_args(list(argv or []))
    inside = resolve is not None
    asks = (inside or args.dialog) and not (args.track is not None or args.color is not None or args.playhead)
    ui = None
    try:
        resolve, module = connect(resolve)
        ui = dialog.ui_manager(resolve, bmd or module) if asks else None
        check_version(resolve)
        project, timeline = current(resolve)
        engine_path = find_engine(engine)
        info = engine_info(engine_path)
        scope, instrument, stems = _scope(args), args.instrument or info["defaults"]["instrument"], args.stems
        if ui is not None:
            items = video_tracks(timeline)
            tracks = [f"V{number}  {timeline.GetTrackName('video', number)}" for number in range(1, len(items) + 1)]
            answer = dialog.ask(ui[0], ui[1], tracks, colors_in_use(items) or list(CLIP_COLORS),
                                instruments(info), instrument, stems)
            if answer is None:
                return 0
            scope, instrument, stems = answer
        root = args.media_dir or Path(os.environ.get(MEDIA_ENV) or DEFAULT_MEDIA_ROOT)
        text = generate(resolve, project, timeline, scope, instrument, engine_path, root, _console_progress(),
                        generator_options(args, model_names(info)), stems)
    except FoleyScriptError as error:
        _show(ui, str(error), error=True)
        return 1
    except Exception as error:  # noqa: BLE001 - a menu script has no other way to tell the user
        traceback.print_exc()
        _show(ui, f"internal error: {type(error).__name__}: {error} (details on the console)", error=True)
        return 1
    _show(ui, text, error=False)
    return 0

