"""Workspace › Scripts › Generate Foley (Edit page): foley for the chosen clips, on an aligned "Foley" audio track.

`foley install-resolve-script` copies this file into Resolve's Fusion/Scripts/Edit folder and fills in the two
paths below. Resolve runs it with its own Python 3 and gives it `resolve`; from a terminal, while Resolve runs,
it connects through DaVinciResolveScript and takes flags (see --help). Kept to old syntax on purpose, so that
any Python gets as far as saying which one it needs.
"""
import os
import sys

PACKAGE_DIR = None  # the folder that holds resolve_script/, written by the installer
ENGINE = None  # the engine environment's `foley` command, written by the installer


def _run(resolve, bmd):
    if sys.version_info < (3, 8):
        sys.stderr.write("Generate Foley needs Python 3.8 or later; Resolve uses Python %d.%d\n" % sys.version_info[:2])
        return 1
    folder = PACKAGE_DIR or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # else run from a checkout
    sys.path.insert(0, folder)
    try:
        from resolve_script.app import main
    except ImportError as error:
        sys.stderr.write("Generate Foley: error: cannot load resolve_script from %s (%s); run "
                         "`foley install-resolve-script` again from the engine's environment\n" % (folder, error))
        return 1
    finally:
        sys.path.remove(folder)
    argv = [] if resolve is not None else sys.argv[1:]
    return main(argv, resolve=resolve, bmd=bmd, engine=ENGINE)


if "resolve" in globals():  # run by Resolve from Workspace › Scripts, which defines `resolve` and `bmd`
    _run(globals()["resolve"], globals().get("bmd"))
elif __name__ == "__main__":
    sys.exit(_run(None, None))
