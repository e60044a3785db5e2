"""Resident workers (issue 20): a process that renders clip after clip keeps what is costly to start (its pose
worker processes, the loaded model, the soundfont) for the next clip, and gives exactly what a fresh one gives.

Behaviour only, no timings: which processes ran the clips, what they kept, and that the keypoints and audio are
the same as from processes started for each clip.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from media import make_video, truncated_copy

from foley_engine.errors import InputError
from foley_engine.options import GeneratorOptions
from foley_engine.pose import workers
from foley_engine.pose.extract import extract_keypoints
from foley_engine.timeline import jobs
from foley_engine.timeline.jobs import ClipJob


def _children_running_pose() -> list[int]:
    """Pids of this process's children that are pose workers (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, NotADirectoryError):
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
        if ppid == os.getpid() and b"foley_engine.pose.mediapipe_runner" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.real_media
def test_a_resident_pose_worker_takes_clip_after_clip_with_the_same_keypoints(piano_video: Path,
                                                                               duet_video: Path,
                                                                               tmp_path: Path) -> None:
    """One performer and two (the duet): a worker that tracked other ranges before finds what a fresh one does."""
    ranges = [(piano_video, 9.0, 10.5), (duet_video, 0.0, 1.5), (piano_video, 20.0, 21.2)]

    def extract_all(tag: str) -> list:
        return [extract_keypoints(video, start, end, cache_dir=tmp_path / f"{tag}{number}")
                for number, (video, start, end) in enumerate(ranges)]

    fresh = extract_all("fresh")
    assert _children_running_pose() == []
    before = workers.started()
    with workers.resident_workers():
        kept = extract_all("kept")
        assert workers.started() - before == 1  # one process, three clips
        assert workers.resident() and workers.resident() == _children_running_pose()
    assert workers.resident() == [] and _children_running_pose() == []  # stopped with the scope
    assert [k.num_performers for k in fresh] == [1, 2, 1]
    for one, other in zip(fresh, kept, strict=True):
        assert np.array_equal(one.body, other.body) and np.array_equal(one.hands, other.hands)


def test_a_failed_resident_worker_is_not_reused(tmp_path: Path) -> None:
    good = make_video(tmp_path / "good.mkv", seconds=2.0, rate=30)
    cut = truncated_copy(make_video(tmp_path / "full.mkv", seconds=4.0, rate=30), tmp_path / "cut.mkv", 0.6)
    with workers.resident_workers():
        extract_keypoints(good, cache_dir=tmp_path / "a")
        first = workers.resident()
        assert first
        with pytest.raises(InputError, match="truncated or corrupt"):
            extract_keypoints(cut, cache_dir=tmp_path / "b")  # the idle worker takes a chunk of it, and fails
        assert workers.resident() == [] and _children_running_pose() == []
        after_failure = workers.started()
        assert extract_keypoints(good, 0.5, 1.5, cache_dir=tmp_path / "c").num_frames == 30
        assert workers.started() == after_failure + 1 and workers.resident() != first


def test_a_resident_pose_worker_that_died_while_idle_is_replaced(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0, rate=30)
    with workers.resident_workers():
        extract_keypoints(clip, cache_dir=tmp_path / "a")
        [idle] = workers.resident()
        os.kill(idle, signal.SIGKILL)
        while os.waitid(os.P_PID, idle, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:  # until it is dead
            time.sleep(0.01)
        before = workers.started()
        assert extract_keypoints(clip, cache_dir=tmp_path / "b").num_frames == 30
        assert workers.started() == before + 1 and workers.resident() not in ([], [idle])


def _render_twice(clip_jobs: list[ClipJob]) -> dict:
    """In a timeline worker: render the clips one after the other and say what the process kept."""
    from foley_engine.model import load_model
    from foley_engine.synth import held_soundfonts

    renders, models = [], []
    for job in clip_jobs:
        renders.append(jobs._render_in_worker(job))  # noqa: SLF001 - what the pool runs
        models.append(id(load_model(job.options.model)))
    return {"pid": os.getpid(), "renders": renders, "models": models, "pose_processes": workers.started(),
            "resident": workers.resident(), "soundfonts": held_soundfonts()}


def test_a_timeline_worker_keeps_its_model_pose_worker_and_soundfont(tmp_path: Path) -> None:
    """The local pool's initializer makes its processes resident: the second clip starts no pose process and
    loads neither the model nor the soundfont again; the audio is what rendering in this process gives."""
    video = make_video(tmp_path / "empty-stage.mp4", seconds=3.0, rate=30)
    options = GeneratorOptions(source="model").portable()
    clip_jobs = [ClipJob(index, str(video), start, start + 1.2, 57600, "piano", options, allow_silence=True)
                 for index, start in enumerate((0.2, 1.5))]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=jobs._start_worker,  # noqa: SLF001
                             initargs=(context.Value("i", 0), 1)) as pool:
        kept = pool.submit(_render_twice, clip_jobs).result()
    assert kept["pid"] != os.getpid() and kept["pose_processes"] == 1 and len(kept["resident"]) == 1
    assert kept["models"][0] == kept["models"][1] and kept["soundfonts"]
    alone = [jobs.render_clip(job) for job in clip_jobs]  # here, nothing kept: a pose process per clip
    for render, reference in zip(kept["renders"], alone, strict=True):
        assert render.error is None and render.audio is not None and reference.audio is not None
        assert np.array_equal(render.audio, reference.audio)


def _stopped_twice() -> str:
    """In a timeline worker: stop it (SIGTERM), and stop it again while the first stop unwinds its clip, as the pool
    does when another worker has left (it then terminates every process it has)."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return "not stopped"
    except jobs._Stopped:  # noqa: SLF001 - what the worker's clip unwinds with
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # removing the pose stage's scratch folder, stopping its processes
        except jobs._Stopped:  # noqa: SLF001
            return "its clean-up was cut short"
        return "cleaned up"


def test_a_stop_while_a_worker_unwinds_does_not_cut_its_clean_up_short() -> None:
    """A cancelled timeline stops its workers once (SIGTERM); when the first of them has left, the pool terminates
    the others again. That second stop must not interrupt the clean-up of the first: a pose scratch folder was
    left behind now and then (tests/test_cli_robustness.py, cancelled timeline, Ctrl-C to the group)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=jobs._start_worker,  # noqa: SLF001
                             initargs=(context.Value("i", 0), 1)) as pool:
        assert pool.submit(_stopped_twice).result(timeout=60) == "cleaned up"


def test_soundfonts_held_between_renders_give_the_same_audio() -> None:
    from foley_engine.instruments import parse_instruments
    from foley_engine.notes import Note, Performance
    from foley_engine.synth import held_soundfonts, render, resident_soundfonts

    rng = np.random.default_rng(5)
    instruments = parse_instruments("violin,piano,drums")

    def performance() -> Performance:
        tracks = []
        for low, high in ((55, 90), (40, 80), (35, 60)):
            starts = np.sort(rng.uniform(0, 2.0, 25))
            tracks.append([Note(float(s), float(s + rng.uniform(0.05, 1.5)), int(rng.integers(low, high)),
                                int(rng.integers(30, 127))) for s in starts])
        return Performance(instruments[0], 2.0, tracks, "test", track_instruments=list(instruments))

    takes = [performance(), performance()]  # both end with notes ringing: a kept synth would carry them over
    alone = [render(take) for take in takes]
    with resident_soundfonts():
        held = [render(take) for take in takes]
        assert len(held_soundfonts()) == 1
    assert held_soundfonts() == []
    assert all(np.array_equal(a, b) for a, b in zip(alone, held, strict=True))
    assert all(np.abs(audio).max() > 1000 for audio in held)


def test_a_video_is_hashed_once_per_process_while_it_is_unchanged(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The keypoint cache's key holds the video's content hash: clips of one long recording hash it once."""
    from foley_engine import video as video_module

    hashed: list[Path] = []
    real = video_module.content_hash
    monkeypatch.setattr(video_module, "content_hash", lambda path: hashed.append(Path(path)) or real(path))
    clip = make_video(tmp_path / "take.mp4", seconds=2.0, rate=30)
    for start in (0.0, 1.0):
        extract_keypoints(clip, start, start + 1.0, cache_dir=tmp_path / "cache")
    assert hashed == [clip]
    make_video(clip, seconds=2.0, rate=30, size=(240, 160))  # another take under the same name
    os.utime(clip, ns=(1, 1))
    extract_keypoints(clip, 0.0, 1.0, cache_dir=tmp_path / "cache")
    assert hashed == [clip, clip]
