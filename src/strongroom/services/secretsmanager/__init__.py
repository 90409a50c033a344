"""Secrets Manager: secrets, their versions and staging labels, envelope
encryption through KMS, resource policies and replication."""

from strongroom.services.secretsmanager import (  # noqa: F401  (operations and trail register on import)
    ops_policy,
    ops_replication,
    ops_secrets,
    ops_values,
    trail,
)
from strongroom.services.secretsmanager.service import service

__all__ = ["service"]
