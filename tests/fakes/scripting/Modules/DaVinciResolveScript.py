"""Stand-in for Resolve's Developer/Scripting/Modules/DaVinciResolveScript.py on a machine with no Resolve running.

Like the real module it needs Resolve's fusionscript library ($RESOLVE_SCRIPT_LIB), and raises ImportError
"Could not locate module dependencies" without it; its scriptapp("Resolve") is None when Resolve is not running,
which is always the case here.
"""
import os

if not os.path.isfile(os.environ.get("RESOLVE_SCRIPT_LIB", "")):
    raise ImportError("Could not locate module dependencies")


def scriptapp(name):
    return None
