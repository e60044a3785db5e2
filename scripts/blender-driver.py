"""Drive the Foley extension inside real Blender (the `bpy` module): the tests' and screenshots' hands.

Run with the bpy venv's Python, one scenario per process (bpy loads once per process), with
BLENDER_USER_RESOURCES pointing at a scratch folder so the user's own Blender set-up is never touched:

    .venv-blender/bin/python scripts/blender-driver.py SCENARIO SPEC.json

It installs the built zip the way a user does (Preferences > Get Extensions > Install from Disk, i.e.
`bpy.ops.extensions.package_install_files`), runs the scenario and prints one line `RESULT {json}` last.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import types
import wave
from pathlib import Path
from typing import Any

import bpy
import numpy as np

MODULE = "bl_ext.user_default.foley"
MENUS = ("SEQUENCER_MT_context_menu", "SEQUENCER_MT_strip")


def install(zip_path: str) -> types.ModuleType:
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    if result != {"FINISHED"} or MODULE not in bpy.context.preferences.addons:
        raise RuntimeError(f"install failed: {result}, add-ons: {list(bpy.context.preferences.addons.keys())}")
    return importlib.import_module(MODULE)


def operator_label(idname: str) -> str:
    module, name = idname.split(".")
    return getattr(getattr(bpy.ops, module), name).get_rna_type().name


class MenuRecorder:
    """A stand-in for `UILayout` that writes down what a menu's draw functions put in it, in order."""

    def __init__(self, entries: list[dict], poll: Any):
        self.entries, self.poll, self.operator_context = entries, poll, "INVOKE_DEFAULT"

    def operator(self, idname: str, text: str | None = None, icon: str = "NONE", **_: Any) -> Any:
        self.entries.append({"kind": "operator", "id": idname, "label": operator_label(idname) if text is None
                             else text, "icon": icon, "enabled": self.poll(idname)})
        return types.SimpleNamespace()

    def operator_menu_enum(self, idname: str, _property: str, text: str | None = None, **_: Any) -> None:
        self.entries.append({"kind": "menu", "id": idname, "label": text or operator_label(idname), "enabled": True})

    def menu(self, name: str, text: str | None = None, icon: str = "NONE", **_: Any) -> None:
        self.entries.append({"kind": "menu", "id": name, "label": text or getattr(bpy.types, name).bl_label,
                             "icon": icon, "enabled": True})

    def separator(self, **_: Any) -> None:
        self.entries.append({"kind": "separator"})

    def column(self, **_: Any) -> MenuRecorder:
        return self


def record_menu(menu: str, scene: Any, selected: list[Any]) -> list[dict]:
    """The entries of a real registered menu, drawn for a context where `selected` are the selected strips."""
    context = types.SimpleNamespace(
        scene=scene, sequencer_scene=scene, selected_strips=selected, selected_sequences=selected,
        active_strip=selected[0] if selected else None, space_data=types.SimpleNamespace(view_type="SEQUENCER"),
        workspace=types.SimpleNamespace(use_filter_by_owner=False))
    foley = bpy.types.SEQUENCER_OT_foley_generate

    def poll(idname: str) -> bool:
        return foley.poll(context) if idname == foley.bl_idname else True

    entries: list[dict] = []
    cls = getattr(bpy.types, menu)
    holder = type("Menu", (), {name: value for name, value in vars(cls).items() if callable(value)})()
    holder.layout, holder.bl_owner_use_filter = MenuRecorder(entries, poll), False
    cls.draw(holder, context)
    return entries


def build_scene(spec: dict) -> tuple[Any, list[Any]]:
    """A scene at spec's fps with movie strips (trimmed to a range of the clip) and other strips in the way."""
    compat = importlib.import_module(f"{MODULE}.compat")
    scene = bpy.context.scene
    if hasattr(bpy.context.workspace, "sequencer_scene"):  # 5.0+: the VSE edits the workspace's scene
        bpy.context.workspace.sequencer_scene = scene
    scene.render.fps, scene.render.fps_base = spec["fps"], spec.get("fps_base", 1.0)
    movies = []
    for item in spec["movies"]:
        path = item.get("path", spec.get("clip"))
        strip = compat.strips(scene).new_movie(item["name"], path, channel=item["channel"], frame_start=1)
        # new_movie shows the movie frame by frame: content frame k is movie frame k.
        compat.set_content_start(strip, item["start"] - round(item["media_start"] * strip.fps))
        compat.set_visible_range(strip, item["start"], item["start"] + item["duration"])
        strip.channel = item["channel"]  # new_movie moved it up if frame 1 was taken on its channel
        if "filepath" in item:
            strip.filepath = item["filepath"]
        movies.append(strip)
    for item in spec.get("others", []):
        new_effect = compat.strips(scene).new_effect
        try:  # 4.5+: length; 4.2: frame_end
            other = new_effect(item["name"], "COLOR", item["channel"], item["start"],
                               length=item["end"] - item["start"])
        except TypeError:
            other = new_effect(item["name"], "COLOR", item["channel"], item["start"], frame_end=item["end"])
        other.select = False
    for strip in compat.all_strips(scene):
        strip.select = strip in movies
    if spec.get("save_as"):  # a saved project: foley goes to //foley with relative paths
        bpy.ops.wm.save_as_mainfile(filepath=spec["save_as"])
    bpy.ops.ed.undo_push(message="scene built")  # the undo history a session in the UI always has
    return scene, movies


def strip_state(scene: Any) -> list[dict]:
    compat = importlib.import_module(f"{MODULE}.compat")
    rows = []
    for strip in compat.all_strips(scene):
        start, end = compat.visible_range(strip)
        row = {"name": strip.name, "type": strip.type, "channel": strip.channel, "start": start, "end": end,
               "duration": end - start, "select": strip.select}
        if strip.type == "SOUND":
            path = Path(bpy.path.abspath(strip.sound.filepath))
            row |= {"filepath": strip.sound.filepath, "file": str(path), "foley": dict(strip.get("foley", {}))}
            if path.is_file():
                with wave.open(str(path)) as wav:
                    audio = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
                    row |= {"samples": wav.getnframes(), "rate": wav.getframerate(),
                            "peak": int(np.abs(audio.astype(np.int32)).max(initial=0))}
        rows.append(row)
    return rows


def generate(spec: dict, **overrides: Any) -> dict:
    """Run the operator's synchronous path like a script would; returns its result or its error sentence."""
    settings = {"instrument": spec.get("instrument", "piano"), "seed": spec.get("seed", 0)} | overrides
    try:  # undo=True: push an undo step like a call from the menu does (script calls do not by default)
        result = bpy.ops.sequencer.foley_generate("EXEC_DEFAULT", True, wait=True, **settings)
        return {"result": sorted(result)}
    except RuntimeError as error:
        return {"error": str(error).strip()}


def scenario_install(spec: dict) -> dict:
    foley = install(spec["zip"])
    otio = importlib.import_module("opentimelineio")
    scene, movies = build_scene(spec)
    compat = importlib.import_module(f"{MODULE}.compat")
    for strip in compat.all_strips(scene):
        strip.select = False
    return {"module": foley.__name__, "otio": otio.__file__, "has_operator": hasattr(bpy.ops.sequencer,
                                                                                        "foley_generate"),
            "menus": {menu: record_menu(menu, scene, movies) for menu in MENUS},
            "menus_without_movies": {menu: record_menu(menu, scene, []) for menu in MENUS},
            "blender": bpy.app.version_string}


def scenario_generate(spec: dict) -> dict:
    install(spec["zip"])
    scene, movies = build_scene(spec)
    runs = []
    for settings in spec.get("runs", [{}]):
        for strip in movies:  # a rerun starts from the same selection, as a user would
            strip.select = True
        started = time.monotonic()
        outcome = generate(spec, **settings)
        runs.append(outcome | {"seconds": round(time.monotonic() - started, 2), "strips": strip_state(scene)})
    menu = record_menu("SEQUENCER_MT_context_menu", scene, movies)
    undone = []
    for _ in range(len(runs) if spec.get("undo") else 0):  # Ctrl-Z once per run
        bpy.ops.ed.undo()
        undone.append(strip_state(bpy.context.scene))  # undo reloads the data: old references are gone
    return {"runs": runs, "undone": undone, "menu": menu}


def scenario_cancel(spec: dict) -> dict:
    """Start a background run like the modal operator does, cancel it mid-way, report what is left."""
    install(spec["zip"])
    run = importlib.import_module(f"{MODULE}.run")
    scene, _ = build_scene(spec)
    before = strip_state(scene)
    job = run.FoleyRun(bpy.context, run.Settings(instrument="piano"))
    job.start()
    deadline = time.monotonic() + 120
    while job.job.process is None or job.progress == 0.0:  # the engine has read the timeline and is rendering
        job.update()
        if job.job.done or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(spec.get("cancel_after", 1.0))
    running = job.job.process is not None and job.job.process.poll() is None
    started = time.monotonic()
    job.cancel()
    pid = job.job.process.pid if job.job.process else None
    try:
        os.killpg(pid, 0)
        alive = True
    except (ProcessLookupError, TypeError):
        alive = False
    folder = run.output_dir()
    return {"was_running": running, "cancel_seconds": round(time.monotonic() - started, 2), "group_alive": alive,
            "returncode": job.job.returncode, "progress": job.progress, "job_dir_exists": job.job_dir.exists(),
            "left_in_output_dir": sorted(p.name for p in folder.iterdir()) if folder.exists() else [],
            "strips_before": before, "strips_after": strip_state(scene)}


def scenario_modal(spec: dict) -> dict:
    """The operator's interactive path, with Blender's event loop played by hand (bpy has no window).

    The real execute() starts the run and asks for a timer and a modal handler; then timer ticks, a mouse
    move and (in the first run) Esc go to the real modal(), as the window manager would send them.
    """
    install(spec["zip"])
    scene, movies = build_scene(spec)
    cls = bpy.types.SEQUENCER_OT_foley_generate
    timer, status, runs = object(), [], []
    context = types.SimpleNamespace(
        window=object(), area=None, scene=scene, sequencer_scene=scene, selected_strips=movies,
        preferences=bpy.context.preferences, workspace=types.SimpleNamespace(status_text_set=status.append),
        window_manager=types.SimpleNamespace(event_timer_add=lambda *_, **__: timer, modal_handler_add=lambda _: None,
                                             event_timer_remove=lambda _: None))
    for escape in (True, False):
        reports: list = []
        operator = type("Operator", (), {name: value for name, value in vars(cls).items() if callable(value)})()
        operator.instrument, operator.seed, operator.temperature, operator.channel, operator.wait = (
            "piano", 0, 0.8, 0, False)
        operator.model, operator.model_file, operator.stems = "baseline", "", False
        operator.properties = types.SimpleNamespace(is_property_set=lambda name, ghost=True: True)  # all given
        operator.report = lambda level, message, reports=reports: reports.append([min(level), message])
        results = [sorted(cls.execute(operator, context))]
        deadline = time.monotonic() + 300
        while results[-1] in (["PASS_THROUGH"], ["RUNNING_MODAL"]) and time.monotonic() < deadline:
            time.sleep(0.1)
            move = types.SimpleNamespace(type="MOUSEMOVE", value="NOTHING")
            results.append(sorted(cls.modal(operator, context, move)))
            if escape and len(status) > 1:
                event = types.SimpleNamespace(type="ESC", value="PRESS")
            else:
                event = types.SimpleNamespace(type="TIMER", value="NOTHING")  # bpy's Event has no .timer
            results.append(sorted(cls.modal(operator, context, event)))
        runs.append({"results": results, "reports": reports, "status": list(status), "strips": strip_state(scene)})
        status.clear()
    return {"runs": runs}


def scenario_errors(spec: dict) -> dict:
    install(spec["zip"])
    scene, _ = build_scene(spec)
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.engine_path = spec.get("engine_path", "")
    return generate(spec, **spec.get("settings", {})) | {"strips": strip_state(scene)}


SCENARIOS = {"install": scenario_install, "generate": scenario_generate, "cancel": scenario_cancel,
             "modal": scenario_modal, "errors": scenario_errors}


def main() -> None:
    scenario, spec_path = sys.argv[1:3]
    spec = json.loads(Path(spec_path).read_text())
    try:
        result = SCENARIOS[scenario](spec)
    except Exception as error:  # noqa: BLE001 - the test prints this instead of a bare exit code
        result = {"exception": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
