"""Foley for Blender's Video Sequence Editor: right-click movie strips > Generate Foley > aligned sound strips.

The engine (torch, MediaPipe) runs as the `foley timeline` command in its own environment; this add-on only
writes the selection as an OpenTimelineIO timeline, follows the engine's progress and places what comes back.
Modules are imported on register, so the bpy-free ones (timeline_io, engine) load outside Blender too.
"""


def register() -> None:
    from . import operators

    operators.register()


def unregister() -> None:
    from . import operators

    operators.unregister()
