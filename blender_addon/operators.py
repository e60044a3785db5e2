"""Generate Foley: the operator, its menu entries, the add-on preferences and the status-bar progress.

Invoked from a menu it asks for the settings, then runs in the background: a window-manager timer polls the
engine, the status bar shows progress, Esc cancels, and every other event passes through so the user keeps
working. When Blender has no event loop (background mode, or `wait=True` from a script) it runs to the end.
The generated strips land in one undo step, pushed when the operator finishes.
"""

# No `from __future__ import annotations` here: Blender reads the bpy.props annotations as objects.
from typing import Any

import bpy

from . import compat
from .engine import EngineInfo, UserError, engine_info, find_engine
from .run import FoleyRun, Settings, model_spec
from .strips import movie_strips

TIMER_SECONDS = 0.1
#: The model choice beside the engine's named ones: a checkpoint file the user trained.
CHECKPOINT = ("file", "Checkpoint File", "A learned model trained with `foley train`")
#: The generator options the dialog starts at the engine's defaults (`foley info`), unless the user set them.
ENGINE_DEFAULTS = ("instrument", "model", "seed", "temperature")


def _engine_path(context: Any) -> str:
    """The add-on preference (empty: detect the engine)."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences.engine_path if addon is not None else ""


def _engine_info(context: Any) -> EngineInfo:
    """The engine the preferences point at, and what it says about itself; UserError in one sentence."""
    return engine_info(find_engine(_engine_path(context))[0])


def _info_or_none(context: Any) -> EngineInfo | None:
    """For the dialog's choices: None while no engine answers (invoke and execute say why)."""
    try:
        return _engine_info(context or bpy.context)
    except UserError:
        return None


#: Blender keeps no reference to the strings of dynamic enum items: the last list given stays alive here.
_MODEL_ITEMS: list[tuple[str, str, str]] = []


def _model_items(self: Any, context: Any) -> list[tuple[str, str, str]]:
    """The engine's named models (its default first), then a checkpoint file."""
    info = _info_or_none(context)
    named = [(model["name"], model["label"], model["description"][:1].upper() + model["description"][1:])
             for model in info.models] if info else []
    _MODEL_ITEMS[:] = [*named, CHECKPOINT]
    return _MODEL_ITEMS


def _instrument_search(self: Any, context: Any, edit_text: str) -> list[str]:
    """The engine's instruments, in its order, for the Instrument field's list."""
    info = _info_or_none(context)
    return info.instruments if info is not None else []


class FoleyPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Foley engine", subtype="FILE_PATH",
        description="The foley command, or the virtual environment it is installed in (empty: find it on "
                    "FOLEY_ENGINE, PATH or in a common venv)")

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.prop(self, "engine_path")
        try:
            found, origin = find_engine(self.engine_path)
            layout.label(text=f"Using {found} (from {origin})", icon="CHECKMARK")
        except UserError as error:
            layout.label(text=str(error), icon="ERROR")


class SEQUENCER_OT_foley_generate(bpy.types.Operator):
    """Generate music for the selected movie strips and add it as sound strips that start and end with them"""

    bl_idname = "sequencer.foley_generate"
    bl_label = "Generate Foley"
    # UNDO: the finished run is one undo step. No REGISTER: a redo panel would re-run the engine.
    bl_options = {"UNDO"}

    # Unset, the generator options are the engine's defaults (`foley info`): the dialog starts there, and a script
    # that leaves one out gets the engine's own choice.
    instrument: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Instrument", search=_instrument_search,
        description="The General MIDI instrument that plays the notes (the engine's list); one each, left to "
                    "right, with commas: violin,guitar")
    model: bpy.props.EnumProperty(name="Model", items=_model_items)  # type: ignore[valid-type]
    model_file: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Checkpoint", subtype="FILE_PATH", description="The .pt file of a model trained with `foley train`")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0, description="Same seed, same notes")  # type: ignore[valid-type]
    temperature: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Temperature", min=0.0, max=2.0, step=10,
        description="Note sampling of the learned model: 0 is its single most likely take")
    channel: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Target Channel", default=0, min=0, max=128,
        description="Channel for the sound strips; 0 takes the nearest free channel to each movie strip")
    stems: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Per Performer", default=False,
        description="One sound strip per performer, left to right on the channels below the movie strip, to mix "
                    "or mute players separately. Off: one strip with all performers mixed as the synthesizer "
                    "balances them")
    wait: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Wait", default=False, options={"HIDDEN", "SKIP_SAVE"},
        description="Block until done (scripts); background Blender always waits")

    _run = None  # type: FoleyRun | None  # a run's (a comment, not an annotation: Blender would read a property)
    _timer = None

    @classmethod
    def poll(cls, context: Any) -> bool:
        if compat.sequencer_scene(context) is None or not movie_strips(context):
            cls.poll_message_set("Select one or more movie strips")
            return False
        return True

    def invoke(self, context: Any, event: Any) -> set[str]:
        try:
            defaults = _engine_info(context).defaults
        except UserError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        for name in ENGINE_DEFAULTS:
            if not self.properties.is_property_set(name):  # a value used last time counts as set
                setattr(self, name, defaults[name])
        return context.window_manager.invoke_props_dialog(self, title="Generate Foley", confirm_text="Generate")

    def _given(self, name: str) -> Any:
        """The property's value when the user or script set it, else None: the engine's default."""
        return getattr(self, name) if self.properties.is_property_set(name) else None

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "instrument")
        layout.prop(self, "model")
        if self.model == "file":
            layout.prop(self, "model_file")
        info = _info_or_none(context)
        sampling = layout.column()
        sampling.active = info is None or info.samples(self.model)  # a deterministic model ignores them
        sampling.prop(self, "seed")
        sampling.prop(self, "temperature")
        layout.prop(self, "channel")
        layout.prop(self, "stems")

    def execute(self, context: Any) -> set[str]:
        try:
            temperature, model = self._given("temperature"), self._given("model")
            settings = Settings(self._given("instrument"), self._given("seed"),
                                None if temperature is None else round(temperature, 3), self.channel,
                                _engine_path(context),
                                None if model is None else model_spec(model, self.model_file), stems=self.stems)
            self._run = FoleyRun(context, settings)
        except UserError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self._run.start()
        if self.wait or context.window is None:  # no window, no event loop: background Blender, scripts
            self._run.wait()
            return self._finish(context)
        self._timer = context.window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        self._show_progress(context)
        return {"RUNNING_MODAL"}

    def _running(self) -> FoleyRun:
        assert self._run is not None, "execute() starts the run before anything else calls this"
        return self._run

    def modal(self, context: Any, event: Any) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS":
            self._running().cancel()
            self._stop(context)
            self.report({"WARNING"}, "Foley cancelled; nothing was changed")
            return {"CANCELLED"}
        if event.type == "TIMER":  # any window timer: polling is cheap and never blocks
            if self._running().update():
                self._stop(context)
                return self._finish(context)
            self._show_progress(context)
        return {"PASS_THROUGH"}

    def cancel(self, context: Any) -> None:
        """Blender ends the operator (file load, quit): end the engine too."""
        if self._run is not None:
            self._run.cancel()
        self._stop(context)

    def _finish(self, context: Any) -> set[str]:
        try:
            outcome = self._running().finish()
        except UserError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        for warning in outcome.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Foley added: {', '.join(outcome.created)}")
        return {"FINISHED"}

    def _show_progress(self, context: Any) -> None:
        run = self._running()
        _status_text(context, f"Foley {run.progress:4.0%}  {run.message}  ·  Esc to cancel")

    def _stop(self, context: Any) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        _status_text(context, None)


def _status_text(context: Any, text: str | None) -> None:
    """The status bar's and the editor header's text; None gives them back to Blender."""
    if context.workspace is not None:
        context.workspace.status_text_set(text)
    if context.area is not None:
        context.area.header_text_set(text)


def draw_menu_entry(menu: Any, context: Any) -> None:
    menu.layout.separator()
    menu.layout.operator(SEQUENCER_OT_foley_generate.bl_idname, text="Generate Foley", icon="SOUND")


MENUS = ("SEQUENCER_MT_context_menu", "SEQUENCER_MT_strip")
CLASSES = (FoleyPreferences, SEQUENCER_OT_foley_generate)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    for menu in MENUS:
        getattr(bpy.types, menu).append(draw_menu_entry)


def unregister() -> None:
    for menu in MENUS:
        getattr(bpy.types, menu).remove(draw_menu_entry)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
