"""The editor protocol: the JSON lines `foley generate` and `foley timeline` print for the programs that drive them.

With `--progress json` every progress report is a line on stdout, a failure ends with an error line, and with
`--json` the run's summary is the last line; `foley info --json` prints one info line. Each line is a JSON
object with `"type"` ("progress", "error", "summary" or "info") and `"protocol"`, the version of this contract,
so an editor adapter (Blender, Resolve, the panel) tells the lines apart by their type, checks it understands
them, and never parses a human sentence: every skipped clip of a timeline summary carries a machine `code`
beside its human `reason`, and every error line the `code` of its exit status.

PROTOCOL_VERSION changes only when a line loses or renames a field, or a field changes meaning; new fields
and new codes may appear in any version, and an adapter ignores what it does not know. Built on plain data,
so importing this module costs nothing (no numpy, torch or OpenTimelineIO): the CLI writes every line here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TextIO

from .errors import (
    INTERRUPTED_EXIT_CODE,
    TERMINATED_EXIT_CODE,
    FoleyError,
    InputError,
    MissingExtraError,
    ModelError,
    NoPerformerError,
    OutputError,
    SynthUnavailableError,
    UsageError,
)

if TYPE_CHECKING:
    from .progress import ProgressEvent

#: The version of the lines below; adapters refuse a newer one with a one-line "update the add-on".
PROTOCOL_VERSION = 1

LineType = Literal["progress", "error", "summary", "info"]
#: A timeline clip's coarse outcome (a row's `status`): "render" when planned (a dry run), then "ok" or "skipped";
#: "missing" when its media is not there
ClipStatus = Literal["render", "ok", "skipped", "missing"]
Command = Literal["generate", "timeline"]
COMMANDS: tuple[Command, ...] = ("generate", "timeline")


class ClipCode(StrEnum):
    """What happened to one clip of a timeline, for a program: the summary's `clips[].code`.

    `status` stays the coarse outcome it always was ("ok", "render" in a dry run, "skipped", "missing"); the
    code says why, so an editor can word it its own way, or react (offer --allow-silence for NO_PERFORMER).
    """

    OK = "ok"  # rendered
    PLANNED = "planned"  # a dry run would render it
    SKIPPED = "skipped"  # skipped for a reason without a code of its own
    DISABLED = "disabled"  # the clip or its track is disabled
    NOT_SELECTED = "not_selected"  # not matched by --clips
    NO_RANGE = "no_range"  # neither the clip nor its media has a range
    HIDDEN = "hidden"  # trimmed away by its compound clip
    SPEED_CHANGE = "speed_change"  # a time effect the engine does not follow: freeze frame, reverse, ramp
    GENERATOR_CLIP = "generator_clip"  # a solid colour, bars, ...: no footage
    IMAGE_SEQUENCE = "image_sequence"
    STILL_IMAGE = "still_image"
    UNSUPPORTED_REFERENCE = "unsupported_reference"  # a kind of media reference the engine cannot read
    PAST_MEDIA_END = "past_media_end"  # the clip's range starts after its media ends
    NO_PERFORMER = "no_performer"  # nobody visible in the range (--allow-silence writes silence instead)
    MISSING_MEDIA = "missing_media"  # the file is not where the timeline says
    OFFLINE = "offline"  # the timeline has no media for the clip
    REMOTE_MEDIA = "remote_media"  # not a local file (http:, s3:, ...)
    UNREADABLE_MEDIA = "unreadable_media"  # the file is there but is no readable video


#: The coarse status of each code: the `status` beside it in a clip row.
CLIP_STATUS: dict[ClipCode, ClipStatus] = {
    **{code: "skipped" for code in ClipCode},
    ClipCode.OK: "ok", ClipCode.PLANNED: "render",
    **{code: "missing" for code in (ClipCode.MISSING_MEDIA, ClipCode.OFFLINE, ClipCode.REMOTE_MEDIA,
                                    ClipCode.UNREADABLE_MEDIA)},
}
#: The code of a row whose reason has no code of its own (a panel's "not chosen"), by its status.
_GENERIC_CODE: dict[str, ClipCode] = {"ok": ClipCode.OK, "render": ClipCode.PLANNED, "skipped": ClipCode.SKIPPED,
                                      "missing": ClipCode.MISSING_MEDIA}


def clip_code(status: str, code: ClipCode | str | None = None) -> ClipCode:
    """The code of a clip: its own when it has one that fits its status, else the generic code of the status.

    A code that no longer fits (a planned clip that was rendered keeps no skip code) gives way to the status,
    so a row never says "ok" with a skip's code."""
    if code:
        own = ClipCode(code)
        if CLIP_STATUS[own] == status:
            return own
    try:
        return _GENERIC_CODE[status]
    except KeyError:
        raise ValueError(f"unknown clip status {status!r}") from None


#: The machine name of each exit status, for the `code` of an error line (the numbers are the errors').
ERROR_CODES: dict[int, str] = {
    FoleyError.exit_code: "internal", UsageError.exit_code: "usage", InputError.exit_code: "input",
    NoPerformerError.exit_code: "no_performer", OutputError.exit_code: "output",
    SynthUnavailableError.exit_code: "synth_unavailable", ModelError.exit_code: "model",
    MissingExtraError.exit_code: "missing_extra",
    INTERRUPTED_EXIT_CODE: "cancelled", TERMINATED_EXIT_CODE: "terminated",
}


def _envelope(kind: LineType) -> dict[str, Any]:
    return {"type": kind, "protocol": PROTOCOL_VERSION}


@dataclass(frozen=True)
class ProgressLine:
    """How far the run is: `overall` of the whole job (0..1, never going back), `fraction` of `stage`."""

    stage: str
    fraction: float
    overall: float
    message: str = ""

    @classmethod
    def of(cls, event: ProgressEvent) -> ProgressLine:
        return cls(event.stage, event.fraction, event.overall, event.message)

    def to_json(self) -> dict[str, Any]:
        return _envelope("progress") | {"stage": self.stage, "fraction": self.fraction, "overall": self.overall,
                                        "message": self.message}


@dataclass(frozen=True)
class ErrorLine:
    """The last line of a failed run under --progress json: the one line the CLI prints on stderr, its exit
    status and that status's machine name (ERROR_CODES), so an editor can tell "bad clip" from "install
    FluidSynth" without reading the message."""

    message: str
    exit_code: int

    @property
    def code(self) -> str:
        return ERROR_CODES.get(self.exit_code, "internal")

    def to_json(self) -> dict[str, Any]:
        return _envelope("error") | {"message": self.message, "exit_code": self.exit_code, "code": self.code}


@dataclass(frozen=True)
class SummaryLine:
    """What a run did (`--json`): `body` is FoleyResult.summary() for generate, TimelineReport.summary() for
    timeline, printed as it is after the envelope and the command's name. A timeline's clip rows are checked
    here: each has a `status` and the ClipCode that fits it."""

    command: Command
    body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ValueError(f"unknown command {self.command!r}")
        for row in self.body.get("clips", []) if self.command == "timeline" else ():
            if CLIP_STATUS[ClipCode(row["code"])] != row["status"]:
                raise ValueError(f"clip {row.get('name')!r}: code {row['code']!r} is not a {row['status']!r} code")

    def to_json(self) -> dict[str, Any]:
        return _envelope("summary") | {"command": self.command} | dict(self.body)


@dataclass(frozen=True)
class InfoLine:
    """`foley info --json`: what this engine is and accepts (cli/info.py gathers `body`)."""

    body: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return _envelope("info") | dict(self.body)


Line = ProgressLine | ErrorLine | SummaryLine | InfoLine
_ENVELOPE_KEYS = ("type", "protocol")


def parse_line(text: str | Mapping[str, Any]) -> Line | None:
    """A protocol line back into its object; None for what is not one (a library's banner, a bare JSON value).

    Raises ValueError for a line of a newer protocol or a malformed one: re-serialising what this returns
    gives the line back exactly (tests/test_protocol.py holds recorded lines to it)."""
    if isinstance(text, str):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
    else:
        data = text
    if not isinstance(data, Mapping) or "type" not in data:
        return None
    if data.get("protocol") != PROTOCOL_VERSION:
        raise ValueError(f"protocol {data.get('protocol')!r} line, this engine speaks {PROTOCOL_VERSION}")
    body = {key: value for key, value in data.items() if key not in _ENVELOPE_KEYS}
    kind = data["type"]
    if kind == "progress":
        return ProgressLine(**body)
    if kind == "error":
        line = ErrorLine(body["message"], body["exit_code"])
        if body.get("code") != line.code:
            raise ValueError(f"error line with code {body.get('code')!r} for exit code {line.exit_code}")
        return line
    if kind == "summary":
        command = body.pop("command")
        return SummaryLine(command, body)
    if kind == "info":
        return InfoLine(body)
    raise ValueError(f"unknown line type {kind!r}")


def write_line(line: Line, stream: TextIO | None = None) -> None:
    """The one place a protocol line is written: one JSON object, one line, flushed at once (an editor reads
    the pipe as it comes)."""
    stream = sys.stdout if stream is None else stream
    stream.write(json.dumps(line.to_json()) + "\n")
    stream.flush()
