"""The panel tests' guard: Qt offscreen, and PySide6 + pytest-qt present (skip without them, but never in CI)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports PySide6


def require_qt() -> None:
    """Call at the top of a panel test module, before importing PySide6 or ui.

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
