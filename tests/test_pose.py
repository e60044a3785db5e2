"""Keypoint extraction with the real MediaPipe models, plus the pure steps (mapping, tracking, resampling)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from media import make_video, truncated_copy

from foley_engine.errors import Cancelled, InputError
from foley_engine.keypoints import Keypoints
from foley_engine.pose.extract import PoseSettings, default_cache_dir, extract_keypoints
from foley_engine.pose.mediapipe_runner import body25_from_mediapipe, drop_ghost_bodies
from foley_engine.pose.tracking import assign_performers, resample
from foley_engine.skeleton import BODY_INDEX, LEFT, RIGHT

PIANO_RANGE = (10.0, 13.0)  # both hands on the keys throughout


@pytest.fixture(scope="module")
def piano_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's cache folder (conftest points FOLEY_CACHE_DIR there), so other tests reuse the result."""
    return tmp_path_factory.getbasetemp() / "foley-cache" / "keypoints"


@pytest.fixture(scope="module")
def piano_keypoints(piano_video: Path, piano_cache: Path) -> Keypoints:
    return extract_keypoints(piano_video, *PIANO_RANGE, cache_dir=piano_cache)


@pytest.mark.real_media
def test_piano_hands_are_tracked_with_the_right_sides(piano_keypoints: Keypoints) -> None:
    kp = piano_keypoints
    assert kp.num_performers >= 1
    assert kp.num_frames == 90
    assert kp.body.shape == (kp.num_performers, 90, 25, 3) and kp.body.dtype == np.float32
    assert kp.hands.shape == (kp.num_performers, 90, 2, 21, 3) and kp.hands.dtype == np.float32
    assert kp.frame_size == (1920, 1080)
    assert kp.times[0] == pytest.approx(10.0) and kp.times[-1] == pytest.approx(10.0 + 89 / 30)

    left, right = kp.hands[0, :, LEFT], kp.hands[0, :, RIGHT]
    assert (left[:, 0, 2] > 0).mean() > 0.9
    assert (right[:, 0, 2] > 0).mean() > 0.9
    both = (left[:, 0, 2] > 0) & (right[:, 0, 2] > 0)
    # Hands enter from the bottom: the pianist's left hand plays the bass, on the image's left.
    assert (left[both, 0, 0] < right[both, 0, 0]).mean() > 0.95
    seen = left[left[..., 2] > 0]
    assert np.all((seen[:, :2] > -0.1) & (seen[:, :2] < 1.1)) and np.all(seen[:, 2] <= 1)
    # Top-down view: no body, even though MediaPipe Pose hallucinates one from the forearms.
    assert np.all(kp.body[..., 2] == 0)


@pytest.mark.real_media
def test_second_extraction_is_a_cache_hit(piano_video: Path, piano_keypoints: Keypoints, piano_cache: Path) -> None:
    calls: list[tuple[float, str]] = []
    again = extract_keypoints(
        piano_video, *PIANO_RANGE, cache_dir=piano_cache, progress=lambda f, m: calls.append((f, m))
    )
    assert calls == [(1.0, "cached")]  # a cache hit (its speed is measured by bench/pipeline_bench.py)
    np.testing.assert_array_equal(again.body, piano_keypoints.body)
    np.testing.assert_array_equal(again.hands, piano_keypoints.hands)
    assert again.rate == piano_keypoints.rate and again.start == piano_keypoints.start
    assert again.frame_size == piano_keypoints.frame_size


def test_save_load_round_trip_and_foreign_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    body, hands = rng.random((2, 7, 25, 3), np.float32), rng.random((2, 7, 2, 21, 3), np.float32)
    kp = Keypoints(30.0, 1.5, body, hands, (640, 480))
    kp.save(tmp_path / "kp.npz")
    loaded = Keypoints.load(tmp_path / "kp.npz")
    np.testing.assert_array_equal(loaded.body, kp.body)
    np.testing.assert_array_equal(loaded.hands, kp.hands)
    assert (loaded.rate, loaded.start, loaded.frame_size) == (30.0, 1.5, (640, 480))
    assert [p.name for p in tmp_path.iterdir()] == ["kp.npz"], "no temporary file left behind"

    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(tmp_path / "foreign.npz", body=np.zeros(3))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "kp.npz").read_bytes()[:200])
    for name in ("garbage.npz", "foreign.npz", "cut.npz", "missing.npz"):
        with pytest.raises(InputError, match="keypoints file"):
            Keypoints.load(tmp_path / name)


def test_video_without_a_person_gives_zero_performers_and_corrupt_cache_is_recomputed(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "empty-room.mp4", seconds=2.0, rate=30)
    calls: list[float] = []
    kp = extract_keypoints(clip, cache_dir=tmp_path / "cache", progress=lambda f, m: calls.append(f))
    assert kp.num_performers == 0
    assert kp.body.shape == (0, 60, 25, 3) and kp.hands.shape == (0, 60, 2, 21, 3)
    assert calls[-1] == 1.0 and calls == sorted(calls) and len(calls) >= 3
    [cached] = list((tmp_path / "cache").iterdir())
    cached.write_bytes(b"damaged")
    again = extract_keypoints(clip, cache_dir=tmp_path / "cache")
    assert again.num_performers == 0 and again.num_frames == 60
    assert Keypoints.load(cached).num_frames == 60, "the damaged cache file was replaced"


def test_cancelling_stops_the_workers_and_leaves_no_cache(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=3.0, rate=30)

    def cancel(fraction: float, message: str) -> None:
        if fraction > 0:
            raise Cancelled("cancelled by the test")

    with pytest.raises(Cancelled):
        extract_keypoints(clip, cache_dir=tmp_path / "cache", progress=cancel)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    assert not _processes_mentioning(str(clip)), "worker processes were stopped"


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


def test_damaged_video_fails_in_the_workers_with_input_error(tmp_path: Path) -> None:
    full = make_video(tmp_path / "full.mkv", seconds=4.0, rate=30)
    cut = truncated_copy(full, tmp_path / "cut.mkv", 0.6)  # the header survives: probing succeeds
    with pytest.raises(InputError, match="truncated or corrupt"):
        extract_keypoints(cut, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_bad_input_and_settings_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        extract_keypoints(tmp_path / "nope.mp4", cache_dir=tmp_path)
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0, rate=30)
    with pytest.raises(InputError, match="past the end"):
        extract_keypoints(clip, 0.0, 5.0, cache_dir=tmp_path)
    with pytest.raises(InputError, match="complexity"):
        PoseSettings(model_complexity=2)
    with pytest.raises(InputError, match="model every"):
        PoseSettings(model_every=0)


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOLEY_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "keypoints"


# --- MediaPipe -> BODY_25 ------------------------------------------------------------------------------


def test_body25_mapping_derives_neck_and_hip_and_never_invents_small_toes() -> None:
    landmarks = np.zeros((1, 33, 3), np.float32)
    landmarks[0, :, 0] = np.arange(33) / 33
    landmarks[0, :, 1] = 0.5
    landmarks[0, :, 2] = 0.9
    landmarks[0, 11, 2], landmarks[0, 12, 2] = 0.8, 0.6
    body = body25_from_mediapipe(landmarks)[0]
    assert body[BODY_INDEX["nose"], 0] == pytest.approx(0 / 33)
    assert body[BODY_INDEX["left_wrist"], 0] == pytest.approx(15 / 33)
    assert body[BODY_INDEX["right_heel"], 0] == pytest.approx(30 / 33)
    assert body[BODY_INDEX["neck"], 0] == pytest.approx((11 + 12) / 2 / 33)
    assert body[BODY_INDEX["neck"], 2] == pytest.approx(0.6), "derived joint takes the lower confidence"
    assert body[BODY_INDEX["mid_hip"], 0] == pytest.approx((23 + 24) / 2 / 33)
    assert body[BODY_INDEX["left_small_toe"], 2] == 0 and body[BODY_INDEX["right_small_toe"], 2] == 0


def test_ghost_bodies_are_dropped() -> None:
    times = np.arange(60) / 30
    body = np.zeros((60, 2, 25, 3), np.float32)
    body[:, 0, :, 2] = 0.9
    body[:, 0, :, :2] = 0.5
    ids = np.full((60, 2), -1, np.int32)
    ids[:, 0] = 7
    body[:10, 0, BODY_INDEX["neck"], 1] = 1.15  # neck below the frame: the top-down forearm "person"
    body[20:23, 0, BODY_INDEX["neck"], 1] = 1.15  # a 0.1 s burst between two gaps is too short to trust...
    body[13:17, 0, BODY_INDEX["neck"], 1] = 1.15
    body[30:35, 1] = body[30:35, 0]  # another person seen for only 5 frames: a burst too
    ids[30:35, 1] = 8
    cleaned = drop_ghost_bodies(times, body, ids)
    assert np.all(cleaned[:10, 0, :, 2] == 0)
    assert np.all(cleaned[10:13, 0, :, 2] == 0)
    assert np.all(cleaned[17:20, 0, :, 2] == 0)
    assert np.all(cleaned[23:, 0, :, 2] == 0.9)
    assert np.all(cleaned[:, 1, :, 2] == 0)


def test_a_person_upside_down_is_nobody_and_one_lying_down_is_somebody() -> None:
    """Pose finds a drummer's torso and arms, head out of the picture, as a person upside down (shoulders at
    the bottom of the frame, hips at its top): such a person is not followed. A player leaning over, or lying
    with a level torso, is."""
    from foley_engine.pose.people import upright

    def person(shoulders: tuple[float, float], hips: tuple[float, float]) -> np.ndarray:
        pixels = np.zeros((33, 3), np.float32)
        pixels[[11, 12], :2] = np.array(shoulders) + np.array([[-40.0, 0.0], [40.0, 0.0]])
        pixels[[23, 24], :2] = np.array(hips) + np.array([[-30.0, 0.0], [30.0, 0.0]])
        pixels[:, 2] = 0.99
        return pixels

    assert upright(person((320, 100), (320, 260)))  # standing or sitting
    assert upright(person((200, 150), (320, 200)))  # leaning far over towards the drum
    assert upright(person((150, 210), (330, 200)))  # lying down
    assert not upright(person((320, 260), (320, 10)))  # the drummer's torso of the close-up
    assert not upright(person((250, 250), (330, 130)))  # hanging down from the hips, askew


# --- performers -------------------------------------------------------------------------------------


def _hand(x: float, y: float, size: float = 0.03) -> np.ndarray:
    """21 hand landmarks around a wrist at (x, y), fingers pointing up."""
    xy = np.zeros((21, 2), np.float32)
    xy[:, 0] = x + np.linspace(-size, size, 21) * 0.5
    xy[:, 1] = y - np.linspace(0, 2 * size, 21)
    xy[0] = (x, y)
    return xy


def _frames(hands_per_frame: list[list[tuple[float, float, int]]], slots: int = 4):
    n = len(hands_per_frame)
    xy = np.zeros((n, slots, 21, 2), np.float32)
    label = np.full((n, slots), -1, np.int8)
    score = np.zeros((n, slots), np.float32)
    for i, hands in enumerate(hands_per_frame):
        for h, (x, y, side) in enumerate(hands):
            xy[i, h], label[i, h], score[i, h] = _hand(x, y), side, 0.95
    return np.arange(n) / 30, xy, label, score


def _assign_one_body(times: np.ndarray, body: np.ndarray, xy: np.ndarray, label: np.ndarray, score: np.ndarray):
    """assign_performers with at most one body per frame ((N, 25, 3), the worker's person 0 where seen)."""
    ids = np.where(body[:, :, 2].max(axis=1) > 0, 0, -1).astype(np.int32)[:, None]
    return assign_performers(times, body[:, None], ids, xy, label, score, (640, 360))


def _body_at(neck_x: float, shoulder: float = 0.08) -> np.ndarray:
    """A front-facing body (25, 3) whose neck is at (neck_x, 0.3); wrists below the shoulders."""
    body = np.zeros((25, 3), np.float32)
    body[:, :2], body[:, 2] = (neck_x, 0.4), 0.9
    body[BODY_INDEX["neck"], :2] = (neck_x, 0.3)
    body[BODY_INDEX["left_shoulder"], :2] = (neck_x + shoulder / 2, 0.3)
    body[BODY_INDEX["right_shoulder"], :2] = (neck_x - shoulder / 2, 0.3)
    body[BODY_INDEX["left_wrist"], :2] = (neck_x + shoulder / 2, 0.5)
    body[BODY_INDEX["right_wrist"], :2] = (neck_x - shoulder / 2, 0.5)
    return body


def test_two_bodies_stay_two_performers_left_to_right_across_id_changes_and_losses() -> None:
    """Two players side by side: the worker's ids change (a chunk border at frame 30, a loss at 50-69) and the
    detector's slot order flips, yet each keeps one performer, ordered by where they stand."""
    frames = 100
    times = np.arange(frames) / 30
    body = np.zeros((frames, 3, 25, 3), np.float32)
    ids = np.full((frames, 3), -1, np.int32)
    for n in range(frames):
        right_x, left_x = 0.72 + 0.01 * np.sin(n / 5), 0.25 + 0.01 * np.cos(n / 7)
        slots = [(right_x, 0 if n < 30 else 1_000_000), (left_x, 1 if n < 30 else 1_000_001)]
        if n % 2:
            slots.reverse()
        for slot, (x, ident) in enumerate(slots):
            if ident == 1_000_001 and 50 <= n < 70:
                continue  # the left player is lost for 0.67 s...
            body[n, slot], ids[n, slot] = _body_at(x), ident + (5 if ident >= 1_000_000 and n >= 70 else 0)
    _, xy, label, score = _frames([[]] * frames)
    bodies, hands = assign_performers(times, body, ids, xy, label, score, (1280, 720))
    assert bodies.shape[:2] == (2, frames)
    neck = bodies[:, :, BODY_INDEX["neck"]]
    left_seen = neck[0, :, 2] > 0
    assert np.all(np.abs(neck[0, left_seen, 0] - 0.25) < 0.02) and np.all(np.abs(neck[1, :, 0] - 0.72) < 0.02)
    assert left_seen.sum() == frames - 20 and np.all(neck[1, :, 2] > 0)


def test_each_body_gets_its_own_hands_and_a_stray_hand_within_reach_joins_its_body() -> None:
    times = np.arange(20) / 30
    body = np.stack([np.stack([_body_at(0.3), _body_at(0.7)])] * 20)
    ids = np.tile(np.array([[0, 1]], np.int32), (20, 1))
    # Each player's right hand at its wrist; the second player's left hand 1.5 shoulder widths from its wrist.
    times, xy, label, score = _frames([[(0.26, 0.5, RIGHT), (0.66, 0.5, RIGHT), (0.74, 0.62, LEFT)]] * 20)
    bodies, hands = assign_performers(times, body, ids, xy, label, score, (1280, 720))
    assert bodies.shape[0] == 2, "the stray hand joined the body within reach, no third performer"
    assert np.all(hands[0, :, RIGHT, 0, 0] == pytest.approx(0.26)) and np.all(hands[0, :, LEFT, 0, 2] == 0)
    assert np.all(hands[1, :, RIGHT, 0, 0] == pytest.approx(0.66))
    assert np.all(hands[1, :, LEFT, 0, 0] == pytest.approx(0.74))


def test_a_passing_detection_is_not_a_performer() -> None:
    times = np.arange(90) / 30
    body = np.zeros((90, 2, 25, 3), np.float32)
    ids = np.full((90, 2), -1, np.int32)
    body[:, 0], ids[:, 0] = _body_at(0.4), 0
    body[40:44, 1], ids[40:44, 1] = _body_at(0.8), 1  # 4 frames of someone: under MIN_PERFORMER_SECONDS
    _, xy, label, score = _frames([[]] * 90)
    bodies, _ = assign_performers(times, body, ids, xy, label, score, (1280, 720))
    assert bodies.shape[0] == 1


def test_more_hands_than_slots_keeps_the_most_confident() -> None:
    """MediaPipe Hands returned five hands for max_num_hands=4 on a duet (IndexError before)."""
    from types import SimpleNamespace

    from foley_engine.pose.mediapipe_runner import hands_frame

    def hand(x: float, score: float, side: str) -> tuple[SimpleNamespace, SimpleNamespace]:
        landmarks = SimpleNamespace(landmark=[SimpleNamespace(x=x, y=0.5)] * 21)
        handedness = SimpleNamespace(classification=[SimpleNamespace(label=side, score=score)])
        return landmarks, handedness

    found = [hand(0.1 * i, 0.5 + 0.1 * i, "Left" if i % 2 else "Right") for i in range(5)]
    result = SimpleNamespace(multi_hand_landmarks=[f[0] for f in found], multi_handedness=[f[1] for f in found])
    xy, label, score = hands_frame(result, 4)
    assert xy.shape == (4, 21, 2) and np.all(label >= 0)
    assert sorted(score) == pytest.approx([0.6, 0.7, 0.8, 0.9]), "the least confident hand was left out"
    assert xy[0, 0, 0] == pytest.approx(0.4) and label[0] == LEFT, "MediaPipe's 'Right' is the performer's left"


def test_hands_without_body_form_one_performer_and_same_labels_use_x_order() -> None:
    times, xy, label, score = _frames([
        [(0.3, 0.7, LEFT), (0.6, 0.7, RIGHT)],
        [(0.31, 0.7, LEFT), (0.61, 0.7, RIGHT)],
        [(0.6, 0.7, LEFT), (0.3, 0.7, LEFT)],  # a label flip: continuity keeps each hand on its side
    ] + [[(0.3, 0.7, RIGHT), (0.6, 0.7, RIGHT)]] * 2)
    body = np.zeros((len(times), 25, 3), np.float32)
    bodies, hands = _assign_one_body(times, body, xy, label, score)
    assert bodies.shape[0] == hands.shape[0] == 1
    assert np.all(hands[0, :, LEFT, 0, 0] < 0.35) and np.all(hands[0, :, RIGHT, 0, 0] > 0.55)
    assert np.all(hands[0, :, :, :, 2] == pytest.approx(0.95))

    # Two hands with the same label and no history: x-order decides (left hand on the image's left here).
    times, xy, label, score = _frames([[(0.7, 0.5, RIGHT), (0.2, 0.5, RIGHT)]])
    _, hands = _assign_one_body(times, np.zeros((1, 25, 3), np.float32), xy, label, score)
    assert hands[0, 0, LEFT, 0, 0] == pytest.approx(0.2) and hands[0, 0, RIGHT, 0, 0] == pytest.approx(0.7)


def test_duplicate_detection_of_one_hand_is_dropped() -> None:
    times, xy, label, score = _frames([[(0.3, 0.7, LEFT), (0.302, 0.701, LEFT), (0.6, 0.7, RIGHT)]])
    _, hands = _assign_one_body(times, np.zeros((1, 25, 3), np.float32), xy, label, score)
    assert hands.shape[0] == 1


def test_one_hand_found_twice_once_foreshortened_stays_one_hand_of_its_player() -> None:
    """A violinist's fingering hand, edge-on, found by Hands twice for half a second: once with its fingers at
    half their length (the likelier detection), once whole, a few pixels away and labelled the other side.
    The second was taken for another hand beside the body and became a second violinist."""
    frames = 20
    body = np.repeat(_body_at(0.5)[None], frames, axis=0)
    body[:, BODY_INDEX["right_wrist"], :2] = (0.3, 0.9)  # the bowing hand, far out of reach
    wrist = body[0, BODY_INDEX["left_wrist"], :2]
    times, xy, label, score = _frames([[(wrist[0], wrist[1], LEFT), (wrist[0] + 0.01, wrist[1] + 0.01, RIGHT)]]
                                      * frames)
    xy[:, 0] = _hand(*wrist, size=0.012)  # the foreshortened one
    score[:, 0] = 0.99
    bodies, hands = _assign_one_body(times, body, xy, label, score)
    assert bodies.shape[0] == hands.shape[0] == 1
    assert np.all(hands[0, :, LEFT, 0, 2] > 0) and np.all(hands[0, :, RIGHT, 0, 2] == 0)


def test_hands_go_to_the_nearest_body_wrist_and_far_hands_form_another_performer() -> None:
    body = np.zeros((2, 25, 3), np.float32)
    body[:, :, 2] = 0.9
    body[:, :, :2] = 0.3
    body[:, BODY_INDEX["left_shoulder"], :2] = (0.35, 0.3)
    body[:, BODY_INDEX["right_shoulder"], :2] = (0.25, 0.3)
    body[:, BODY_INDEX["left_wrist"], :2] = (0.36, 0.5)  # a performer facing the camera: left on image right
    body[:, BODY_INDEX["right_wrist"], :2] = (0.24, 0.5)
    # MediaPipe's labels are wrong here on purpose: the body's wrists decide.
    times, xy, label, score = _frames([
        [(0.24, 0.51, LEFT), (0.36, 0.51, RIGHT), (0.8, 0.6, LEFT), (0.9, 0.6, RIGHT)],
    ] * 2)
    bodies, hands = _assign_one_body(times, body, xy, label, score)
    assert bodies.shape[0] == 2
    assert np.all(bodies[0, :, :, 2] > 0) and np.all(bodies[1, :, :, 2] == 0)
    assert np.all(hands[0, :, LEFT, 0, 0] == pytest.approx(0.36))
    assert np.all(hands[0, :, RIGHT, 0, 0] == pytest.approx(0.24))
    assert np.all(hands[1, :, LEFT, 0, 0] == pytest.approx(0.8))
    assert np.all(hands[1, :, RIGHT, 0, 0] == pytest.approx(0.9))


# --- resampling --------------------------------------------------------------------------------------


def test_resampling_interpolates_between_neighbours_and_never_bridges_gaps() -> None:
    times = np.array([0.0, 0.1, 0.2, 0.3, 0.7, 0.8])  # 10 fps, with a 0.4 s hole
    values = np.zeros((1, 6, 2, 3), np.float32)
    values[0, :, 0] = [(t, 1 - t, 1.0) for t in times]  # joint 0: seen in every frame
    values[0, :, 1] = [(t, t, 1.0) for t in times]
    values[0, 2, 1, 2] = 0.0  # joint 1: missed at 0.2
    out = resample(times, values, 0.0, 0.9, 20.0)  # samples at 0, 0.05, ..., 0.85
    sample = {round(k / 20, 2): out[0, k] for k in range(out.shape[1])}
    assert out.shape == (1, 18, 2, 3)
    assert sample[0.05][0] == pytest.approx((0.05, 0.95, 1.0))  # halfway between two frames
    assert sample[0.3][0] == pytest.approx((0.3, 0.7, 1.0))  # on a frame
    for t in (0.4, 0.45, 0.5, 0.55, 0.6):
        assert sample[t][0, 2] == 0, f"no joint invented inside the hole at {t}"
    assert sample[0.35][0] == pytest.approx((0.3, 0.7, 1.0)), "nearest frame within half an interval"
    assert sample[0.65][0] == pytest.approx((0.7, 0.3, 1.0))
    assert sample[0.15][1] == pytest.approx((0.1, 0.1, 1.0)), "next frame lacks it: nearest one that has it"
    assert sample[0.2][1, 2] == 0, "missed in the only frame within reach"
    assert sample[0.85][0, 2] == pytest.approx(1.0) and sample[0.85][0, 0] == pytest.approx(0.8)


def test_resampling_uses_real_times_of_an_ntsc_clip() -> None:
    times = np.arange(10) * 1001 / 30000
    values = np.zeros((1, 10, 1, 3), np.float32)
    values[0, :, 0, 0] = times
    values[0, :, 0, 2] = 1
    out = resample(times, values, 0.0, float(times[-1]), 30.0)
    np.testing.assert_allclose(out[0, :, 0, 0], np.arange(out.shape[1]) / 30, atol=1e-6)


def test_worker_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from foley_engine.pose.extract import WORKERS_ENV, worker_count

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert worker_count(0.0, 10.0) == 4
    assert worker_count(0.0, 1.5) == 1  # no chunk shorter than a second
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert worker_count(0.0, 10.0) == 1
    monkeypatch.setenv(WORKERS_ENV, "not-a-number")
    assert worker_count(0.0, 10.0) == 4


def test_prefetched_keeps_order_raises_where_the_source_failed_and_closes_it() -> None:
    from foley_engine.pose.mediapipe_runner import prefetched

    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing() -> Iterator[int]:
        yield from range(3)
        raise InputError("could not decode: truncated")

    seen: list[int] = []
    with pytest.raises(InputError, match="truncated"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [0, 1, 2], "every frame before the failure is handed over first"

    closed: list[bool] = []

    def endless() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            closed.append(True)

    stream = prefetched(endless(), depth=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()  # the consumer stops early (a worker's model failed): the decoder is stopped and closed
    assert closed == [True]


def test_hand_finder_uses_two_slots_until_more_hands_or_people_are_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from foley_engine.pose.mediapipe_runner import CHECK_SECONDS, MANY_HANDS_HOLD_SECONDS, HandFinder

    visible = {"hands": 2}
    calls: list[int] = []

    class FakeHands:
        def __init__(self, slots: int) -> None:
            self.slots = slots

        def process(self, image: np.ndarray) -> SimpleNamespace:
            calls.append(self.slots)
            return SimpleNamespace(multi_hand_landmarks=[object()] * min(self.slots, visible["hands"]))

        def close(self) -> None:
            pass

    monkeypatch.setattr(HandFinder, "_model", lambda self, slots: FakeHands(slots))
    image = np.zeros((4, 4, 3), np.uint8)
    finder = HandFinder(PoseSettings(max_hands=4))
    rate = 30
    frames = round(2 * CHECK_SECONDS * rate)
    for i in range(frames):  # one pianist: two slots, the full count only to look for a third hand
        assert len(finder.process(image, i / rate, people=1).multi_hand_landmarks) == 2
    assert calls.count(4) == 2 and calls.count(2) == frames

    calls.clear()
    visible["hands"] = 3  # a third hand comes in: found at the next check, then four slots every frame
    now = frames / rate
    seen = [len(finder.process(image, now + i / rate, people=1).multi_hand_landmarks) for i in range(frames)]
    assert seen[-1] == 3 and calls[-3:] == [4, 4, 4]

    calls.clear()
    visible["hands"] = 2  # back to two hands: two slots again once the hold has passed
    now += frames / rate
    hold = round(MANY_HANDS_HOLD_SECONDS * rate) + 1
    for i in range(hold + 3):
        finder.process(image, now + i / rate, people=1)
    assert calls[-1] == 2

    calls.clear()
    now += (hold + 3) / rate
    finder.process(image, now, people=2)  # two performers: four slots at once
    assert calls == [4]
