"""The panel tests' guard, imported first: Qt offscreen, and PySide6 + pytest-qt present (skip without them, but
never in CI)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports PySide6


def require_qt() -> None:
    """Run when a panel test module imports this one (`import qt`, before PySide6 or ui).

    Without the [ui] extra the module is skipped with the install hint; with CI=true the ImportError is
    raised instead, so a CI image that lost PySide6 fails rather than silently skipping the panel tests.
    """
    try:
        import PySide6.QtWidgets  # noqa: F401
        import pytestqt  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip("the panel needs pip install 'foley[ui]' (PySide6, pytest-qt)", allow_module_level=True)


require_qt()  # on import: a panel test module imports `qt` before PySide6 and ui, and is skipped without them
