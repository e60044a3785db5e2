"""DaVinci Resolve adapter: Workspace › Scripts › Generate Foley puts aligned foley on a "Foley" audio track.

It runs inside Resolve's own Python 3 (3.8 or later) or a terminal's, so it uses the standard library only:
no OpenTimelineIO, no engine imports. Resolve exports the timeline as OTIO, the engine (`foley timeline`, in
the user's engine environment) renders the WAVs and hands back plain JSON, and this package lays the WAVs
on the timeline through Resolve's scripting API.
"""


class FoleyScriptError(Exception):
    """A failure the user can act on; its message is shown to them as it is."""
