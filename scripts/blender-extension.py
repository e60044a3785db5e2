#!/usr/bin/env python3
"""Build the Blender extension zip from blender_addon/: what `blender --command extension build` makes.

The manifest is the single source of truth: it is validated like Blender validates it, every wheel it lists
is downloaded from PyPI by its exact file name (name, version, Python and platform tags come from that name),
and the zip holds the manifest, the add-on's modules and wheels/ at its root. Runs with any Python >= 3.11
that has pip; no Blender needed.

    python scripts/blender-extension.py [--out dist] [--wheel-cache build/blender-wheels]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "blender_addon"
MANIFEST = "blender_manifest.toml"
REQUIRED = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type", "blender_version_min",
            "license")
PERMISSIONS = ("files", "network", "clipboard", "camera", "microphone")
TERSE_LIMIT = 64  # Blender's limit for a tagline and a permission's reason
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?"
                   r"-cp(?P<py>\d)(?P<minor>\d+)-[^-]+-(?P<platform>[^-]+)\.whl$")


def _terse(value: object, what: str) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"{what} must be a non-empty string"]
    errors = [f"{what} is {len(value)} characters, at most {TERSE_LIMIT}"] if len(value) > TERSE_LIMIT else []
    if not (value[-1].isalnum() or value[-1] in ")]}"):
        errors.append(f"{what} must not end with punctuation: {value!r}")
    return errors


def validate(manifest: dict) -> list[str]:
    """Blender's rules for the fields this extension uses; an empty list means valid."""
    errors = [f"missing required field {key!r}" for key in REQUIRED if key not in manifest]
    if errors:
        return errors
    if not IDENTIFIER.match(manifest["id"]):
        errors.append(f"id must be a Python identifier, got {manifest['id']!r}")
    for key in ("schema_version", "version", "blender_version_min"):
        if not VERSION.match(str(manifest[key])):
            errors.append(f"{key} must look like 1.2.3, got {manifest[key]!r}")
    if manifest["type"] != "add-on":
        errors.append(f"type must be 'add-on', got {manifest['type']!r}")
    if not re.match(r"^.+ <[^<>@\s]+@[^<>\s]+>$", manifest["maintainer"]):
        errors.append(f"maintainer must be 'Name <email>', got {manifest['maintainer']!r}")
    errors += _terse(manifest["tagline"], "tagline")
    licenses = manifest["license"]
    if not isinstance(licenses, list) or not licenses or not all(str(item).startswith("SPDX:") for item in licenses):
        errors.append(f"license must be a list of 'SPDX:…' identifiers, got {licenses!r}")
    permissions = manifest.get("permissions", {})
    if not isinstance(permissions, dict):
        errors.append("permissions must be a table of reasons, e.g. files = \"Read movies\"")
    else:
        for key, reason in permissions.items():
            if key not in PERMISSIONS:
                errors.append(f"unknown permission {key!r} (known: {', '.join(PERMISSIONS)})")
            errors += _terse(reason, f"permissions.{key}")
    if "files" not in permissions:
        errors.append("permissions.files is required: the add-on reads movies and writes audio")
    for wheel in manifest.get("wheels", []):
        if not wheel.startswith("./wheels/") or not WHEEL.match(wheel.removeprefix("./wheels/")):
            errors.append(f"wheels entries must be ./wheels/<name>-<version>-cpXY-<abi>-<platform>.whl: {wheel!r}")
    return errors


def download_wheels(wheels: list[str], cache: Path) -> list[Path]:
    """Each listed wheel, fetched from PyPI by pip for exactly its Python version and platform."""
    cache.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("pip") is None:
        raise SystemExit(f"blender-extension: {sys.executable} has no pip to download the wheels "
                         "(python3 -m ensurepip, or apt-get install python3-pip)")
    found = []
    for entry in wheels:
        filename = entry.removeprefix("./wheels/")
        target = cache / filename
        if not target.is_file():
            tags = WHEEL.match(filename)
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                            "--only-binary=:all:", "--no-deps", "--dest", str(cache),
                            "--python-version", f"{tags['py']}.{tags['minor']}",
                            "--platform", tags["platform"].split(".")[0],
                            f"{tags['name']}=={tags['version']}"], check=True)
        if not target.is_file():
            raise SystemExit(f"blender-extension: pip did not download {filename}; is the name in "
                             f"{MANIFEST} exactly PyPI's?")
        found.append(target)
    return found


def build(out_dir: Path, cache: Path) -> Path:
    manifest = tomllib.loads((SOURCE / MANIFEST).read_text())
    errors = validate(manifest)
    if errors:
        raise SystemExit("blender-extension: invalid manifest:\n  " + "\n  ".join(errors))
    wheels = download_wheels(manifest.get("wheels", []), cache)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    partial = target.with_name(f".{target.name}.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(SOURCE / MANIFEST, MANIFEST)
        for module in sorted(SOURCE.glob("*.py")):
            archive.write(module, module.name)
        for wheel in wheels:
            archive.write(wheel, f"wheels/{wheel.name}", compress_type=zipfile.ZIP_STORED)
    partial.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="where the zip goes (default: dist/)")
    parser.add_argument("--wheel-cache", type=Path, default=REPO / "build" / "blender-wheels",
                        help="downloaded wheels, reused by later builds (default: build/blender-wheels)")
    args = parser.parse_args()
    print(build(args.out, args.wheel_cache))


if __name__ == "__main__":
    main()
