"""The Foley panel: a Qt front end over `foley_engine` for people who would rather look and listen than read JSON.

It is a thin adapter: every result comes from `foley_engine.pipeline.generate` (run in a worker thread) and
the timeline stage; the panel only shows, plays, and exports what the engine made.
"""
