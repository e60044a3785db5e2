#!/usr/bin/env bash
# Blender as a Python module (PyPI `bpy`, ~1 GB) in its own venv, for the Blender extension's tests.
# Its own venv because the add-on must work without the engine's packages (torch, MediaPipe, opentimelineio
# come from nowhere but the extension's bundled wheel there), and because bpy is imported once per process.
# Where bpy cannot be installed (no wheel for this platform or Python), writes the reason to
# $VENV/UNAVAILABLE and exits 0: the Blender tests then skip with that reason instead of failing the build.
# Under CI=true it exits 1 instead: CI must run the Blender tests, never skip them.
set -euo pipefail
VENV=${1:-.venv-blender}
BPY_VERSION=${BPY_VERSION:-5.0.1}   # the Blender 5.0 module; its wheels are for CPython 3.11
PYTHON=${BPY_PYTHON:-python3.11}
rm -f "$VENV/UNAVAILABLE"
unavailable() {
    mkdir -p "$VENV"; echo "$1" > "$VENV/UNAVAILABLE"; echo "blender-venv: $1" >&2
    ci=${CI:-}; if [ "${ci,,}" = true ]; then echo "blender-venv: CI=true requires the Blender tests" >&2; exit 1; fi
    exit 0
}
command -v "$PYTHON" >/dev/null || unavailable "bpy $BPY_VERSION needs $PYTHON, which is not installed"
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "bpy==$BPY_VERSION" 2> "$VENV/pip.log"; then
    unavailable "pip cannot install bpy==$BPY_VERSION here ($(uname -sm), $("$PYTHON" --version)): $(grep -m1 ERROR "$VENV/pip.log" || tail -1 "$VENV/pip.log")"
fi
# Headless Linux set-ups lack the X/GL libraries bpy links against; say which, with the install command.
if ! err=$("$VENV/bin/python" -c 'import bpy' 2>&1 >/dev/null); then
    unavailable "bpy==$BPY_VERSION does not import: $(echo "$err" | tail -1) (Debian/Ubuntu: apt-get install libxrender1 libxxf86vm1 libxfixes3 libxi6 libxkbcommon0 libsm6 libgl1 libegl1)"
fi
touch "$VENV/.installed"
