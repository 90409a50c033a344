"""Test helpers: `StrongroomServer` and the pytest plugin (`strongroom.testing.plugin`)."""

from strongroom.testing.server import StrongroomServer, free_port

__all__ = ["StrongroomServer", "free_port"]
