"""STS: who am I, and temporary credentials."""

from strongroom.services.sts import trail  # noqa: F401  (registers on import)
from strongroom.services.sts.operations import service

__all__ = ["service"]
