"""STS: who am I, and temporary credentials."""

from strongroom.services.sts.operations import service

__all__ = ["service"]
