"""`foley eval` (model vs baseline report) and `foley dataset` (real pairs from real footage) subcommands.

The baseline is always evaluated, so every report has the yardstick; the learned model joins with `--model
PATH|default`. Both are the motion note source `foley generate` runs (sources.motion), seen as the
`(keypoints, instrument, duration) -> Performance` callable evaluation scores; on real footage the other
sources that play the instrument (keys, strikes) join through the same protocol (source_generator).

`--real` takes recordings with the MIDI from the instrument (its clock aligned from motion) and videos with
sound and no MIDI, whose reference is heard in the soundtrack (evaluation.soundtrack): most users' footage
has sound, and this is how they can check us on it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..outputs import refuse_existing

#: --reference choices (evaluation.soundtrack.REFERENCES; written out so that registering `eval` stays light)
REFERENCES = ("auto", "onsets", "notes")

if TYPE_CHECKING:  # the rest is imported where a command runs: registering `eval` must not load scipy
    from ..data.shards import Example
    from ..evaluation.scoring import Draws, Generator
    from ..instruments import Instrument
    from ..keypoints import Keypoints
    from ..notes import Performance
    from ..pose.extract import PoseSettings
    from ..sources import NoteSource


def add_eval_commands(commands: argparse._SubParsersAction) -> None:
    """Register `eval` and `dataset` on the main parser's subcommands."""
    ev = commands.add_parser("eval", help="score the model and the baseline against real notes; Markdown + JSON")
    ev.add_argument("--data", nargs="+", type=Path, default=[], help="dataset folders or shard files (.npz)")
    ev.add_argument("--split", default="test", help="split of the dataset folders to read (default: test)")
    ev.add_argument("--real", nargs="+", type=Path, default=[], metavar="FOLDER_OR_VIDEO",
                    help="recording folders (one video + the MIDI recorded from the instrument), or videos with "
                         "sound and no MIDI (the video, or a folder with one video and no MIDI): their reference is "
                         "heard in the soundtrack (see --reference)")
    ev.add_argument("--instrument", default="piano", help="instrument of the --real recordings (default: piano)")
    ev.add_argument("--reference", choices=REFERENCES, default="auto",
                    help="reference of --real videos without MIDI: onsets detected in the soundtrack, notes "
                         "transcribed from it by basic-pitch (with pitches), or auto: onsets for the GM percussion "
                         "channel's instruments (drums, hand drums, claps, steps), notes otherwise (default: auto)")
    ev.add_argument("--reference-audio", nargs="+", type=Path, default=[], metavar="AUDIO",
                    help="hear the reference of the --real videos with sound in these files instead of their own "
                         "soundtracks, one per video in order: the player's own track (a stem, a close microphone) "
                         "where the soundtrack mixes in players not in view; each taken to start at its video's "
                         "first frame, the lag searched as a soundtrack's")
    ev.add_argument("--offset", type=float, default=None,
                    help="MIDI time minus video time of --real recordings with MIDI; default: estimated from motion")
    ev.add_argument("--range", type=float, nargs=2, metavar=("START", "END"), default=None,
                    help="score only the notes of --real recordings with MIDI that start within these seconds of "
                         "the video (default: every note the video shows)")
    ev.add_argument("--offset-spread", type=float, default=0.1,
                    help="also score --real recordings at every clock offset 5 ms apart within +-S s of it (default "
                         "0.1; 0 = off): how much each F1 depends on the offset being exact; for a soundtrack, the "
                         "audio-video lag searched")
    ev.add_argument("--model", default=None, help="checkpoint PATH or 'default'; without it, baseline only")
    ev.add_argument("--out", type=Path, required=True, help="report folder (report.md, report.json, rolls/)")
    ev.add_argument("--seeds", type=int, default=1,
                    help="run the model with seeds 0..N-1 and pool them (it samples; one seed is one draw)")
    ev.add_argument("--chance-draws", type=int, default=20, help="random draws pooled in the chance row (default 20)")
    ev.add_argument("--limit", type=int, default=None, help="evaluate only the first N examples of --data")
    ev.add_argument("--rolls", type=int, default=2, help="piano rolls per instrument (default: 2)")
    ev.add_argument("--force", action="store_true", help="overwrite an existing report")
    ev.set_defaults(handler=_cmd_eval)

    ds = commands.add_parser("dataset", help="build real training pairs from videos with sound")
    actions = ds.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="VIDEOS_DIR -> shards + manifest.json in OUT (resumable)")
    build.add_argument("videos", type=Path)
    build.add_argument("out", type=Path)
    build.add_argument("--instrument", default=None,
                       help="instrument of every video; default: the folder names (e.g. violin/clip.mp4)")
    build.add_argument("--split-by", choices=("video", "folder"), default="video",
                       help="hash the video's content (default) or its folder, so takes of a piece stay together")
    build.add_argument("--window", type=float, default=16.0, help="seconds per example (default: 16)")
    build.set_defaults(handler=_cmd_dataset_build)
    tr = actions.add_parser("transcribe", help="audio or a video's soundtrack -> MIDI with basic-pitch")
    tr.add_argument("media", type=Path)
    tr.add_argument("-o", "--output", type=Path, required=True, help="MIDI file to write")
    tr.add_argument("--instrument", default="piano", help="limits pitches to its range (default: piano)")
    tr.add_argument("--force", action="store_true")
    tr.set_defaults(handler=_cmd_dataset_transcribe)


def motion_generator(model: str, seed: int = 0) -> Generator:
    """The `--model` generator ("baseline", "default" or a checkpoint) as an evaluation generator: the motion
    note source that `foley generate` runs, its checkpoint loaded (and checked) now."""
    from ..options import GeneratorOptions
    from ..sources.motion import MotionSource

    source = MotionSource(GeneratorOptions(source="model", model=model, seed=seed))
    return lambda keypoints, instrument, duration: source.performances(keypoints, instrument, duration)[0]


def keys_generator(videos: dict[int, Path]) -> Generator:
    """The keys source as an evaluation generator: it reads the frames, so it plays only the real recordings
    whose videos are known (`videos`: id of the example's keypoints -> video); others it refuses, and they
    are scored as silence and listed."""
    from ..keyboard.presses import key_band
    from ..notes import Performance
    from ..pose.extract import PoseSettings, extract
    from ..sources.keys import SOURCE_NAME, keys_pose_settings, locate_keyboard, read_keyboard
    from ..video import probe

    def generate(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        video = videos.get(id(keypoints))
        if video is None:
            raise InputError("the keys source reads the video's frames: it plays --real recordings only")
        start, end = keypoints.start, keypoints.start + duration
        geometry = locate_keyboard(video, start, end)
        if geometry is None:
            return Performance(instrument, duration, [[]], SOURCE_NAME)
        # The hands as `foley generate` finds them when the keys play (keys_pose_settings), not the example's.
        settings = keys_pose_settings(PoseSettings(), float(probe(video).frame_rate))
        hands, rows = extract(video, start, end, settings, band=key_band(geometry).sampler)
        return read_keyboard(video, start, end, hands, instrument, geometry, rows=rows).performance

    return generate


def shard_examples(paths: list[Path], split: str) -> Iterator[Example]:
    """Examples of `split` from dataset folders (SPLIT-*.npz) and from shard files given directly."""
    from ..data.shards import read_shard

    for path in paths:
        if path.is_dir():
            shards = sorted(path.glob(f"{split}-*.npz"))
            if not shards:
                raise InputError(f"no {split}-*.npz shards in {path}")
        elif path.is_file():
            shards = [path]
        else:
            raise InputError(f"dataset not found: {path}")
        for shard in shards:
            yield from (example for example in read_shard(shard) if path.is_file() or example.split == split)


def source_generator(source: NoteSource, videos: dict[int, Path], pose: PoseSettings | None = None) -> Generator:
    """Any note source (sources.NoteSource: keys, strikes, ...) as an evaluation generator: it is given the
    example's range of its video (`videos`: id of the example's keypoints -> video) and its first take is
    scored; a source that cannot play the clip plays silence. With `pose`, the range's keypoints are found
    again with those settings, as `foley generate` finds them for this source (its `pose_settings`: the
    strikes', no Hands where Pose sees the wrists)."""
    from ..notes import Performance
    from ..pose.extract import extract_keypoints
    from ..sources import SourceClip

    def generate(keypoints: Keypoints, instrument: Instrument, duration: float) -> Performance:
        video = videos.get(id(keypoints))
        if video is None:
            raise InputError(f"the {source.name} source reads the video: it plays --real recordings only")
        end = keypoints.start + duration
        seen = keypoints if pose is None else extract_keypoints(video, keypoints.start, end, pose)
        played = source.play(SourceClip(video, keypoints.start, end, seen, (instrument,)), lambda f, m: None)
        return played.takes[0] if played is not None else Performance(instrument, duration, [[]], source.name)

    return generate


def real_generators(instrument: Instrument, videos: dict[int, Path]) -> tuple[dict[str, Generator], dict[str, str]]:
    """The sources beside the motion generators that play real footage of `instrument`: keys for keyboard
    instruments, strikes for percussion, and every other named source `--source` offers; with their
    descriptions for the report."""
    from ..options import SOURCES, GeneratorOptions
    from ..pose.extract import PoseSettings
    from ..sources import open_sources, pose_hook

    generators: dict[str, Generator] = {}
    described: dict[str, str] = {}
    if instrument.family == "keys":
        generators["keys"] = keys_generator(videos)
        described["keys"] = "keys:pixels (notes read off the keyboard in the frame)"
    plays = {"auto": False, "model": False, "keys": False, "strikes": instrument.percussive}
    for name in SOURCES:
        if plays.get(name, True):
            for source in open_sources(GeneratorOptions(source=name)).tried:
                narrow = pose_hook(source)
                generators[source.name] = source_generator(source, videos,
                                                           None if narrow is None else narrow(PoseSettings()))
                described[source.name] = f"the {source.name} source (sources/{source.name}.py)"
    return generators, described


def _cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation.scoring import evaluate
    from ..instruments import get_instrument
    from ..sources.baseline import GENERATOR_NAME

    if not args.data and not args.real:
        raise InputError("give --data (dataset shards) and/or --real (recording folders or videos) to evaluate on")
    refuse_existing([args.out / "report.json"], args.force)
    if args.seeds < 1 or args.chance_draws < 1:
        raise InputError("--seeds and --chance-draws must be at least 1")
    if args.range is not None and not 0 <= args.range[0] < args.range[1]:
        raise InputError(f"--range needs 0 <= START < END, got {args.range[0]:g} {args.range[1]:g}")
    if not 0 <= args.offset_spread <= 2:
        raise InputError(f"--offset-spread must be between 0 and 2 s, got {args.offset_spread}")
    instrument = get_instrument(args.instrument)
    generators: dict[str, Draws] = {"baseline": motion_generator("baseline")}
    if args.model:
        generators["model"] = [motion_generator(args.model, seed) for seed in range(args.seeds)]
    meta: dict = {"split": args.split if args.data else "real", "generators": {"baseline": GENERATOR_NAME}}
    if args.model:
        meta["generators"]["model"] = args.model
    examples: list[Example] = []
    if args.data:
        meta["data"] = [str(p) for p in args.data]
        examples += itertools.islice(shard_examples(args.data, args.split), args.limit)
    unpitched: set[str] = set()
    heard: set[str] = set()
    if args.real:
        videos = _load_real(args, examples, meta, unpitched, heard)
        extra, described = real_generators(instrument, videos)
        generators |= extra
        meta["generators"] |= described
        meta["title"] = ", ".join(f"real recording {p.name}" for p in args.real) + (
            f" + {args.split} split" if args.data else "")
    if not examples:
        raise InputError("no examples to evaluate")

    def report(done: int, source: str) -> None:
        print(f"foley eval: {done}/{len(examples)} {source}", file=sys.stderr)

    from ..evaluation.soundtrack import reference_preface

    result = evaluate(generators, examples, args.out, meta=meta, rolls_per_instrument=args.rolls,
                      chance_draws=args.chance_draws, offset_spread=args.offset_spread, progress=report,
                      unpitched=unpitched, heard=heard, preface=reference_preface(meta.get("recordings", [])))
    overall = result.summary()["overall"]
    for name, metrics in overall.items():
        lag = f" (best clock lag: {metrics['best_lag']['onset_f1']:.3f})" if "best_lag" in metrics else ""
        note = "n/a (no pitches heard)" if math.isnan(metrics["note_f1"]) else f"{metrics['note_f1']:.3f}"
        print(f"{name}: onset F1 {metrics['onset_f1']:.3f}{lag}, note F1 {note} "
              f"over {metrics['examples']} examples ({metrics['seconds']:.0f} s)")
    print(args.out / "report.md")
    return 0


def _load_real(args: argparse.Namespace, examples: list[Example], meta: dict, unpitched: set[str],
               heard: set[str]) -> dict[int, Path]:
    """Each --real recording as an example (appended to `examples`, its provenance to meta["recordings"]):
    a folder with MIDI is aligned to its video (recordings.load_recording), a video with sound gets its
    reference from the soundtrack (evaluation.soundtrack; its source added to `heard`, and to `unpitched`
    for onsets without pitches). Returns the video of every example's keypoints."""
    from ..data.recordings import load_recording
    from ..evaluation.soundtrack import load_soundtrack_recording, soundtrack_video

    soundtracks = [(path, soundtrack_video(path)) for path in args.real]  # None: a folder with MIDI
    with_sound = [path for path, video in soundtracks if video is not None]
    if with_sound and args.offset is not None:
        raise InputError(f"--offset is the clock offset of a recording's MIDI; {with_sound[0]} has none (the lag of "
                         "its soundtrack is searched within --offset-spread)")
    if args.reference_audio and len(args.reference_audio) != len(with_sound):
        raise InputError(f"--reference-audio takes one file per --real video with sound: "
                         f"{len(args.reference_audio)} given for {len(with_sound)}")
    missing = [str(audio) for audio in args.reference_audio if not audio.is_file()]
    if missing:
        raise InputError(f"--reference-audio: {missing[0]} not found")
    heard_in = dict(zip(with_sound, args.reference_audio, strict=True)) if args.reference_audio else {}
    meta["recordings"] = []
    videos: dict[int, Path] = {}
    for path, video in soundtracks:
        print(f"foley eval: keypoints and reference for {path}", file=sys.stderr)
        if video is None:
            example, provenance = load_recording(path, args.instrument, args.offset, within=args.range)
        else:
            example, reference, provenance = load_soundtrack_recording(video, args.instrument, args.reference,
                                                                       audio=heard_in.get(path))
            heard.add(example.source)
            if "warning" in provenance:
                print(f"foley eval: warning: {path}: {provenance['warning']}", file=sys.stderr)
            if not reference.pitched:
                unpitched.add(example.source)
        examples.append(example)
        meta["recordings"].append(provenance)
        videos[id(example.keypoints)] = Path(provenance["video"])
    if with_sound:
        meta["clock"] = ("the soundtrack's own clock (offset 0)" if len(with_sound) == len(soundtracks)
                         else "the estimated offset (0 for soundtracks)")
    return videos


def _cmd_dataset_build(args: argparse.Namespace) -> int:
    from ..data.real import BuildConfig, build_dataset

    config = BuildConfig(instrument=args.instrument, split_by=args.split_by, window=args.window)
    manifest = build_dataset(args.videos, args.out, config,
                             progress=lambda message: print(f"foley dataset: {message}", file=sys.stderr))
    print(json.dumps({key: manifest[key] for key in ("videos", "built", "skipped", "counts", "seconds")}))
    return 0


def _cmd_dataset_transcribe(args: argparse.Namespace) -> int:
    from ..data.transcription import AUDIO_RATE, decode_audio, transcribe
    from ..instruments import get_instrument
    from ..midi import write_midi
    from ..notes import Performance

    refuse_existing([args.output], args.force)
    instrument = get_instrument(args.instrument)
    audio = decode_audio(args.media)
    notes = transcribe(audio, instrument)
    performance = Performance(instrument, len(audio) / AUDIO_RATE, [notes], "transcription:basic-pitch")
    write_midi(performance, args.output)
    print(f"{len(notes)} notes -> {args.output}")
    return 0
