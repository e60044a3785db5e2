"""Writing a set of output files all-or-nothing.

Every output is first written to a hidden temp file beside its destination and renamed only when all of
them are complete, so an error or Ctrl-C never leaves a half-written WAV for an editor to import, and an
existing file is only replaced when the caller said --force.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Iterator

from .errors import OutputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def ensure_writable_dir(directory: Path) -> Path:
    """Create the output directory if needed and prove we can write into it, with a one-line error if not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise OutputError(f"output path {directory} exists and is not a directory")
    try:
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".foley-write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise OutputError(f"cannot write to output directory {directory}: {exc.strerror or exc}") from None
    return directory


class OutputSet:
    """Context manager: `path = outputs.temp_for(final)`, write there; all temps are renamed on success."""

    def __init__(self, finals: list[Path], force: bool = False):
        existing = [path for path in finals if path.exists()]
        if existing and not force:
            names = ", ".join(str(path) for path in existing)
            raise OutputError(f"output exists: {names} (use --force to overwrite)")
        self._temps: dict[Path, Path] = {}
        self._finals = finals

    def temp_for(self, final: Path) -> Path:
        if final not in self._finals:
            raise ValueError(f"{final} is not one of this output set's files")
        suffix = "".join(final.suffixes[-1:])
        fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=f".part{suffix}")
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the permissions of a normal file
        os.close(fd)
        self._temps[final] = Path(name)
        return Path(name)

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            missing = [final for final in self._finals if final not in self._temps]
            if missing:
                self._discard()
                raise RuntimeError(f"outputs never written: {missing}")
            try:
                for final, temp in self._temps.items():
                    os.replace(temp, final)
            except OSError as error:
                self._discard()
                raise OutputError(f"cannot move output into place: {error}") from None
        else:
            self._discard()

    def _discard(self) -> None:
        for temp in self._temps.values():
            temp.unlink(missing_ok=True)


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `final`; it replaces `final` only if the block finishes without error.

    For one file that the caller has already decided may be (over)written: caches, checkpoints, shards.
    """
    final = Path(final)
    with OutputSet([final], force=True) as outputs:
        yield outputs.temp_for(final)


def write_json(path: str | Path, content: object) -> None:
    """`content` as indented JSON at `path`, all or nothing (a manifest read while it is rewritten is whole)."""
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(content, indent=1) + "\n")
