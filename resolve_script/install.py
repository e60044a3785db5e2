"""`foley install-resolve-script`: put `Generate Foley.py` into Resolve's Fusion/Scripts/Edit folder.

The copy gets two paths written into it: where this `resolve_script` package is (Resolve's own Python adds it
to sys.path just to import it) and this environment's `foley` command (the engine the script runs). Resolve
lists scripts it finds at start-up, under Workspace › Scripts on the Edit page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Mapping, Optional

SCRIPT_NAME = "Generate Foley.py"
PLATFORMS = ("linux", "macos", "windows")
SUPPORT = "Blackmagic Design/DaVinci Resolve"
MENU_PATH = "Workspace › Scripts › Generate Foley (on the Edit page)"


def current_platform() -> str:
    if sys.platform.startswith("darwin"):
        return "macos"
    return "windows" if sys.platform.startswith(("win", "cygwin")) else "linux"


def scripts_dir(platform: str, all_users: bool, env: Mapping[str, str] = os.environ,
                home: Optional[str] = None) -> PurePath:
    """Fusion/Scripts/Edit under Resolve's support folder, as Resolve's scripting README gives them.

    For another system than this one, `home` and the Windows variables stay symbolic (~, %APPDATA%).
    """
    native = platform == current_platform()
    home = home or (str(Path.home()) if native else "~")
    if platform == "macos":
        base = PurePosixPath("/" if all_users else home, "Library/Application Support", SUPPORT)
        return base / "Fusion/Scripts/Edit"
    if platform == "windows":
        variable = "PROGRAMDATA" if all_users else "APPDATA"
        root = PureWindowsPath(env.get(variable, f"%{variable}%") if native else f"%{variable}%", *SUPPORT.split("/"))
        return root / ("Fusion" if all_users else "Support/Fusion") / "Scripts" / "Edit"
    if all_users:  # the standard ISO install lives in /home/resolve instead of /opt/resolve
        install = "/home/resolve" if native and not os.path.isdir("/opt/resolve") and os.path.isdir("/home/resolve") \
            else "/opt/resolve"
        return PurePosixPath(install, "Fusion/Scripts/Edit")
    return PurePosixPath(home, ".local/share/DaVinciResolve/Fusion/Scripts/Edit")


def default_engine() -> Optional[str]:
    """The `foley` command of the environment running this installer: the engine the script should use."""
    beside = Path(sys.executable).with_name("foley.exe" if os.name == "nt" else "foley")
    return str(beside) if beside.is_file() else shutil.which("foley")


def launcher(package_dir: str, engine: Optional[str]) -> str:
    """`Generate Foley.py` with the package folder and engine written in."""
    text = Path(__file__).with_name(SCRIPT_NAME).read_text(encoding="utf-8")
    for name, value in (("PACKAGE_DIR", package_dir), ("ENGINE", engine)):
        line = f"{name} = None  #"
        if text.count(line) != 1:
            raise RuntimeError(f"{SCRIPT_NAME} has no single `{line}` line to fill in")
        text = text.replace(line, f"{name} = {value!r}  #")
    return text


def run_install_command(args: argparse.Namespace) -> int:
    from foley_engine.errors import InputError, OutputError  # the engine's command: its environment runs it
    from foley_engine.outputs import atomic_path

    target = scripts_dir(args.platform, args.all_users) / SCRIPT_NAME
    package_dir = str(Path(__file__).resolve().parent.parent)
    engine = default_engine()
    who = "all users" if args.all_users else "this user"
    if args.dry_run:
        print(f"would install {SCRIPT_NAME} for {who} on {args.platform} to:\n  {target}")
    elif args.platform != current_platform():
        raise InputError(f"--platform {args.platform} is not this system ({current_platform()}); "
                         "add --dry-run to see where it would go")
    else:
        final = Path(target)  # this system's
        try:  # through a temporary file in the same folder, so Resolve never lists half a script
            final.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(final) as staged:
                staged.write_text(launcher(package_dir, engine), encoding="utf-8")
        except OSError as error:
            hint = " (all users needs administrator rights)" if args.all_users else ""
            raise OutputError(f"cannot write {target}: {error.strerror or error}{hint}") from None
        print(f"installed {SCRIPT_NAME} for {who} to:\n  {target}")
        print(f"restart DaVinci Resolve, then: {MENU_PATH}")
    print(f"it loads resolve_script from {package_dir}")
    print(f"it runs the engine {engine}" if engine else
          "no `foley` command found here: set FOLEY_ENGINE for Resolve, or put `foley` on its PATH")
    return 0


def add_install_command(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(
        "install-resolve-script", help="add Generate Foley to DaVinci Resolve's Workspace › Scripts menu",
        description=f"Copy {SCRIPT_NAME} into Resolve's Fusion/Scripts/Edit folder (per user unless --all-users) "
                    f"and print where it went. In Resolve: {MENU_PATH}.")
    cmd.add_argument("--dry-run", action="store_true", help="print where it would go; write nothing")
    cmd.add_argument("--all-users", action="store_true", help="the folder for all users (administrator rights)")
    cmd.add_argument("--platform", choices=PLATFORMS, default=current_platform(),
                     help="whose folder to show (default: this system's; others only with --dry-run)")
    cmd.set_defaults(handler=run_install_command)
