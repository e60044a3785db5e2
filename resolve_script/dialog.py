"""The small dialog, with Resolve's UIManager (Fusion's UI toolkit): which clips, which instrument, the mix or a
track per performer; and messages.

UIManager comes from `resolve.Fusion().UIManager` and `bmd.UIDispatcher`; where either is missing (some Resolve
versions give external scripts no UI) the caller falls back to command-line flags and the console.
"""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Tuple

from .selection import Scope

SCOPE_LABELS = (("playhead", "Clip under the playhead"), ("track", "All clips on a video track"),
                ("color", "Clips with a clip colour"))


class Answer(NamedTuple):
    """What the user chose: which clips, which instrument, and whether each performer gets a track (stems)."""

    scope: Scope
    instrument: str
    stems: bool = False


def ui_manager(resolve: Any, bmd: Any) -> Optional[Tuple[Any, Any]]:
    """(ui, dispatcher), or None when this Resolve gives the script no UIManager."""
    fusion = resolve.Fusion() if callable(getattr(resolve, "Fusion", None)) else None
    ui = getattr(fusion, "UIManager", None) if fusion is not None else None
    dispatcher_class = getattr(bmd, "UIDispatcher", None) if bmd is not None else None
    if ui is None or not callable(dispatcher_class):
        return None
    return ui, dispatcher_class(ui)


def _row(ui: Any, label: str, widget: Any) -> Any:
    return ui.HGroup([ui.Label({"Text": label, "Weight": 0.3}), widget])


def ask(ui: Any, dispatcher: Any, tracks: List[str], colors: List[str], instruments: List[str],
        instrument: str, stems: bool = False) -> Optional[Answer]:
    """Show the dialog until Generate or Cancel; None when cancelled. "Per performer" starts as `stems` (off:
    one Foley track with the mix, the simpler timeline)."""
    window = dispatcher.AddWindow(
        {"ID": "FoleyDialog", "WindowTitle": "Generate Foley", "Geometry": [200, 200, 460, 215]},
        ui.VGroup({"Spacing": 6}, [
            _row(ui, "Clips", ui.ComboBox({"ID": "Scope", "Weight": 0.7})),
            _row(ui, "Video track", ui.ComboBox({"ID": "Track", "Weight": 0.7})),
            _row(ui, "Clip colour", ui.ComboBox({"ID": "Color", "Weight": 0.7})),
            _row(ui, "Instrument", ui.ComboBox({"ID": "Instrument", "Weight": 0.7})),
            _row(ui, "Tracks", ui.CheckBox({"ID": "Stems", "Text": "Per performer (one audio track each)",
                                            "Checked": stems, "Weight": 0.7})),
            ui.HGroup([ui.Button({"ID": "Cancel", "Text": "Cancel"}),
                       ui.Button({"ID": "Generate", "Text": "Generate"})]),
        ]))
    items = window.GetItems()
    items["Scope"].AddItems([label for _, label in SCOPE_LABELS])
    items["Track"].AddItems(tracks)
    items["Color"].AddItems(colors)
    items["Instrument"].AddItems(instruments)
    if instrument in instruments:
        items["Instrument"].CurrentIndex = instruments.index(instrument)
    answer: List[Answer] = []

    def generate(event: Any) -> None:
        kind = SCOPE_LABELS[int(items["Scope"].CurrentIndex)][0]
        answer.append(Answer(Scope(kind, int(items["Track"].CurrentIndex) + 1, str(items["Color"].CurrentText)),
                             str(items["Instrument"].CurrentText), bool(items["Stems"].Checked)))
        dispatcher.ExitLoop()

    window.On.Generate.Clicked = generate
    _show_until_closed(dispatcher, window, window.On.Cancel, window.On.FoleyDialog)
    return answer[0] if answer else None


def message(ui: Any, dispatcher: Any, text: str) -> None:
    """A message with an OK button: how the run ended, or why it stopped."""
    window = dispatcher.AddWindow(
        {"ID": "FoleyMessage", "WindowTitle": "Generate Foley", "Geometry": [220, 220, 520, 160]},
        ui.VGroup([ui.Label({"ID": "Text", "Text": text, "WordWrap": True}), ui.Button({"ID": "OK", "Text": "OK"})]))
    _show_until_closed(dispatcher, window, window.On.OK, window.On.FoleyMessage)


def _show_until_closed(dispatcher: Any, window: Any, button: Any, window_slot: Any) -> None:
    """Show `window` until a handler ends the loop: here `button` clicked or the window closed (its slot)."""

    def close(event: Any) -> None:
        dispatcher.ExitLoop()

    button.Clicked = close
    window_slot.Close = close
    window.Show()
    dispatcher.RunLoop()
    window.Hide()
