"""Fakes of DaVinci Resolve's scripting API (resolve.py), Fusion's UIManager (ui.py) and DaVinciResolveScript."""
