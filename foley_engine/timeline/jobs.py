"""Running the clips of a timeline: in this process, across local processes, or as Ray tasks on a cluster.

A clip's job is plain data and its result is the audio itself, so workers never write outputs: the main
process stages every WAV and commits them together, and a Ray worker on another node needs only read access
to the videos (and the keypoint cache, if `FOLEY_CACHE_DIR` points to shared storage). Local workers split
the cores between them, because the pose stage sizes its own process count by the cores it may use.

Workers are resident: a local worker process, a Ray worker process and this process (one worker) keep what a
clip loads for the next clip: the model (as every process does), the pose worker processes (about 1.5 s of a
core each to start, as much as tracking a 1.5 s clip) and the soundfont. The output is the same as from a
process started for each clip.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.sharedctypes
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from ..errors import TERMINATED_EXIT_CODE, Cancelled, FoleyError, InputError, NoPerformerError
from ..interrupts import CancelSignals
from ..options import GeneratorOptions
from ..pose.extract import WORKERS_ENV
from ..pose.workers import keep_workers, resident_workers
from ..protocol import ClipCode
from ..synth import keep_soundfonts, resident_soundfonts

#: Environment the engine reads in its workers; forwarded to Ray tasks, which may run on other machines.
FORWARDED_ENV = ("FOLEY_CACHE_DIR", "FOLEY_SOUNDFONT")


@dataclass(frozen=True)
class ClipJob:
    index: int  # the clip's plan index
    video: str
    start: float
    end: float
    samples: int  # the clip's exact length; the audio is padded past the media's end
    instrument: str
    options: GeneratorOptions  # a checkpoint by its absolute path (workers have other cwds)
    soundfont: str | None = None
    allow_silence: bool = False
    stems: bool = False  # also render each performer alone (`foley timeline --stems`)
    speed: float = 1.0  # a retimed clip's media seconds per timeline second: its notes play this much faster


@dataclass
class ClipRender:
    index: int
    audio: np.ndarray | None  # (samples, 2) int16; None when the clip was skipped or failed
    summary: dict = field(default_factory=dict)  # FoleyResult.summary(), or {"status": "skipped", ...}
    seconds: float = 0.0
    error: FoleyError | None = None  # a user-facing failure, re-raised by the caller with the clip's name
    stems: list[np.ndarray] = field(default_factory=list)  # with ClipJob.stems: each performer alone, as long


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(clips: int) -> int:
    return max(1, min(clips, available_cpus()))


def _take_cores(counter: multiprocessing.sharedctypes.Synchronized, workers: int) -> None:
    """Pin this worker to its share of the cores (Linux).

    The pose stage starts one process per core it may use: N clips at once on N cores then run one pose
    process each instead of N each. Elsewhere the cores are shared, and oversubscribed.
    """
    if not hasattr(os, "sched_setaffinity"):
        return
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cores[index % len(cores)::workers])


class _Stopped(SystemExit):
    """SIGTERM in a clip worker: its clip unwinds (the pose stage stops its processes, removes its scratch
    folder) and the worker leaves quietly; a SystemExit, so a worker stopped between clips prints nothing."""


def _start_worker(counter: multiprocessing.sharedctypes.Synchronized, workers: int) -> None:
    """A local worker's initializer: its cores, SIGTERM as a stop that cleans up (held during imports), and its
    pose workers kept from clip to clip (resident).

    Only the first SIGTERM stops: once one worker has left, the pool terminates every other process it has, and a
    second stop raised inside the first's clean-up would leave that clip's pose processes or scratch folder behind."""
    _take_cores(counter, workers)
    signals = CancelSignals({signal.SIGTERM: lambda: _stop(signals)})
    signals.install()
    _keep_resident()


def _stop(signals: CancelSignals) -> _Stopped:
    signals.mute()
    return _Stopped(TERMINATED_EXIT_CODE)


def _render_in_worker(job: ClipJob) -> ClipRender:
    """`render_clip` in a local worker, which exits once a stop has unwound the clip: the pool would report the
    stop and hand the worker its next clip."""
    try:
        return render_clip(job)
    except _Stopped:
        os._exit(TERMINATED_EXIT_CODE)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Workers started in here inherit a blocked SIGINT. A terminal's Ctrl-C goes to every process of the
    group: a worker would print its own KeyboardInterrupt and go on with its next clip. This process alone
    takes it, and stops them."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Drop the queued clips and stop the running ones now, instead of waiting for them to finish.

    SIGTERM makes each worker unwind its clip and exit (`_start_worker`); the pool sees its workers gone and
    `shutdown` returns once they are. ProcessPoolExecutor has no public way to stop running calls before
    Python 3.14 (terminate_workers), hence its process table."""
    for process in list(pool._processes.values()):  # noqa: SLF001 - see above
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Exactly `samples` long: silence past the media's end when a clip's source range runs over it."""
    if len(audio) >= samples:
        return audio[:samples]
    return np.concatenate([audio, np.zeros((samples - len(audio), audio.shape[1]), audio.dtype)])


def render_clip(job: ClipJob) -> ClipRender:
    """One clip through the engine; runs in whichever process or Ray worker the job was sent to."""
    from ..pipeline import generate  # imported here: spawned workers and Ray tasks load the engine themselves

    clock = time.perf_counter()
    try:
        result = generate(job.video, job.instrument, start=job.start, end=job.end, options=job.options,
                          soundfont=job.soundfont, allow_silence=job.allow_silence, stems=job.stems,
                          speed=job.speed)
    except NoPerformerError as error:
        return ClipRender(job.index, None, {"status": "skipped", "code": ClipCode.NO_PERFORMER, "reason": str(error),
                                            "detail": error.detail},
                          time.perf_counter() - clock)
    except FoleyError as error:
        return ClipRender(job.index, None, seconds=time.perf_counter() - clock, error=error)
    return ClipRender(job.index, fit_length(result.audio, job.samples), result.summary(),
                      time.perf_counter() - clock, stems=[fit_length(stem, job.samples) for stem in result.stems])


def render_resident(job: ClipJob) -> ClipRender:
    """`render_clip` in a Ray worker, which Ray keeps for the next tasks: so are its pose workers (and, as in every
    process, the loaded model and synthesiser)."""
    _keep_resident()
    return render_clip(job)


def _keep_resident() -> None:
    """What a process that renders clip after clip keeps from one to the next, besides the loaded model (kept in
    every process): its pose worker processes and its soundfonts, for the rest of its life."""
    keep_workers()
    keep_soundfonts()


def _check(should_cancel: Callable[[], bool] | None) -> None:
    if should_cancel is not None and should_cancel():
        raise Cancelled("cancelled")


def run_local(jobs: list[ClipJob], workers: int, on_done: Callable[[ClipRender], None],
              should_cancel: Callable[[], bool] | None = None) -> None:
    """`workers` spawned processes (1: in this process), longest clips first so the last ones finish together.

    Each worker takes its share of the cores. On an error or a cancel (Ctrl-C, SIGTERM, `should_cancel`),
    queued clips are dropped and running ones are stopped, their scratch files and pose processes with them.
    """
    ordered = sorted(jobs, key=lambda job: job.samples, reverse=True)
    if workers <= 1:
        with resident_workers(), resident_soundfonts():
            for job in ordered:
                _check(should_cancel)
                on_done(render_clip(job))
        return
    context = multiprocessing.get_context("spawn")  # fork would copy MediaPipe/torch threads mid-flight
    counter = context.Value("i", 0)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(counter, workers))
    try:
        with _sigint_blocked():  # the workers start as the jobs are submitted
            pending = {pool.submit(_render_in_worker, job) for job in ordered}
        while pending:
            _check(should_cancel)
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in done:
                on_done(future.result())
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def run_ray(jobs: list[ClipJob], address: str, on_done: Callable[[ClipRender], None],
            should_cancel: Callable[[], bool] | None = None) -> int:
    """One Ray task per clip on the cluster at `address`, or on the one this process already joined.

    Returns the cluster's CPU count. A cluster joined here is left again when the clips are done.
    """
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'foley[cluster]'") from None
    joined = not ray.is_initialized()
    if joined:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise InputError(f"cannot join the Ray cluster at {address}: {_first_line(error)}") from None
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    env[WORKERS_ENV] = "1"  # a task holds one CPU: its pose stage must not spread over the node's cores
    task = ray.remote(num_cpus=1)(render_resident).options(runtime_env={"env_vars": env})
    pending = [task.remote(job) for job in sorted(jobs, key=lambda job: job.samples, reverse=True)]
    try:
        while pending:
            _check(should_cancel)
            done, pending = ray.wait(pending, num_returns=1, timeout=0.25)
            for ref in done:
                on_done(ray.get(ref))
        return int(ray.cluster_resources().get("CPU", 0))
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if joined:
            ray.shutdown()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
