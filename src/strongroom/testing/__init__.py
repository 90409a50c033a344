"""Test helpers: `StrongroomServer` and the pytest plugin (`strongroom.testing.plugin`)."""

from strongroom.testing.server import StrongroomServer, add_account, free_port

__all__ = ["StrongroomServer", "add_account", "free_port"]
