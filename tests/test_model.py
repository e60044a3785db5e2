"""The model's parts: pose features and masking, the window token layout, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_fixtures import TINY, random_joints, tiny_model

from foley_engine.errors import ModelError
from foley_engine.model import load_checkpoint, save_checkpoint
from foley_engine.model.checkpoint import FORMAT, checkpoint_dict
from foley_engine.model.features import pose_features
from foley_engine.model.sequences import encode_window
from foley_engine.model.vocabulary import VOCABULARY
from foley_engine.notes import Note
from foley_engine.skeleton import BODY_INDEX, LEFT_HAND_OFFSET


def test_features_ignore_framing_and_zero_missing_joints():
    joints = random_joints(60, seed=1)
    features, mask = pose_features(joints, (1280, 720), 30.0)
    assert features.shape == (60, 67, 5) and mask.shape == (60, 67)
    assert not features[~mask].any(), "a missing joint must be all zeros, flagged by the mask"
    assert np.array_equal(mask, joints[..., 2] > 0)
    moved = joints.copy()
    seen = moved[..., 2] > 0
    moved[..., :2][seen] = moved[..., :2][seen] * 0.5 + 0.2  # same performer, half the size, elsewhere
    again, _ = pose_features(moved, (1280, 720), 30.0)
    np.testing.assert_allclose(again, features, atol=1e-4)


def test_features_fall_back_to_hands_without_a_body():
    joints = random_joints(60, seed=2, missing=0.0)
    joints[:, :LEFT_HAND_OFFSET] = 0.0  # top-down keyboard shot: hands only
    features, mask = pose_features(joints, (1920, 1080), 30.0)
    assert not mask[:, BODY_INDEX["neck"]].any()
    assert np.isfinite(features).all() and np.abs(features[mask][:, :2]).max() <= 4.0


def test_encoder_never_reads_a_missing_joints_coordinates():
    model = tiny_model()
    joints = random_joints(45, seed=3)
    features, mask = pose_features(joints, (1280, 720), 30.0)
    garbage = features.copy()
    garbage[~mask] = np.random.default_rng(0).normal(0, 5, garbage[~mask].shape)
    with torch.no_grad():
        a = model.encoder(torch.from_numpy(features)[None], torch.from_numpy(mask)[None])
        b = model.encoder(torch.from_numpy(garbage)[None], torch.from_numpy(mask)[None])
    torch.testing.assert_close(a, b)


NOTES = [Note(0.5, 1.2, 60, 80), Note(1.0, 3.5, 64, 90), Note(2.2, 2.5, 67, 40)]


def test_primed_window_splits_at_resume_and_keeps_open_notes_open():
    window = encode_window(NOTES, VOCABULARY, 1.5, 3.0, resume=2.0)
    prefix = [VOCABULARY.describe(t) for t in window.tokens[:window.prefix]]
    rest = [VOCABULARY.describe(t) for t in window.tokens[window.prefix:]]
    assert prefix == ["bos", "velocity:22", "note_on:64", "time_shift:50"]  # 64 sounds at 1.5: enters at 0
    assert rest == ["time_shift:20", "velocity:10", "note_on:67", "time_shift:30", "note_off:67",
                    "time_shift:50"]  # 64 still sounds at 3.0: no note-off, the next window carries it
    assert window.times[window.prefix - 1] == 50 and window.times[-1] == 150


def test_unprimed_window_leaves_out_notes_it_cannot_see_start():
    window = encode_window(NOTES, VOCABULARY, 1.5, 3.0)
    assert window.prefix == 1
    assert "note_on:64" not in [VOCABULARY.describe(t) for t in window.tokens]


def test_checkpoint_round_trip(tmp_path):
    model = tiny_model(seed=4)
    path = save_checkpoint(tmp_path / "m.pt", model, training={"seed": 4}, data={"datasets": []},
                           metrics={"val_loss": 1.0})
    loaded = load_checkpoint(path)
    assert loaded.info["format"] == FORMAT and loaded.info["training"] == {"seed": 4}
    assert loaded.model.config == TINY
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor)
    half = load_checkpoint(save_checkpoint(tmp_path / "half.pt", model, half=True))
    assert half.model.state_dict()["head.weight"].dtype == torch.float32


@pytest.mark.parametrize("content", ["garbage", "foreign", "future", "code"])
def test_bad_checkpoints_fail_with_one_clear_model_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 100)
    elif content == "foreign":
        torch.save({"state_dict": {}, "epoch": 3}, path)
    elif content == "future":
        torch.save(checkpoint_dict(tiny_model()) | {"version": 99}, path)
    else:
        torch.save({"format": FORMAT, "payload": Note(0.0, 1.0, 60, 64)}, path)  # needs unpickling code
    with pytest.raises(ModelError) as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_truncated_checkpoint_is_a_model_error(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_model())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelError):
        load_checkpoint(path)


def test_pipeline_checks_the_model_before_any_work(tmp_path):
    from foley_engine.errors import InputError
    from foley_engine.options import GeneratorOptions
    from foley_engine.pipeline import generate

    bad = tmp_path / "user.pt"
    bad.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ModelError, match="user.pt"):
        generate(tmp_path / "no-video.mp4", options=GeneratorOptions(model=str(bad)))
    with pytest.raises(InputError, match="deterministic"):
        generate(tmp_path / "no-video.mp4", options=GeneratorOptions(model="baseline", variations=2))
