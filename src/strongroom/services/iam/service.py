"""The IAM `Service` object every IAM operation module registers on."""

from __future__ import annotations

from strongroom.services.base import Service

service = Service("iam")
