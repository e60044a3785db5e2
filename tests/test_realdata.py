"""Real pairs: basic-pitch on a video's soundtrack, folder discovery, URMP notes, dataset build and resume."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av
import mir_eval
import numpy as np
import pytest
from media import index_image

from foley_engine.cli import main
from foley_engine.data import discovery, transcription
from foley_engine.data import real as realdata
from foley_engine.data.shards import read_shard
from foley_engine.errors import InputError
from foley_engine.instruments import get_instrument
from foley_engine.midi import read_notes
from foley_engine.notes import Note, Performance
from foley_engine.synth import SAMPLE_RATE, find_soundfont, render

SECONDS = 5.0
#: A melody with a leap, a repeated note and a short note: what a transcriber gets wrong first.
MELODY = [Note(0.5 + 0.4 * i, 0.5 + 0.4 * i + 0.3, pitch, 90)
          for i, pitch in enumerate((60, 64, 67, 72, 71, 67, 67, 65, 62, 60))]


def video_with_melody(path: Path, notes: list[Note] = MELODY) -> Path:
    """An H.264 + AAC mp4 whose soundtrack is the notes played by FluidSynth's piano, from time 0."""
    audio = render(Performance(get_instrument("piano"), SECONDS, [notes]), soundfont=find_soundfont())
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(30))
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "stereo"
        for index in range(int(SECONDS * 30)):
            container.mux(video.encode(av.VideoFrame.from_ndarray(index_image(index, (320, 240)), format="rgb24")))
        container.mux(video.encode())
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.reshape(1, -1)), format="s16",
                                           layout="stereo")
        frame.sample_rate, frame.pts = SAMPLE_RATE, 0
        container.mux(sound.encode(frame))
        container.mux(sound.encode())
    return path


@pytest.fixture(scope="module")
def melody_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos") / "piano"
    folder.mkdir()
    return video_with_melody(folder / "melody.mp4")


def test_soundtrack_transcription_matches_the_played_notes(melody_video: Path) -> None:
    notes = transcription.transcribe_file(melody_video, get_instrument("piano"))
    reference = np.array([[n.start, n.end] for n in MELODY]), np.array([n.pitch for n in MELODY], float)
    estimated = np.array([[n.start, n.end] for n in notes]), np.array([n.pitch for n in notes], float)
    matches = mir_eval.transcription.match_notes(reference[0], mir_eval.util.midi_to_hz(reference[1]),
                                                 estimated[0], mir_eval.util.midi_to_hz(estimated[1]),
                                                 onset_tolerance=0.05, offset_ratio=None)
    assert len(matches) >= 8, f"only {len(matches)} of {len(MELODY)} notes found: {notes}"
    assert len(notes) <= len(MELODY) + 2
    errors = [estimated[0][j, 0] - reference[0][i, 0] for i, j in matches]
    assert abs(float(np.median(errors))) < 0.03  # on the video clock, no systematic shift


def test_audio_is_placed_on_the_video_clock(melody_video: Path) -> None:
    audio = transcription.decode_audio(melody_video)
    assert len(audio) == pytest.approx(SECONDS * transcription.AUDIO_RATE, abs=0.05 * transcription.AUDIO_RATE)
    envelope = np.abs(audio[: int(0.6 * transcription.AUDIO_RATE)])
    first_sound = np.argmax(envelope > 0.05 * envelope.max()) / transcription.AUDIO_RATE
    assert first_sound == pytest.approx(MELODY[0].start, abs=0.03)


def test_transcribe_command_writes_midi(melody_video: Path, tmp_path: Path) -> None:
    target = tmp_path / "melody.mid"
    assert main(["dataset", "transcribe", str(melody_video), "-o", str(target)]) == 0
    assert len(read_notes(target)[0]) >= 8
    assert main(["dataset", "transcribe", str(melody_video), "-o", str(target)]) == 5  # exists, no --force


def test_build_skips_a_video_without_performer_and_resumes(melody_video: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The test video shows no person: the pose stage finds nobody, so it is skipped with that reason (a pair
    without keypoints teaches nothing); a second run reads the status file instead of redoing the work."""
    out = tmp_path / "dataset"
    manifest = realdata.build_dataset(melody_video.parents[1], out)
    assert (manifest["videos"], manifest["built"], manifest["skipped"]) == (1, 0, 1)
    source = manifest["sources"][0]
    assert source["status"] == "skipped" and "no performer" in source["reason"]
    assert source["video"] == "piano/melody.mp4" and source["labels"] == "audio"
    assert source["split"] == realdata.split_of(source["sha256"])

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished video was processed again")

    monkeypatch.setattr(realdata, "transcribe", fail)
    monkeypatch.setattr(realdata, "extract_keypoints", fail)
    assert realdata.build_dataset(melody_video.parents[1], out) == manifest
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_build_writes_windows_of_a_visible_performer(melody_video: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With the pose stage replaced by a synthetic pianist, the shard holds windows of keypoints and notes."""
    from foley_engine.data.performers import CameraView, perform

    def pianist(path: Path, settings: object = None, **kwargs: object):
        rng = np.random.default_rng(0)
        return perform([MELODY], get_instrument("piano"), SECONDS, rng, view=CameraView(name="front"))

    monkeypatch.setattr(realdata, "extract_keypoints", pianist)
    out = tmp_path / "dataset"
    manifest = realdata.build_dataset(melody_video.parents[1], out, realdata.BuildConfig(window=2.0))
    source = manifest["sources"][0]
    assert source["status"] == "ok", source
    assert manifest["counts"] == {source["split"]: {"piano": source["examples"]}}
    examples = read_shard(out / source["shard"])
    assert source["shard"].startswith(f"{source['split']}-")
    assert [e.keypoints.start for e in examples] == pytest.approx([0.0, 2.0, 4.0])  # the 1 s tail is kept
    assert all(e.split == source["split"] and e.instrument == "piano" for e in examples)
    found = [n.start + e.keypoints.start for e in examples for n in e.tracks[0]]
    assert len(found) == source["notes"] >= 8
    assert all(0 <= n.start < n.end <= e.duration + 1e-6 for e in examples for n in e.tracks[0])
    assert min(abs(t - MELODY[3].start) for t in found) < 0.05


def test_a_rebuilt_video_leaves_no_shard_in_another_split(melody_video: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A video built again under other settings (or split by folder instead of by video) may land in another
    split: its earlier shard goes, or training would see a video its validation also holds."""
    from foley_engine.data.performers import CameraView, perform

    def pianist(path: Path, settings: object = None, **kwargs: object):
        return perform([MELODY], get_instrument("piano"), SECONDS, np.random.default_rng(0),
                       view=CameraView(name="front"))

    monkeypatch.setattr(realdata, "extract_keypoints", pianist)
    out = tmp_path / "dataset"
    for split, window in (("train", 2.0), ("test", 3.0)):
        monkeypatch.setattr(realdata, "split_of", lambda key, split=split: split)
        manifest = realdata.build_dataset(melody_video.parents[1], out, realdata.BuildConfig(window=window))
        assert manifest["sources"][0]["status"] == "ok"
        assert [path.name.split("-")[0] for path in out.glob("*.npz")] == [split]


def test_discover_picks_the_best_labels(tmp_path: Path) -> None:
    files = ["a/piano/take.mp4", "a/piano/take.mid", "b/01_Jupiter_vn_vc/Vid_01_Jupiter_vn_vc.mp4",
             "b/01_Jupiter_vn_vc/Notes_1_vn_01_Jupiter.txt", "b/01_Jupiter_vn_vc/Notes_2_vc_01_Jupiter.txt",
             "c/violin/solo.mp4", "c/violin/solo.wav", "d/clip.mp4", "e/acoustic_guitar/song.webm"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = {s.video.name: s for s in discovery.discover(tmp_path)}
    assert (found["take.mp4"].labels, found["take.mp4"].instrument) == ("midi", "piano")
    assert found["Vid_01_Jupiter_vn_vc.mp4"].labels == "urmp"
    assert [discovery.urmp_instrument(p) for p in found["Vid_01_Jupiter_vn_vc.mp4"].label_files] == ["violin", "cello"]
    assert (found["solo.mp4"].labels, found["solo.mp4"].instrument) == ("audio-file", "violin")
    assert (found["clip.mp4"].labels, found["clip.mp4"].instrument) == ("audio", None)
    assert found["song.webm"].instrument == "guitar"
    assert discovery.discover(tmp_path, "cello")[-1].instrument == "cello"
    with pytest.raises(InputError, match="not found"):
        discovery.discover(tmp_path / "nope")


def test_urmp_notes(tmp_path: Path) -> None:
    path = tmp_path / "Notes_1_fl_02_Sonata.txt"
    path.write_text("0.500\t440.00\t0.250\n\n1.000 261.63 0.5\n2.0\t0\t0.1\n")
    assert discovery.read_urmp_notes(path) == [Note(0.5, 0.75, 69, 80), Note(1.0, 1.5, 60, 80)]
    assert discovery.urmp_instrument(path) == "flute"
    path.write_text("0.5 440\n")
    with pytest.raises(InputError, match=":1:"):
        discovery.read_urmp_notes(path)


def test_split_by_hash_is_stable_and_holds_out_a_fifth() -> None:
    splits = Counter(realdata.split_of(f"video-{i}") for i in range(3000))
    assert realdata.split_of("video-7") == realdata.split_of("video-7")
    assert splits["test"] / 3000 == pytest.approx(0.1, abs=0.02)
    assert splits["val"] / 3000 == pytest.approx(0.1, abs=0.02)


def test_real_pairs_fine_tune_a_checkpoint(melody_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented route to real footage: `foley dataset build`, then `foley train --init CHECKPOINT`
    continues from the checkpoint's weights on the real pairs and records where it started."""
    from dataclasses import asdict

    from model_fixtures import TINY, tiny_model

    from foley_engine.data.performers import CameraView, perform
    from foley_engine.model import load_checkpoint, save_checkpoint

    def pianist(path: Path, settings: object = None, **kwargs: object):
        return perform([MELODY], get_instrument("piano"), SECONDS, np.random.default_rng(0),
                       view=CameraView(name="top_down", body_visible=False, legs_visible=False))

    monkeypatch.setattr(realdata, "extract_keypoints", pianist)
    monkeypatch.setattr(realdata, "split_of", lambda key: "train")  # one video: make sure it trains
    data = tmp_path / "real"
    assert main(["dataset", "build", str(melody_video.parents[1]), str(data), "--window", "2"]) == 0
    start = tmp_path / "start.pt"
    save_checkpoint(start, tiny_model(), training={"note": "pretrained"})
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"batch_size": 2, "warmup_steps": 2, "eval_every": 100, "log_every": 2,
                                  "max_tokens": 120, "model": {k: v for k, v in asdict(TINY).items()
                                                               if k not in ("instruments", "families")}}))
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--init", str(start), "--steps", "8",
                  "--config", str(config)]) == 0
    tuned = load_checkpoint(run / "checkpoint.pt")
    assert tuned.info["training"]["init"] == str(start)
    assert tuned.info["data"]["datasets"][0]["path"] == str(data)
    assert tuned.info["data"]["datasets"][0]["format"] == realdata.DATASET_FORMAT
    def distance(a: dict, b: dict) -> float:
        return sum(float((a[k].float() - b[k].float()).abs().sum()) for k in a if a[k].is_floating_point())

    before, after = tiny_model().state_dict(), tuned.model.state_dict()
    assert 0 < distance(after, before) < 0.5 * distance(tiny_model(seed=1).state_dict(), before)  # moved from start
