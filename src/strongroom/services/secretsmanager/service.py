"""The Secrets Manager `Service` object every module registers on, and its errors."""

from __future__ import annotations

from strongroom.framework import Service
from strongroom.services.secretsmanager.tables import TABLES

service = Service(
    "secretsmanager",
    tables=TABLES,
    read_only=frozenset({"BatchGetSecretValue", "ValidateResourcePolicy"}),
)
errors = service.errors

#: ResourceNotFoundException's words for a secret that is not there.
NOT_FOUND = "Secrets Manager can't find the specified secret."
#: InvalidRequestException's words for a secret scheduled for deletion.
MARKED_FOR_DELETION = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
