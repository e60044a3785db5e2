"""Writing a set of output files all-or-nothing.

Every output is first written to a hidden temp file beside its destination and renamed only when all of
them are complete, so an error or Ctrl-C never leaves a half-written WAV for an editor to import, and an
existing file is only replaced when the caller said --force. Without --force the files are placed with a
primitive that refuses an existing name, because another run into the same folder may have placed its own
between our check at the start and our commit: its files win, ours are taken back.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from .errors import OutputError

#: A Foley WAV by its name: the mix NAME.foley.wav or a performer's stem NAME.foley.performerN.wav.
FOLEY_WAV = re.compile(r"\.foley(\.performer\d+)?\.wav$")


def slug(name: str, default: str) -> str:
    """`name` as a safe part of a file name (a clip's, a generator's): letters, digits, ".", "_" and "-" kept, any
    run of others one "-", at most 40 characters; `default` when nothing is left. Editors recognise our WAVs
    by the names built with it, so it is the one rule."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or default


def stem_path(wav: Path, performer: int) -> Path:
    """Performer `performer`'s (1-based) stem beside the mix `wav`: NAME.foley.wav -> NAME.foley.performerN.wav,
    so stems sort beside their mix and match FOLEY_WAV wherever our WAVs are recognised by name."""
    return wav.with_name(f"{wav.name.removesuffix('.wav')}.performer{performer}.wav")


def stem_pattern(wav: Path) -> str:
    """A glob for every stem of the mix `wav`, of any performer: an earlier run's are refused without --force."""
    return f"{wav.name.removesuffix('.wav')}.performer[0-9]*.wav"


def ensure_writable_dir(directory: Path) -> Path:
    """Create the output directory if needed and prove we can write into it, with a one-line error if not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise OutputError(f"output path {directory} exists and is not a directory")
    # Asked of the file system rather than proven with a probe file: a Ctrl-C between creating and removing a
    # probe left it behind in the user's folder. Read-only mounts and permissions answer here; a full disk is
    # caught where the outputs are written.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to output directory {directory}: Permission denied")
    return directory


#: errno values with which os.link says "this file system has no hard links" (FAT, some network shares).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV})


def _refuse_directories(finals: list[Path]) -> None:
    """A directory where an output goes can never be replaced by a file, --force or not: say so up front."""
    for final in finals:
        if final.is_dir():
            raise OutputError(f"cannot write {final}: a directory of that name exists")


@contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive flock on `directory` itself, so two runs cannot interleave "is it there?" and rename.

    The directory, not a lock file, so nothing is left behind; the kernel releases it when a process dies.
    Where there is no flock (Windows, where os.rename refuses an existing target anyway) or the file system
    cannot lock, nothing is held and the check just before the rename remains.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(handle)  # releases the lock


def _place_new(temp: Path, final: Path) -> None:
    """Give `temp`'s file the name `final`, raising FileExistsError if `final` exists, whoever made it.

    os.link is atomic and never replaces; on file systems without hard links a rename under a directory
    lock stands in (it excludes other Foley runs, the ones that write these names).
    """
    try:
        os.link(temp, final)
        return
    except OSError as error:
        if isinstance(error, FileExistsError) or error.errno not in _NO_HARD_LINKS:
            raise
    with _directory_lock(final.parent):
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(final))
        os.rename(temp, final)


def _io_failure(error: BaseException) -> OSError | None:
    """The OSError behind a failed write: raised directly, or wrapped by a writer in an OutputError."""
    if isinstance(error, OSError):
        return error
    if isinstance(error, OutputError) and isinstance(error.__cause__, OSError):
        return error.__cause__
    return None


def exists_error(paths: Sequence[str | Path], most: int | None = None) -> OutputError:
    """The one message for outputs that exist without --force (the editors show it as it is), naming the files,
    or the first `most` of them and how many more."""
    names = [str(path) for path in paths]
    shown = ", ".join(names[:most])
    if most is not None and len(names) > most:
        shown += f" and {len(names) - most} more"
    return OutputError(f"output exists: {shown} (use --force to overwrite)")


def refuse_existing(finals: Sequence[Path], force: bool, most: int | None = None) -> None:
    """Without force, an output that exists is an OutputError naming such files (see exists_error), before any
    work."""
    existing = [path for path in finals if path.exists()]
    if existing and not force:
        raise exists_error(existing, most)


class OutputSet:
    """Context manager: `path = outputs.temp_for(final)`, write there; all temps are renamed on success.

    Without `force` an output that exists at the start is refused before any work, and one that appears
    while we work (another run into the same folder) makes the commit fail and take back what it placed.
    """

    def __init__(self, finals: list[Path], force: bool = False):
        _refuse_directories(finals)
        refuse_existing(finals, force)
        self._temps: dict[Path, Path] = {}
        self._finals = list(finals)
        self._force = force

    def add(self, final: Path) -> None:
        """One more output, for a name the work itself decides (a stem per performer found): refused like the
        others if it exists without force, and then committed with them, all or nothing."""
        _refuse_directories([final])
        refuse_existing([final], self._force)
        if final not in self._finals:
            self._finals.append(final)

    def temp_for(self, final: Path) -> Path:
        if final not in self._finals:
            raise ValueError(f"{final} is not one of this output set's files")
        suffix = "".join(final.suffixes[-1:])
        while True:
            temp = final.parent / f".{final.name}.{secrets.token_hex(8)}.part{suffix}"
            # counted as this write's before it exists: a stop raised anywhere from here on (SIGTERM in a clip
            # worker, Ctrl-C) unwinds through _discard, which removes it; mkstemp's file was ours only once
            # mkstemp had returned, and a stop in between left it behind
            self._temps[final] = temp
            try:
                # a normal file's permissions (the umask applies), where mkstemp makes 0600
                os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue  # another file's name, by a 1 in 2**64 chance: take another
            return temp

    def write(self, final: Path, writer: Callable[[Path], object]) -> None:
        """`writer(temp)` for `final`; a failing disk (ENOSPC, EIO, a quota) becomes one OutputError naming
        `final`, not the hidden temp file the writer saw."""
        temp = self.temp_for(final)
        try:
            writer(temp)
        except (OSError, OutputError) as error:
            failure = _io_failure(error)
            if failure is None:
                raise
            raise OutputError(f"cannot write {final}: {failure.strerror or failure}") from failure

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            missing = [final for final in self._finals if final not in self._temps]
            if missing:
                self._discard()
                raise RuntimeError(f"outputs never written: {missing}")
            try:
                _refuse_directories(self._finals)  # one may have appeared: refuse before placing anything
                if self._force:
                    for final, temp in self._temps.items():
                        os.replace(temp, final)
                else:
                    self._place_all_new()
            except OSError as error:
                raise OutputError(f"cannot move output into place: {error}") from None
            finally:
                self._discard()
        else:
            self._discard()

    def _place_all_new(self) -> None:
        """Place every temp under its final name without replacing anything; all or none of them."""
        placed: list[tuple[Path, os.stat_result]] = []
        for final, temp in self._temps.items():
            identity = temp.stat()
            try:
                _place_new(temp, final)
            except OSError as error:
                self._take_back(placed)
                if isinstance(error, FileExistsError):
                    raise exists_error([final]) from None
                raise
            placed.append((final, identity))

    @staticmethod
    def _take_back(placed: list[tuple[Path, os.stat_result]]) -> None:
        """Remove the finals this run placed, each only while it is still our file."""
        for final, identity in placed:
            try:
                if os.path.samestat(final.stat(follow_symlinks=False), identity):
                    final.unlink()
            except FileNotFoundError:
                pass

    def _discard(self) -> None:
        for temp in self._temps.values():
            temp.unlink(missing_ok=True)


@contextmanager
def staging_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new hidden folder in `parent` (PREFIX + random + ".part") for files staged before their rename, removed
    with whatever is left in it when the block ends. It is named and counted as ours before it exists, as
    OutputSet.temp_for's files are: with tempfile.mkdtemp, a stop (SIGTERM from a cancelled timeline, Ctrl-C)
    landing after the folder was made and before the block that removes it had begun left it behind."""
    folder = parent / f"{prefix}{secrets.token_hex(8)}.part"
    ours = True
    try:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:  # a name taken by chance (1 in 2**64): an error, and the folder is not ours
            ours = False
            raise OutputError(f"cannot stage files in {parent}: {folder.name} exists") from None
        yield folder
    finally:
        if ours:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `final`; it replaces `final` only if the block finishes without error.

    For one file that the caller has already decided may be (over)written: caches, checkpoints, shards.
    """
    final = Path(final)
    with OutputSet([final], force=True) as outputs:
        yield outputs.temp_for(final)


@contextmanager
def atomic_output(final: str | Path, what: str, parents: bool = False) -> Iterator[Path]:
    """atomic_path for a writer of one named kind of file (`what`: "MIDI file", "shard"...): a failing disk
    (ENOSPC, EIO, a missing or read-only folder) is one OutputError naming `final`, and nothing is left there.
    With `parents`, missing folders above `final` are made first."""
    final = Path(final)
    try:
        if parents:
            final.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(final) as temp:
            yield temp
    except OSError as error:
        raise OutputError(f"cannot write {what} {final}: {error.strerror or error}") from error


def write_json(path: str | Path, content: object) -> None:
    """`content` as indented JSON at `path`, all or nothing (a manifest read while it is rewritten is whole)."""
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(content, indent=1) + "\n")
