"""The pose stage's worker processes, started for one extraction or kept resident for the next ones.

Each worker is a `python -m foley_engine.pose.mediapipe_runner` process that tracks one chunk of a range. Its
start costs about 1.5 s of one core (the interpreter, MediaPipe, NumPy, PyAV and OpenCV imported), as much
as tracking a second of 30 fps video: a timeline of short clips paid it again for every clip. A process that
extracts clip after clip (a timeline worker, a Ray worker) therefore keeps its workers (`keep_workers`,
`resident_workers`): an idle one waits for its next chunk on stdin and leaves when stdin closes, that is when
this process ends, however it ends. Each chunk still gets fresh MediaPipe graphs, so the keypoints are the
ones a fresh process finds. A worker that failed or was stopped mid-chunk is never reused.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from .extract import PoseSettings

#: The runner's flag that makes it take further chunks from stdin after the one on its command line.
SERVE_FLAG = "--serve"


@dataclass(frozen=True)
class Chunk:
    """One worker's share of an extraction: [start, end) of `path`, detections saved to `out`."""

    path: Path
    start: float
    end: float
    settings: PoseSettings
    out: Path
    band_file: Path | None = None

    def argv(self) -> list[str]:
        """The runner's arguments for this chunk (its command line, or one line of its stdin)."""
        return [str(self.path), repr(self.start), repr(self.end), json.dumps(dataclasses.asdict(self.settings)),
                str(self.out), *([str(self.band_file)] if self.band_file else [])]


class PoseWorkerError(RuntimeError):
    """A pose worker process failed unexpectedly. str() is one line; `detail` is what the worker printed."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail
        if detail:
            self.add_note(detail)


class Worker:
    """One runner process, its JSON-lines stdout and its stderr tail. A resident one takes more chunks (`take`)
    once it has said its current one is done."""

    def __init__(self, chunk: Chunk, resident: bool = False) -> None:
        env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="3")
        # glibc keeps what MediaPipe frees (each Pose or Hands graph holds about 100 MB, and a followed person's
        # graph is made again whenever they are lost or jump); buffers over 128 KiB mapped on their own, and the
        # heap's top given back past 128 KiB, keep a worker's peak about 100 MB lower at the same speed.
        for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
            env.setdefault(name, "131072")
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
        command = [sys.executable, "-m", "foley_engine.pose.mediapipe_runner", *chunk.argv(),
                   *([SERVE_FLAG] if resident else [])]
        self.resident = resident
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE if resident else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, text=True)
        self.done = False  # the current chunk's detections are saved
        self.chunks = 1  # chunks given to this process so far
        self._lines: queue.Queue[str] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._readers = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self._lines.put), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self._stderr.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: IO[str], sink: Callable[[str], None]) -> None:
        for line in stream:
            sink(line)

    def take(self, chunk: Chunk) -> None:
        """Start on another chunk (a resident worker whose last chunk is done)."""
        assert self.process.stdin is not None and self.done
        self.process.stdin.write(json.dumps(chunk.argv()) + "\n")
        self.process.stdin.flush()
        self.done = False
        self.chunks += 1

    def running(self) -> bool:
        """True until the current chunk is done, or the process has exited and all it printed has been read."""
        if self.done:
            return False
        return self.process.poll() is None or self._readers[0].is_alive() or not self._lines.empty()

    def messages(self) -> list[dict]:
        """The JSON messages received since the last call; {"done": true} marks the chunk done."""
        received: list[dict] = []
        while True:
            try:
                message = json.loads(self._lines.get_nowait())
            except queue.Empty:
                return received
            self.done = self.done or bool(message.get("done"))
            received.append(message)

    def raise_if_crashed(self) -> None:
        """Raise with the process's last stderr lines if it ended before its chunk was done, without reporting
        an error itself."""
        if not self.done and self.process.poll() is not None and not self.running():
            raise PoseWorkerError(f"pose worker failed (exit code {self.process.returncode})", "".join(self._stderr))

    def idle(self) -> bool:
        """Ready for another chunk: resident, its last chunk done, still running."""
        return self.resident and self.done and self.process.poll() is None

    def stop(self) -> None:
        """End the process if it is still running and wait for it, so nothing outlives the call."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin,):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        for reader in self._readers:
            reader.join(timeout=5)


class _Pool:
    """This process's idle resident workers, while keeping them is on."""

    def __init__(self) -> None:
        self.scopes = 0  # resident_workers() scopes open
        self.forever = False  # keep_workers() was called
        self.idle: list[Worker] = []
        self.started = 0  # processes started by start() since this process began (tests, benches)
        self.lock = threading.Lock()

    @property
    def keep(self) -> bool:
        return self.forever or self.scopes > 0

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.stop()


_POOL = _Pool()


def start(chunks: list[Chunk]) -> list[Worker]:
    """A worker on each chunk: idle resident ones first, new processes for the rest (resident ones while keeping
    them is on)."""
    workers: list[Worker] = []
    try:
        for chunk in chunks:
            with _POOL.lock:
                reused = _POOL.idle.pop() if _POOL.idle else None
            if reused is not None and reused.idle():
                try:
                    reused.take(chunk)
                except OSError:  # it died since it was checked: a new one takes the chunk
                    reused.stop()
                else:
                    workers.append(reused)
                    continue
            elif reused is not None:
                reused.stop()
            workers.append(Worker(chunk, resident=_POOL.keep))
            _POOL.started += 1
    except BaseException:
        finish(workers, ok=False)
        raise
    return workers


def finish(workers: list[Worker], ok: bool) -> None:
    """Keep the workers that are done for the next extraction (while keeping them is on, and `ok`); stop the
    others: a worker stopped mid-chunk, or whose chunk failed, is never reused."""
    for worker in workers:
        if ok and _POOL.keep and worker.idle():
            with _POOL.lock:
                _POOL.idle.append(worker)
        else:
            worker.stop()


def keep_workers() -> None:
    """Keep pose workers for the rest of this process (a timeline or Ray worker); they leave with it."""
    if not _POOL.forever:
        _POOL.forever = True
        atexit.register(_POOL.close)


@contextlib.contextmanager
def resident_workers() -> Iterator[None]:
    """Keep pose workers between the extractions run in here (clip after clip in this process); stopped at the
    end unless `keep_workers` keeps them for good."""
    _POOL.scopes += 1
    try:
        yield
    finally:
        _POOL.scopes -= 1
        if not _POOL.keep:
            _POOL.close()


def started() -> int:
    """How many worker processes this process has started (a reused one counts once)."""
    return _POOL.started


def resident() -> list[int]:
    """Pids of the idle resident workers."""
    with _POOL.lock:
        return [worker.process.pid for worker in _POOL.idle]
