"""`foley info [--json]`: what this engine is and accepts, for the editors that drive it and for people.

An adapter asks once instead of scraping `--help` or keeping its own copy of the engine's constants: the
version and protocol it speaks, the sample rate of its WAVs, the defaults of every generator option, the
instruments, note sources and named models, which options `generate` and `timeline` take (read off their
real parsers, so the answer cannot drift from the command line) and the timeline formats installed. Fast:
no torch, MediaPipe, PyAV or model is loaded (tests/test_protocol.py checks), only argparse, the engine's
option and instrument tables, the synthesizer module's constants and OpenTimelineIO's adapter list.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__
from ..instruments import INSTRUMENTS
from ..options import (
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    MODELS,
    SOURCES,
)
from ..protocol import CLIP_STATUS, ERROR_CODES, PROTOCOL_VERSION, InfoLine, write_line

#: What each named --model is; any other --model value is the path of a checkpoint made by `foley train`.
MODEL_DESCRIPTIONS = {
    "default": ("Learned", "the learned model that ships with the engine: the seed and temperature vary its take"),
    "baseline": ("Baseline", "notes from the performers' motion by fixed rules: the same every time"),
}
#: The named models the sampling options do not apply to (options.GeneratorOptions refuses them there).
DETERMINISTIC_MODELS = ("baseline",)
#: What each --source is (the sources themselves are in sources/; tests/test_protocol.py keeps this complete).
SOURCE_DESCRIPTIONS = {
    "auto": "keys when a keyboard is found in the frame (not for percussion), else the model",
    "keys": "read off a keyboard seen in the frame",
    "model": "the --model generator, from the performers' motion",
    "strikes": "percussion and foley (claps, steps) from the limbs' impacts",
}
#: The sampling defaults the parsers leave as None ("the model's own"), with the model's own values.
_SAMPLING = {"temperature": DEFAULT_TEMPERATURE, "top_k": DEFAULT_TOP_K, "top_p": DEFAULT_TOP_P}
_GENERATOR = ("instrument", "source", "model", "seed", *_SAMPLING, "variations")


def add_info_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser("info", help="this engine's version, protocol, defaults, instruments and options",
                              description="What this engine is and accepts: its version and editor protocol, the "
                                          "sample rate of its WAVs, the defaults, instruments, note sources, models, "
                                          "each command's options and the timeline formats installed.")
    cmd.add_argument("--json", action="store_true", help="one JSON line for programs (the editor protocol)")
    cmd.set_defaults(handler=run_info_command)


def _command_parser(name: str) -> argparse.ArgumentParser:
    """The real parser of `foley NAME`, built as the command line builds it."""
    from . import build_parser

    parser = build_parser([name])
    for action in parser._actions:  # argparse has no public way to reach a subcommand's parser
        if isinstance(action, argparse._SubParsersAction):
            command = action.choices[name]
            assert isinstance(command, argparse.ArgumentParser)
            return command
    raise LookupError(f"foley has no {name} command")


def _json_value(value: object) -> object:
    """A default as JSON: paths and other objects as text, tuples as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return str(value)


def command_options(name: str) -> dict[str, dict[str, Any]]:
    """Every option of `foley NAME` by its name (argparse's dest): its flag, default and choices."""
    options = {}
    for action in _command_parser(name)._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        option: dict[str, Any] = {"flag": max(action.option_strings, key=len), "default": _json_value(action.default),
                                  "takes_value": action.nargs != 0}
        if action.choices is not None:
            option["choices"] = list(action.choices)
        options[action.dest] = option
    return dict(sorted(options.items()))


def instrument_rows() -> list[dict[str, Any]]:
    """The instruments as `foley instruments --json` lists them, in the engine's order."""
    return [{"name": i.name, "program": i.program, "gm_name": i.gm_name, "family": i.family,
             "lowest": i.lowest, "highest": i.highest} for i in INSTRUMENTS.values()]


def timeline_formats() -> dict[str, list[str]]:
    """The file suffixes the installed OpenTimelineIO adapters read and write (more with foley[formats])."""
    import opentimelineio as otio

    found: dict[str, set[str]] = {"read": set(), "write": set()}
    for adapter in otio.plugins.ActiveManifest().adapters:
        for feature, suffixes in found.items():
            if adapter.has_feature(feature):
                suffixes.update(f".{suffix}" for suffix in adapter.suffixes)
    return {feature: sorted(suffixes) for feature, suffixes in found.items()}


def engine_info() -> dict[str, Any]:
    """The body of the info line (protocol.InfoLine)."""
    from ..synth import SAMPLE_RATE

    generate, timeline = command_options("generate"), command_options("timeline")
    defaults = {name: generate[name]["default"] for name in _GENERATOR}
    defaults |= {name: value for name, value in _SAMPLING.items() if defaults[name] is None}
    return {
        "engine_version": __version__,
        "sample_rate": SAMPLE_RATE,
        "defaults": defaults,
        "instruments": instrument_rows(),
        "sources": [{"name": name, "description": SOURCE_DESCRIPTIONS.get(name, "")} for name in SOURCES],
        "models": [{"name": name, "label": MODEL_DESCRIPTIONS.get(name, (name.title(), ""))[0],
                    "description": MODEL_DESCRIPTIONS.get(name, ("", ""))[1],
                    "sampling": name not in DETERMINISTIC_MODELS} for name in MODELS],
        "checkpoints": True,  # any other --model value: a checkpoint file from `foley train`
        "commands": {"generate": {"options": generate}, "timeline": {"options": timeline}},
        "formats": {"audio": "wav", "timeline": timeline_formats()},
        "lines": ["progress", "error", "summary"],
        "clip_codes": {code.value: status for code, status in CLIP_STATUS.items()},
        "error_codes": {str(exit_code): name for exit_code, name in ERROR_CODES.items()},
    }


def _print_listing(info: dict[str, Any]) -> None:
    defaults = info["defaults"]
    formats = info["formats"]["timeline"]
    print(f"foley {info['engine_version']} (editor protocol {PROTOCOL_VERSION}), audio {info['sample_rate']} Hz WAV")
    print("defaults: " + ", ".join(f"{name.replace('_', '-')} {value}" for name, value in defaults.items()))
    print("note sources: " + ", ".join(source["name"] for source in info["sources"]))
    print("models: " + ", ".join(f"{model['name']} ({model['description']})" for model in info["models"])
          + ", or the path of a checkpoint from `foley train`")
    print("instruments: " + ", ".join(row["name"] for row in info["instruments"]))
    for command in ("generate", "timeline"):
        flags = (option["flag"] for option in info["commands"][command]["options"].values())
        print(f"{command} options: {' '.join(flags)}")
    print(f"timelines: read {' '.join(formats['read'])}; write {' '.join(formats['write'])}")


def run_info_command(args: argparse.Namespace) -> int:
    info = engine_info()
    if args.json:
        write_line(InfoLine(info))
    else:
        _print_listing(info)
    return 0

