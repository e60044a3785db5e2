"""Decoding: exact rates, real timestamps, ranges, scaling, rotation, and clear errors for broken input."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import make_video, not_a_video, read_index, truncated_copy, zero_frame_video

from foley_engine import video
from foley_engine.errors import InputError
from foley_engine.video import content_hash, iter_frames, keyframes_near, probe, resolve_range

NTSC = Fraction(30000, 1001)
FILM = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def ntsc_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "ntsc.mp4", seconds=3.0, rate=NTSC)


@pytest.mark.parametrize(
    ("name", "rate", "codec"),
    [("ntsc.mp4", NTSC, "libx264"), ("ntsc.mkv", NTSC, "libx264"), ("film.mov", FILM, "mpeg4")],
)
def test_probe_reports_exact_ntsc_rates_and_frame_times_follow_pts(
    tmp_path: Path, name: str, rate: Fraction, codec: str
) -> None:
    path = make_video(tmp_path / name, seconds=2.0, rate=rate, codec=codec)
    info = probe(path)
    assert info.frame_rate == rate
    assert (info.width, info.height) == (320, 240)
    assert info.duration == pytest.approx(round(2.0 * rate) / rate, abs=2e-3)
    assert info.has_audio is False
    frames = list(iter_frames(path))
    assert len(frames) == round(2.0 * rate)
    for frame in frames:
        index = read_index(frame.image)
        # Matroska stores milliseconds, so its times are exact to 1 ms only.
        assert frame.time == pytest.approx(index / rate, abs=1e-3)
    assert [read_index(f.image) for f in frames] == list(range(len(frames)))


def test_probe_reads_codec_frame_count_and_audio(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "with-audio.mp4", seconds=1.0, rate=30, audio=True))
    assert info.codec == "h264"
    assert info.frame_count == 30
    assert info.has_audio is True


def test_variable_frame_rate_times_are_the_real_timestamps(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.1333, 0.25, 0.3, 0.6, 0.61, 0.7, 1.5, 1.52]
    for suffix, tolerance in ((".mp4", 1e-4), (".mkv", 1e-3)):
        path = make_video(tmp_path / f"vfr{suffix}", times=times, rate=30)
        frames = list(iter_frames(path))
        assert [read_index(f.image) for f in frames] == list(range(len(times)))
        assert [f.time for f in frames] == pytest.approx(times, abs=tolerance)


@pytest.mark.parametrize(("start", "end"), [(0.5, 1.0), (1.0, 2.2), (1.5015, 1.6), (2.7, None)])
def test_range_is_respected_and_seeking_loses_no_frame(ntsc_mp4: Path, start: float, end: float | None) -> None:
    everything = [(f.time, read_index(f.image)) for f in iter_frames(ntsc_mp4)]
    part = [(f.time, read_index(f.image)) for f in iter_frames(ntsc_mp4, start, end)]
    assert part, "the range holds frames"
    assert part[0][0] >= start - 1e-3
    if end is not None:
        assert part[-1][0] < end
    upper = end if end is not None else float("inf")
    assert part == [(t, i) for t, i in everything if start - 1e-3 <= t < upper - 1e-3]


def test_frames_at_times_are_the_first_at_or_after_each_and_only_they_are_converted(ntsc_mp4: Path,
                                                                                     monkeypatch) -> None:
    """`at_times`: a search that looks at a few frames of a range (the keyboard's, on a clip with few keyframes)
    gets the first frame at or after each time, one frame per time, and pays for converting those alone (every
    frame's conversion to RGB was most of that search: 0.67 of 1.08 s on the shared violin clip)."""
    everything = [(f.time, read_index(f.image)) for f in iter_frames(ntsc_mp4, 0.4, 2.5)]
    times = [0.5, 0.51, 1.0, 2.0]
    expected, taken = [], 0
    for time, index in everything:
        if taken < len(times) and time >= times[taken] - 1e-6:
            expected.append((time, index))
            taken += 1
    converted: list[float] = []
    to_rgb = video._to_rgb

    def counting(frame: av.VideoFrame, max_size: int) -> np.ndarray:
        converted.append(frame.time)
        return to_rgb(frame, max_size)

    monkeypatch.setattr(video, "_to_rgb", counting)
    picked = [(f.time, read_index(f.image)) for f in iter_frames(ntsc_mp4, 0.4, 2.5, at_times=times)]
    assert picked == expected and len(picked) == len(times)
    assert len(converted) == len(times)


def test_downscaling_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    path = make_video(tmp_path / "wide.mp4", seconds=0.5, size=(640, 360))
    assert next(iter_frames(path, max_size=160)).image.shape == (90, 160, 3)
    tall = make_video(tmp_path / "tall.mp4", seconds=0.5, size=(200, 300))
    image = next(iter_frames(tall, max_size=100)).image
    assert image.shape == (100, 67, 3) and image.dtype == np.uint8
    assert next(iter_frames(tall, max_size=1000)).image.shape == (300, 200, 3), "never upscales"


def test_rotated_phone_clip_is_delivered_upright(tmp_path: Path) -> None:
    path = make_video(tmp_path / "phone.mp4", seconds=0.5, rate=30, size=(320, 240), rotation=-90)
    info = probe(path)
    assert (info.width, info.height) == (240, 320)
    frames = list(iter_frames(path, max_size=160))
    assert frames[0].image.shape == (160, 120, 3)
    # Display matrix -90 = turn the stored picture a quarter clockwise; turning it back recovers the index.
    assert [read_index(np.rot90(f.image, 1)) for f in frames] == list(range(len(frames)))


def test_resolve_range_defaults_and_validation(ntsc_mp4: Path) -> None:
    info = probe(ntsc_mp4)
    assert resolve_range(info, None, None) == (0.0, info.duration)
    assert resolve_range(info, 1.0, info.duration + 1e-4) == (1.0, info.duration)
    for start, end, words in [
        (-1.0, None, "negative"),
        (2.0, 1.0, "before end"),
        (1.0, 1.0, "before end"),
        (0.0, info.duration + 1.0, "past the end"),
        (info.duration + 1.0, None, "before end"),
        (float("nan"), None, "numbers"),
    ]:
        with pytest.raises(InputError, match=words):
            resolve_range(info, start, end)


def test_broken_inputs_raise_input_error_with_a_clear_sentence(tmp_path: Path, ntsc_mp4: Path) -> None:
    cases = {
        tmp_path / "missing.mp4": "not found",
        not_a_video(tmp_path / "list.mp4"): "not a video",
        truncated_copy(ntsc_mp4, tmp_path / "cut.mp4"): "truncated or corrupt",
        zero_frame_video(tmp_path / "empty.mkv"): "no video frames",
        tmp_path: "not a file",
    }
    for path, words in cases.items():
        with pytest.raises(InputError, match=words):
            probe(path)
        with pytest.raises(InputError, match=words):
            list(iter_frames(path))


def test_truncated_matroska_fails_while_decoding(tmp_path: Path) -> None:
    full = make_video(tmp_path / "full.mkv", seconds=4.0)
    cut = truncated_copy(full, tmp_path / "cut.mkv", 0.6)
    probe(cut)  # the header survives, so probing succeeds...
    with pytest.raises(InputError, match="truncated or corrupt"):
        list(iter_frames(cut))  # ...but the frames stop early


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    import av

    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(InputError, match="no video stream"):
        probe(path)


def test_content_hash_follows_content_not_name(tmp_path: Path, ntsc_mp4: Path) -> None:
    copy = shutil.copy(ntsc_mp4, tmp_path / "renamed.mp4")
    other = make_video(tmp_path / "other.mp4", seconds=1.0)
    assert content_hash(copy) == content_hash(ntsc_mp4)
    assert content_hash(other) != content_hash(ntsc_mp4)
    assert len(content_hash(other)) == 64


def _same_frames(first: list, second: list) -> bool:
    return [f.time for f in first] == [f.time for f in second] and all(
        np.array_equal(a.image, b.image) for a, b in zip(first, second, strict=True))


def test_a_range_after_a_long_group_of_pictures_skips_unreferenced_frames_and_decodes_the_same(
        tmp_path: Path) -> None:
    """Seeking lands on the keyframe seconds before the range; the frames in between that no frame refers to
    are not decoded, and the range's frames are exactly those a decode from the keyframe gives."""
    path = make_video(tmp_path / "long-gop.mp4", seconds=6.0, rate=30, keyframe_every=150)
    whole = list(iter_frames(path, 0.0, 5.0))
    late = list(iter_frames(path, 4.3, 5.0))
    assert _same_frames(late, [frame for frame in whole if frame.time >= 4.3 - 1e-6])
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert video._unreferenced_frames_known(stream)
        before = [frame for frame in video._decode_after(container, stream, 4.3 / float(stream.time_base), False)
                  if frame.pts is not None and frame.pts * stream.time_base < 4.3]
    assert 0 < len(before) < 129  # 129 frames lie between the keyframe at 0 and 4.3 s: some were skipped


@pytest.mark.real_media
def test_shared_piano_clip_frames_after_a_seek_are_those_of_a_decode_from_the_keyframe(piano_video: Path) -> None:
    """HEVC: the pre-roll skip leaves every frame of the range as a decode from its keyframe (8.33 s) gives."""
    from_keyframe = [frame for frame in iter_frames(piano_video, 8.3, 12.4) if frame.time >= 12.0 - 1e-6]
    assert len(from_keyframe) == 12
    assert _same_frames(list(iter_frames(piano_video, 12.0, 12.4)), from_keyframe)


@pytest.mark.real_media
def test_shared_piano_clip_probe(piano_video: Path) -> None:
    info = probe(piano_video)
    assert (info.width, info.height, info.codec) == (1920, 1080, "hevc")
    assert info.frame_rate == 30
    assert info.duration == pytest.approx(44.0)
    assert info.has_audio is False
    frames = list(iter_frames(piano_video, 20.0, 20.5))
    assert len(frames) == 15
    assert frames[0].image.shape == (360, 640, 3)
    assert frames[0].time == pytest.approx(20.0)


def test_keyframes_near_gives_each_keyframe_at_or_before_the_times_once(tmp_path: Path) -> None:
    """Looks that land on the same keyframe return it once (and cost no second decode)."""
    path = make_video(tmp_path / "gop.mp4", seconds=4.0, rate=30, keyframe_every=30)
    frames = keyframes_near(path, [0.5, 0.6, 1.5, 2.2, 2.9, 3.9])
    assert [round(frame.time, 3) for frame in frames] == [0.0, 1.0, 2.0, 3.0]
    assert [read_index(frame.image) for frame in frames] == [0, 30, 60, 90]
