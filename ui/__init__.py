"""The Foley panel: a Qt front end over `foley_engine` for people who would rather look and listen than read JSON.

It is a thin adapter over the engine's public API (`import foley_engine`, nothing behind it; a test checks):
every result comes from `generate` (run in a worker thread), a timeline's clips from `timeline_clips`, and an
export from `write_take` / `place_take`; the panel only shows, plays, and exports what the engine made. The
session model (session.py) holds what is open and the takes without Qt; window.py is the widgets around it.
"""
