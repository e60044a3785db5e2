"""Single files written through outputs.atomic_path: normal permissions, and nothing left behind on failure."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import tiny_model

from foley_engine.data.shards import Example, write_shard
from foley_engine.errors import OutputError
from foley_engine.keypoints import Keypoints
from foley_engine.model import save_checkpoint
from foley_engine.notes import Note
from foley_engine.outputs import atomic_path


def _keypoints() -> Keypoints:
    rng = np.random.default_rng(0)
    return Keypoints(30.0, 0.0, rng.random((1, 6, 25, 3), np.float32), rng.random((1, 6, 2, 21, 3), np.float32),
                     (640, 480))


def _save_keypoints(path: Path) -> None:
    _keypoints().save(path)


def _save_shard(path: Path) -> None:
    write_shard([Example(_keypoints(), [[Note(0.0, 0.1, 60, 64)]], "cello", "synthetic:bowed:generated/x", "train")],
                path)


def _save_checkpoint(path: Path) -> None:
    save_checkpoint(path, tiny_model())


WRITERS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (writer, file name, the library call to break: "module:attribute")
    "keypoints": (_save_keypoints, "kp.npz", "foley_engine.keypoints:np.savez_compressed"),
    "shard": (_save_shard, "shard.npz", "foley_engine.data.shards:np.savez_compressed"),
    "checkpoint": (_save_checkpoint, "m.pt", "foley_engine.model.checkpoint:torch.save"),
}


def _normal_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask  # 0o644 under the usual umask 022


@pytest.mark.parametrize("name", WRITERS)
def test_saved_file_gets_normal_permissions_and_no_temp_remains(tmp_path: Path, name: str) -> None:
    writer, filename, _ = WRITERS[name]
    writer(tmp_path / filename)
    assert [p.name for p in tmp_path.iterdir()] == [filename]
    assert stat.S_IMODE((tmp_path / filename).stat().st_mode) == _normal_mode()


@pytest.mark.parametrize("name", WRITERS)
def test_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, name: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    writer, filename, target = WRITERS[name]
    final = tmp_path / filename
    final.write_bytes(b"previous")

    def broken(*args: object, **kwargs: object) -> None:  # np.savez_compressed(file, ...), torch.save(obj, file)
        file = next(a for a in args if isinstance(a, (str, Path)) or hasattr(a, "write"))
        if isinstance(file, (str, Path)):
            Path(file).write_bytes(b"half a file")
        else:
            file.write(b"half a file")
        raise OSError(28, "No space left on device")

    module, attribute = target.split(":")
    monkeypatch.setattr(f"{module}.{attribute}", broken)
    with pytest.raises((OSError, OutputError), match="No space left"):
        writer(final)
    assert [p.name for p in tmp_path.iterdir()] == [filename]
    assert final.read_bytes() == b"previous"


def test_atomic_path_keeps_the_suffix_and_discards_on_error(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "clip.mp4") as temp:
        assert temp.parent == tmp_path and temp.suffix == ".mp4" and temp.name.startswith(".clip.mp4.")
        temp.write_bytes(b"ok")
    assert (tmp_path / "clip.mp4").read_bytes() == b"ok"
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "clip.mp4") as temp:
        temp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
    assert (tmp_path / "clip.mp4").read_bytes() == b"ok"


def test_a_stop_the_moment_a_temp_file_is_made_leaves_no_temp(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancelled timeline stops its clip workers with SIGTERM, which is raised wherever the worker is. Landing
    after the temp file was made but before it was counted as this write's (here: as its descriptor is
    closed), it left the temp behind in the keypoint cache (a fresh clone's `make test`, once). The temp is
    counted before it exists now, so the unwinding write removes it."""
    real_close = os.close

    def close_then_stop(fd: int) -> None:
        real_close(fd)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), monkeypatch.context() as patch:
        patch.setattr(os, "close", close_then_stop)
        with atomic_path(tmp_path / "keyboard.json"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_one_exists_message_names_the_files_or_the_first_few(tmp_path: Path) -> None:
    """The message editors show as it is: every file, or the first `most` and a count."""
    from foley_engine.outputs import exists_error, refuse_existing

    paths = [tmp_path / f"{name}.wav" for name in "abcde"]
    assert str(exists_error(paths[:2])) == f"output exists: {paths[0]}, {paths[1]} (use --force to overwrite)"
    assert str(exists_error(paths, most=3)) == \
        f"output exists: {paths[0]}, {paths[1]}, {paths[2]} and 2 more (use --force to overwrite)"
    for path in paths[1:4]:
        path.write_bytes(b"")
    refuse_existing(paths, force=True)
    with pytest.raises(OutputError, match=rf"^output exists: {paths[1]}, {paths[2]}, {paths[3]} \(use --force"):
        refuse_existing(paths, force=False)


def test_atomic_output_leaves_nothing_and_names_the_file_when_the_disk_fails(tmp_path: Path) -> None:
    from foley_engine.outputs import atomic_output

    final = tmp_path / "take.mid"
    final.write_bytes(b"before")
    with pytest.raises(OutputError, match=rf"^cannot write MIDI file {final}: No space left on device$"):
        with atomic_output(final, "MIDI file") as temp:
            temp.write_bytes(b"half")
            raise OSError(28, "No space left on device")
    assert final.read_bytes() == b"before" and [p.name for p in tmp_path.iterdir()] == ["take.mid"]
    with atomic_output(tmp_path / "new" / "take.wav", "WAV file", parents=True) as temp:
        temp.write_bytes(b"after")
    assert (tmp_path / "new" / "take.wav").read_bytes() == b"after"


@pytest.mark.parametrize("name, expected", [
    ("Take 1: Violin/Cello", "Take-1-Violin-Cello"), ("model:default", "model-default"), ("..", "clip"),
    ("a" * 50, "a" * 40), ("über-take_2.mov", "ber-take_2.mov"),
])
def test_one_slug_for_file_names(name: str, expected: str) -> None:
    from foley_engine.outputs import slug

    assert slug(name, "clip") == expected
