"""Errors a user can act on, each with the process exit code the CLI returns for it.

Every failure the engine expects ends up as one of these, so the CLI can print one clear line instead of a
traceback, and the editor adapters can tell "bad clip" from "install FluidSynth".
"""

from __future__ import annotations


class FoleyError(Exception):
    """Base class: the message is one sentence meant for the user."""

    exit_code = 1


class UsageError(FoleyError):
    """The command line itself is wrong: an unknown option, a missing or malformed value (argparse's message)."""

    exit_code = 2


class InputError(FoleyError):
    """The input cannot be used: missing file, not a video, corrupt, no frames, bad range or option."""

    exit_code = 3


class NoPerformerError(FoleyError):
    """No body or hand was seen anywhere in the range, so there is nothing to play.

    The message ends with the command-line advice `hint` in parentheses; `detail` is the message without it,
    what an editor's user reads (they have no --allow-silence to pass)."""

    exit_code = 4

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(f"{detail} ({hint})" if hint else detail)
        self.detail = detail


class OutputError(FoleyError):
    """An output exists (and --force was not given) or cannot be written."""

    exit_code = 5


class SynthUnavailableError(FoleyError):
    """FluidSynth or a General MIDI soundfont is missing; the message names the install command."""

    exit_code = 6


class ModelError(FoleyError):
    """A model checkpoint is missing, corrupt, or from another program or version."""

    exit_code = 7


class MissingExtraError(FoleyError):
    """The command needs a library that only an extra of the install brings (`pip install 'foley[eval]'`)."""

    exit_code = 8


class Cancelled(FoleyError):
    """The user cancelled (Ctrl-C, Esc in an editor, Cancel in the panel); nothing partial is left behind.

    Progress callbacks may raise it to stop the work cooperatively between frames.
    """

    exit_code = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM asked the process to stop (kill, a process manager, an editor stopping its job).

    A KeyboardInterrupt, so it unwinds exactly like Ctrl-C: every stage cleans up and nothing is committed.
    """


#: Exit code after Ctrl-C, the shell convention 128 + SIGINT.
INTERRUPTED_EXIT_CODE = 130
#: Exit code after SIGTERM, 128 + SIGTERM: a supervisor can tell "stopped as asked" from "cancelled".
TERMINATED_EXIT_CODE = 143
