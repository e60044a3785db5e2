"""The `resolve` object: given by Resolve to menu scripts, or reached from a terminal through DaVinciResolveScript.

The terminal route follows Resolve's Developer/Scripting/README.txt: the module lives in
$RESOLVE_SCRIPT_API/Modules (or the standard install folder) and finds Resolve's fusionscript library through
$RESOLVE_SCRIPT_LIB (or the standard install path); `scriptapp("Resolve")` is None when Resolve is not running.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any, Mapping, Optional, Tuple

from . import FoleyScriptError

#: Resolve 18.5 added `resolve.EXPORT_OTIO` (and OTIO import), which this script is built on.
MINIMUM_VERSION = (18, 5)

#: Where Resolve installs Developer/Scripting, per `sys.platform` prefix.
STANDARD_API_DIRS = {
    "darwin": ("/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting",),
    "win": (r"%PROGRAMDATA%\Blackmagic Design\DaVinci Resolve\Support\Developer\Scripting",),
    "linux": ("/opt/resolve/Developer/Scripting", "/home/resolve/Developer/Scripting"),
}
STANDARD_LIBS = {
    "darwin": "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so",
    "win": r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll",
    "linux": "/opt/resolve/libs/Fusion/fusionscript.so",
}
NOT_RUNNING = ("DaVinci Resolve is not running, or it does not accept scripts from outside: start Resolve and set "
               "Preferences › System › General › External scripting using: Local")


def _platform_key(platform: str) -> str:
    return next((key for key in STANDARD_API_DIRS if platform.startswith(key)), "linux")


def api_dirs(env: Mapping[str, str], platform: str) -> list:
    """Developer/Scripting folders to look in: $RESOLVE_SCRIPT_API first, then the standard install's."""
    dirs = [env["RESOLVE_SCRIPT_API"]] if env.get("RESOLVE_SCRIPT_API") else []
    for folder in STANDARD_API_DIRS[_platform_key(platform)]:
        dirs.append(folder.replace("%PROGRAMDATA%", env.get("PROGRAMDATA", r"C:\ProgramData")))
    return dirs


def import_scripting_module(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> ModuleType:
    """DaVinciResolveScript, from sys.path or the folders Resolve's README names."""
    lib = STANDARD_LIBS[_platform_key(platform)]
    tried, where = [], "DaVinciResolveScript"
    try:
        return importlib.import_module("DaVinciResolveScript")
    except ImportError as error:  # not there, or there but unable to load Resolve's library
        failure: Optional[ImportError] = None if error.name == "DaVinciResolveScript" else error
    for folder in [] if failure else api_dirs(env, platform):
        modules = os.path.join(folder, "Modules")
        tried.append(modules)
        if not os.path.isfile(os.path.join(modules, "DaVinciResolveScript.py")):
            continue
        sys.path.append(modules)
        if not env.get("RESOLVE_SCRIPT_LIB") and os.path.isfile(lib):
            os.environ["RESOLVE_SCRIPT_LIB"] = lib  # the module reads it from the process environment
        try:
            return importlib.import_module("DaVinciResolveScript")
        except ImportError as error:
            failure, where = error, f"DaVinciResolveScript in {modules}"
            break
    if failure is not None:
        raise FoleyScriptError(f"{where} cannot load Resolve's fusionscript library ({failure}); set "
                               f"RESOLVE_SCRIPT_LIB to it, e.g. {lib}")
    raise FoleyScriptError("cannot find DaVinciResolveScript (looked in " + ", ".join(tried) + "); install "
                           "DaVinci Resolve, or set RESOLVE_SCRIPT_API and RESOLVE_SCRIPT_LIB as Resolve's "
                           "Developer/Scripting/README.txt shows")


def connect(resolve: Any = None, env: Mapping[str, str] = os.environ,
            platform: str = sys.platform) -> Tuple[Any, Optional[ModuleType]]:
    """Resolve and the `bmd` module for dialogs: the given object inside Resolve, else through the scripting module."""
    if resolve is not None:
        return resolve, None
    module = import_scripting_module(env, platform)
    resolve = module.scriptapp("Resolve")
    if resolve is None:
        raise FoleyScriptError(NOT_RUNNING)
    return resolve, module


def check_version(resolve: Any) -> None:
    """Refuse Resolve before 18.5: it cannot export OTIO, so there is no timeline to hand to the engine.

    Resolve's objects answer unknown attributes with None rather than raising, hence getattr's default; its
    version, [major, minor, ...] from GetVersion(), may be empty.
    """
    found = [field for field in resolve.GetVersion() or [] if isinstance(field, int)]
    if getattr(resolve, "EXPORT_OTIO", None) is None or (found and tuple(found[:2]) < MINIMUM_VERSION):
        shown = resolve.GetVersionString() or "this version"
        raise FoleyScriptError(f"Generate Foley needs DaVinci Resolve 18.5 or later (OTIO export); "
                               f"{shown} cannot export OTIO")
