"""A fake of Fusion's UIManager as Resolve scripts use it: widgets built from property dicts, windows from
`bmd.UIDispatcher(ui).AddWindow(props, layout)`, handlers set as `window.On.<ID>.<Event> = fn`, and
`RunLoop()` returning once a handler calls `ExitLoop()`.

There is no screen: each window shown runs the next "user" step (a function of the window) inside RunLoop,
which clicks buttons and picks combo box entries the way a person would. A loop nobody ends fails the test
instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Widget:
    def __init__(self, kind: str, props: dict | None = None, children: list | None = None):
        self.kind, self.children = kind, list(children or [])
        for key, value in (props or {}).items():
            setattr(self, key, value)
        self.ID = (props or {}).get("ID")
        self.entries: list[str] = []
        if kind == "ComboBox":
            self.CurrentIndex = -1

    def AddItem(self, text: str) -> None:
        self.entries.append(str(text))
        if self.CurrentIndex < 0:
            self.CurrentIndex = 0

    def AddItems(self, texts: list) -> None:
        for text in texts:
            self.AddItem(text)

    @property
    def CurrentText(self) -> str:
        return self.entries[self.CurrentIndex] if 0 <= self.CurrentIndex < len(self.entries) else ""

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def _group(kind: str, args: tuple) -> Widget:
    props, children = (args[0], args[1]) if len(args) == 2 else ({}, args[0])
    assert isinstance(children, list) and all(isinstance(child, Widget) for child in children), children
    return Widget(kind, props, children)


class UIManager:
    def VGroup(self, *args: Any) -> Widget:
        return _group("VGroup", args)

    def HGroup(self, *args: Any) -> Widget:
        return _group("HGroup", args)

    def Label(self, props: dict) -> Widget:
        return Widget("Label", props)

    def Button(self, props: dict) -> Widget:
        return Widget("Button", props)

    def ComboBox(self, props: dict) -> Widget:
        return Widget("ComboBox", props)

    def CheckBox(self, props: dict) -> Widget:
        return Widget("CheckBox", {"Checked": False} | props)


class _Events:
    def __init__(self):
        object.__setattr__(self, "handlers", {})

    def __getattr__(self, widget_id: str) -> _Events:
        events = self

        class Slot:
            def __setattr__(self, event: str, handler: Callable) -> None:
                events.handlers[(widget_id, event)] = handler

        return Slot()


class Window:
    def __init__(self, props: dict, layout: Widget):
        self.props, self.layout, self.On, self.visible = props, layout, _Events(), False
        self.ID = props["ID"]

    def GetItems(self) -> dict:
        return {widget.ID: widget for widget in self.layout.walk() if widget.ID}

    def Show(self) -> None:
        self.visible = True

    def Hide(self) -> None:
        self.visible = False

    # --- what the user does ---
    def text(self) -> str:
        return "\n".join(str(getattr(widget, "Text", "")) for widget in self.layout.walk() if widget.kind == "Label")

    def pick(self, widget_id: str, entry: str) -> None:
        combo = self.GetItems()[widget_id]
        combo.CurrentIndex = combo.entries.index(entry)

    def tick(self, widget_id: str, checked: bool = True) -> None:
        box = self.GetItems()[widget_id]
        assert box.kind == "CheckBox", box.kind
        box.Checked = checked

    def click(self, widget_id: str) -> None:
        self.On.handlers[(widget_id, "Clicked")]({"who": widget_id, "what": "Clicked"})

    def close(self) -> None:
        self.On.handlers[(self.ID, "Close")]({"who": self.ID, "what": "Close"})


class Dispatcher:
    def __init__(self, ui: UIManager, user: list[Callable[[Window], None]], shown: list[Window]):
        self.ui, self.user, self.shown, self.window, self.running = ui, user, shown, None, False

    def AddWindow(self, props: dict, layout: Widget) -> Window:
        self.window = Window(props, layout)
        return self.window

    def RunLoop(self) -> None:
        assert self.window is not None and self.window.visible, "RunLoop without a visible window"
        assert self.user, f"the script showed a window nobody answers: {self.window.text()}"
        self.shown.append(self.window)
        self.running = True
        self.user.pop(0)(self.window)
        assert not self.running, f"the window {self.window.ID} never ended its loop"

    def ExitLoop(self) -> None:
        self.running = False


class Bmd:
    """The `bmd` module's UIDispatcher, answering windows with `user` steps; `shown` records every window."""

    def __init__(self, *user: Callable[[Window], None]):
        self.user, self.shown = list(user), []

    def UIDispatcher(self, ui: UIManager) -> Dispatcher:
        return Dispatcher(ui, self.user, self.shown)
