"""The one place that knows which Blender this is: 4.2 LTS through 5.x.

Blender 4.4 renamed the VSE collections (`sequences` -> `strips`, `selected_sequences` -> `selected_strips`)
and 5.0 removed the old names; 5.0 also edits a `sequencer_scene` that may differ from the active scene; and
later 5.x releases replace `frame_final_*`/`frame_start`/`frame_duration` (deprecated, removed in 6.0) by handles and
`content_*`. Everything else in the add-on calls these functions, so a rename is a change here only.
"""

from __future__ import annotations

from typing import Any

import bpy

_EDITOR_PROPS = bpy.types.SequenceEditor.bl_rna.properties
#: (top-level collection, every strip incl. inside metas, context selection) for this Blender.
_STRIPS, _STRIPS_ALL, _SELECTED = (("strips", "strips_all", "selected_strips") if "strips" in _EDITOR_PROPS
                                   else ("sequences", "sequences_all", "selected_sequences"))
_STRIP_PROPS = (getattr(bpy.types, "Strip", None) or bpy.types.Sequence).bl_rna.properties
#: (first visible frame, frame after the last, where the media starts, its length) for this Blender: later 5.x
#: (5.3 has them, 5.0 not) name the visible range by its handles and the media by `content_*`.
_LEFT, _RIGHT, _CONTENT_START, _CONTENT_LENGTH = (
    ("left_handle", "right_handle", "content_start", "content_duration") if "left_handle" in _STRIP_PROPS
    else ("frame_final_start", "frame_final_end", "frame_start", "frame_duration"))


def sequencer_scene(context: Any) -> Any:
    """The scene the sequencer edits: `sequencer_scene` since 5.0, else the active scene."""
    return getattr(context, "sequencer_scene", None) or context.scene


def strips(scene: Any) -> Any:
    """The top-level strip collection (has `new_movie`, `new_sound`, `remove`)."""
    return getattr(scene.sequence_editor_create(), _STRIPS)


def all_strips(scene: Any) -> list[Any]:
    """Every strip, inside meta strips too; none for a scene without a sequencer (or no scene)."""
    editor = scene.sequence_editor if scene is not None else None
    return list(getattr(editor, _STRIPS_ALL)) if editor is not None else []


def selected_strips(context: Any) -> list[Any]:
    """The context's selection; without a sequencer in the context (scripts), the scene's selected strips."""
    selected = getattr(context, _SELECTED, None)
    if selected is None:
        return [strip for strip in all_strips(sequencer_scene(context)) if strip.select]
    return list(selected)


def visible_range(strip: Any) -> tuple[int, int]:
    """First visible frame and the frame after the last: what the editor shows between the handles."""
    return int(getattr(strip, _LEFT)), int(getattr(strip, _RIGHT))


def set_visible_range(strip: Any, start: int, end: int) -> None:
    """Trim a strip to [start, end) without moving its content."""
    setattr(strip, _LEFT, start)
    setattr(strip, _RIGHT, end)


def content_start(strip: Any) -> float:
    """Timeline frame where the strip's media (its first frame or sample) sits, trims ignored."""
    return float(getattr(strip, _CONTENT_START))


def set_content_start(strip: Any, frame: float) -> None:
    """Slide the media under the strip (its handles move along, as when dragging the strip)."""
    setattr(strip, _CONTENT_START, frame)


def content_length(strip: Any) -> int:
    """The untrimmed content's length in scene frames (playback-rate and speed changes included)."""
    return int(getattr(strip, _CONTENT_LENGTH))


def scene_rate(scene: Any) -> float:
    """Frames per second exactly as Blender plays them: `fps / fps_base` (29.97 is 30000/1001)."""
    return scene.render.fps / scene.render.fps_base
