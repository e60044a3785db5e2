"""The Blender extension in real Blender (PyPI `bpy`, headless): installed from its zip, driven like a user.

Each test runs scripts/blender-driver.py in a fresh Blender process against the real engine and the real
piano clip (short ranges inside `PLAYING`, so the session's keypoint cache makes reruns cheap).
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from blender_helpers import bpy_python, build_extension, run_driver
from media import make_video
from timelines import PLAYING

SAMPLE_RATE = 48000
FILM = 24  # the scene rate where the 30 fps clip does not match
#: A 30 fps movie added by script plays frame by frame: in a 24 fps scene, 60 frames show 2.0 s of it.
MOVIES = [{"name": "piano", "channel": 2, "start": -20, "media_start": PLAYING[0], "duration": 60},
          {"name": "piano.late", "channel": 3, "start": 100, "media_start": PLAYING[0], "duration": 60}]
#: Something on channel 1 under the first movie strip, so its foley has to go above it.
TITLE = {"name": "title", "channel": 1, "start": 0, "end": 30}


@pytest.fixture(scope="module")
def python() -> Path:
    return bpy_python()


@pytest.fixture(scope="module")
def extension(python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_extension(tmp_path_factory.mktemp("dist"))


def strips_by_name(strips: list[dict]) -> dict[str, dict]:
    return {strip["name"]: strip for strip in strips}


def test_zip_has_the_extension_layout_and_blender_validates_it(python: Path, extension: Path) -> None:
    names = zipfile.ZipFile(extension).namelist()
    assert {"blender_manifest.toml", "__init__.py", "operators.py", "compat.py", "timeline_io.py"} <= set(names)
    assert not [name for name in names if "__pycache__" in name or name.count("/") > 1]
    assert len([name for name in names if name.startswith("wheels/opentimelineio-0.18.1-")]) == 8
    validator = next(python.parent.parent.glob("lib/python3*/site-packages/bpy/*/scripts/addons_core/bl_pkg/"
                                               "cli/blender_ext.py"))
    done = subprocess.run([str(python), str(validator), "validate", str(extension)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_installs_from_the_zip_and_adds_the_menu_entries(python: Path, extension: Path, piano_video: Path,
                                                         tmp_path: Path) -> None:
    spec = {"zip": str(extension), "clip": str(piano_video), "fps": FILM, "movies": MOVIES[:1]}
    result = run_driver(python, "install", spec, tmp_path)
    assert result["module"] == "bl_ext.user_default.foley" and result["has_operator"]
    # opentimelineio comes from the wheel in the zip: the bpy venv has none of its own
    assert "/extensions/.local/lib/python3" in result["otio"]
    for menu, entries in result["menus"].items():
        ours = [entry for entry in entries if entry.get("id") == "sequencer.foley_generate"]
        assert [(entry["label"], entry["enabled"]) for entry in ours] == [("Generate Foley", True)], menu
        assert len(entries) > 10, f"{menu} should be the real menu with our entry in it: {entries}"
    for entries in result["menus_without_movies"].values():
        assert [entry["enabled"] for entry in entries if entry.get("id") == "sequencer.foley_generate"] == [False]


def test_sound_strips_start_and_end_with_their_movie_strips_and_a_rerun_replaces_them(
        python: Path, extension: Path, piano_video: Path, tmp_path: Path) -> None:
    spec = {"zip": str(extension), "clip": str(piano_video), "fps": FILM, "movies": MOVIES, "others": [TITLE],
            "save_as": str(tmp_path / "project" / "edit.blend"), "runs": [{}, {"seed": 3, "model": "baseline"}],
            "undo": True}
    (tmp_path / "project").mkdir()
    result = run_driver(python, "generate", spec, tmp_path)
    expected_channels = {"piano": 3, "piano.late": 2}  # channel 1 is taken under "piano"; nearest free, below first
    files = []
    for number, run in enumerate(result["runs"]):
        assert run["result"] == ["FINISHED"], run
        strips = strips_by_name(run["strips"])
        sounds = [strip for strip in run["strips"] if strip["type"] == "SOUND"]
        assert len(sounds) == len(MOVIES), f"run {number + 1} stacked strips: {sounds}"
        for movie in MOVIES:
            sound, source = strips[f"Foley · {movie['name']}"], strips[movie["name"]]
            assert (sound["start"], sound["duration"]) == (source["start"], source["duration"]) == (
                movie["start"], movie["duration"])
            assert sound["channel"] == expected_channels[movie["name"]]
            assert sound["filepath"].startswith("//foley/"), "saved projects keep relative paths"
            assert Path(sound["file"]).is_file() and sound["rate"] == SAMPLE_RATE
            assert sound["samples"] == round(movie["duration"] / FILM * SAMPLE_RATE)
            assert sound["peak"] > 300, "the piano clip's foley must not be silent"
            assert sound["foley"] | {"temperature": 0} == {
                "source": movie["name"], "instrument": "piano", "seed": 3 if number else 0, "temperature": 0,
                "model": "baseline" if number else "default",  # the operator's default: the shipped model
                "media": str(piano_video.resolve()), "engine_version": sound["foley"]["engine_version"],
                "notes": sound["foley"]["notes"], "performer": 0}  # 0: the mix of all performers
            files.append(sound["file"])
    assert len(set(files)) == 4, "a rerun writes new files: undo can still bring the old strips back"
    assert not list((tmp_path / "project" / "foley").glob(".*")), "no job folders or partial files are left"
    assert [entry["label"] for entry in result["menu"] if entry.get("id") == "sequencer.foley_generate"] == [
        "Generate Foley"]
    # Ctrl-Z once brings back the first run's strips (seed 0), twice leaves the movies as they were
    first_undo, second_undo = ([(strip["name"], strip.get("foley", {}).get("seed")) for strip in state]
                               for state in result["undone"])
    assert sorted(first_undo) == sorted([("Foley · piano", 0), ("Foley · piano.late", 0), ("piano", None),
                                         ("piano.late", None), ("title", None)])
    assert sorted(second_undo) == [("piano", None), ("piano.late", None), ("title", None)]


@pytest.mark.real_media
def test_per_performer_gives_each_player_a_strip_below_the_movie_and_a_rerun_brings_the_mix_back(
        python: Path, extension: Path, duet_video: Path, tmp_path: Path) -> None:
    """A real duet (two players side by side): "Per Performer" gives one sound strip per player, left to right
    on the channels below the movie strip; without it, one strip with the mix replaces them."""
    movie = {"name": "duet", "channel": 3, "start": 1, "media_start": 0.0, "duration": 60}
    spec = {"zip": str(extension), "clip": str(duet_video), "fps": 30, "movies": [movie], "instrument": "violin",
            "runs": [{"stems": True, "model": "baseline"}, {"stems": False, "model": "baseline"}]}
    stems, mix = run_driver(python, "generate", spec, tmp_path)["runs"]
    assert stems["result"] == ["FINISHED"], stems
    sounds = [strip for strip in stems["strips"] if strip["type"] == "SOUND"]
    assert [(s["name"], s["channel"], s["start"], s["duration"], s["foley"]["performer"]) for s in sounds] == [
        ("Foley · duet · performer 1", 2, 1, 60, 1), ("Foley · duet · performer 2", 1, 1, 60, 2)]
    for sound in sounds:
        assert sound["samples"] == 2 * SAMPLE_RATE and sound["peak"] > 300, sound
        assert sound["foley"]["instrument"] == "violin" and sound["foley"]["notes"] > 0
    assert sounds[0]["file"] != sounds[1]["file"]
    assert mix["result"] == ["FINISHED"], mix
    [sound] = [strip for strip in mix["strips"] if strip["type"] == "SOUND"]
    assert (sound["name"], sound["channel"], sound["duration"], sound["foley"]["performer"]) == (
        "Foley · duet", 2, 60, 0)
    assert sound["foley"]["notes"] == sum(s["foley"]["notes"] for s in sounds)


def test_a_real_time_strip_at_ntsc_rate_with_an_explicit_channel(python: Path, extension: Path, piano_video: Path,
                                                                   tmp_path: Path) -> None:
    """29.97 fps (fps_base 1.001) with the 30 fps clip: within one frame of real time, the audio is the engine's."""
    movie = {"name": "take 2", "channel": 4, "start": 1, "media_start": PLAYING[0], "duration": 45}
    spec = {"zip": str(extension), "clip": str(piano_video), "fps": 30000, "fps_base": 1001,
            "movies": [movie], "runs": [{"channel": 7}]}
    result = run_driver(python, "generate", spec, tmp_path)
    run = result["runs"][0]
    assert run["result"] == ["FINISHED"], run
    sound = strips_by_name(run["strips"])["Foley · take 2"]
    assert (sound["channel"], sound["start"], sound["duration"]) == (7, 1, 45)
    assert sound["samples"] == round(45 * 1001 / 30000 * SAMPLE_RATE)
    assert sound["peak"] > 300


def test_cancel_ends_the_engine_and_leaves_nothing(python: Path, extension: Path, piano_video: Path,
                                                   tmp_path: Path) -> None:
    movie = {"name": "piano", "channel": 2, "start": 1, "media_start": 20.0, "duration": 90}  # not cached: slow
    spec = {"zip": str(extension), "clip": str(piano_video), "fps": 30, "movies": [movie],
            "save_as": str(tmp_path / "project" / "edit.blend"), "cancel_after": 1.0}
    (tmp_path / "project").mkdir()
    result = run_driver(python, "cancel", spec, tmp_path)
    assert result["was_running"], "the engine finished before it could be cancelled"
    assert result["cancel_seconds"] < 10 and not result["group_alive"]
    assert not result["job_dir_exists"] and result["left_in_output_dir"] == []
    assert result["strips_after"] == result["strips_before"]


def test_the_interactive_run_shows_progress_lets_events_through_and_escape_cancels(
        python: Path, extension: Path, piano_video: Path, tmp_path: Path) -> None:
    """execute() and modal() as the window manager calls them; bpy has no window, so the events come by hand."""
    movie = {"name": "piano", "channel": 2, "start": 1, "media_start": PLAYING[0], "duration": 60}
    spec = {"zip": str(extension), "clip": str(piano_video), "fps": 30, "movies": [movie]}
    escaped, finished = run_driver(python, "modal", spec, tmp_path)["runs"]
    for run in (escaped, finished):
        assert run["results"][0] == ["RUNNING_MODAL"]
        assert set(map(tuple, run["results"][1:-1])) == {("PASS_THROUGH",)}, "the UI keeps working meanwhile"
        assert run["status"][0].startswith("Foley ") and run["status"][0].endswith("Esc to cancel")
        assert run["status"][-1] is None, "the status bar is given back"
    assert escaped["results"][-1] == ["CANCELLED"]
    assert escaped["reports"] == [["WARNING", "Foley cancelled; nothing was changed"]]
    assert [strip["type"] for strip in escaped["strips"]] == ["MOVIE"]
    assert finished["results"][-1] == ["FINISHED"]
    assert finished["reports"] == [["INFO", "Foley added: Foley · piano"]]
    assert any("100%" in text for text in finished["status"] if text)
    assert [(s["type"], s["channel"], s["start"], s["duration"]) for s in finished["strips"]] == [
        ("MOVIE", 2, 1, 60), ("SOUND", 1, 1, 60)]


@pytest.fixture(scope="module")
def empty_stage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("empty") / "empty-stage.mp4", seconds=1.0, rate=30, size=(320, 240))


@pytest.mark.parametrize("case", ["no movie selected", "engine missing", "engine preference wrong",
                                  "unsaved with relative path", "no performer visible", "checkpoint missing"])
def test_errors_reach_the_user_in_one_sentence(case: str, python: Path, extension: Path, piano_video: Path,
                                               empty_stage: Path, tmp_path: Path) -> None:
    movie = {"name": "piano", "channel": 2, "start": 1, "media_start": PLAYING[0], "duration": 30}
    spec: dict = {"zip": str(extension), "clip": str(piano_video), "fps": 30, "movies": [movie]}
    env: dict[str, str | None] = {}
    expected = {
        "no movie selected": "Select one or more movie strips",
        "engine missing": "Foley engine not found: install it (pip install foley) and set its path in "
                          "Preferences > Add-ons > Foley, or set FOLEY_ENGINE",
        "engine preference wrong": "The Foley engine set in add-on preferences is not a foley command or "
                                   f"environment: {tmp_path / 'nowhere'}",
        "unsaved with relative path": "Save the .blend first: movie strip 'piano' uses a path relative to it "
                                      "(//video.mp4)",
        "no performer visible": f"No foley for strip 'piano': no performer visible in {empty_stage.name} "
                                "between 0.00s and 1.00s",
        "checkpoint missing": f"Foley failed: model checkpoint not found: {tmp_path / 'nope.pt'}",
    }[case]
    if case == "no movie selected":
        spec["movies"] = []
    elif case == "engine missing":
        env = {"FOLEY_ENGINE": None, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    elif case == "engine preference wrong":
        spec["engine_path"] = str(tmp_path / "nowhere")
    elif case == "checkpoint missing":
        spec["settings"] = {"model": "file", "model_file": str(tmp_path / "nope.pt"), "temperature": 0.5}
    elif case == "unsaved with relative path":
        movie["filepath"] = "//video.mp4"
    else:
        movie |= {"path": str(empty_stage), "media_start": 0.0}
    result = run_driver(python, "errors", spec, tmp_path, env=env)
    assert expected in result["error"], result["error"]
    assert len(result["error"].splitlines()) == 1
    assert not [strip for strip in result["strips"] if strip["type"] == "SOUND"]
