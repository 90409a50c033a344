"""The Secrets Manager `Service` object every module registers on, and its errors."""

from __future__ import annotations

from strongroom.framework import Service, paging
from strongroom.framework.errorspec import ErrorSpec
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

#: Secrets Manager pages with NextToken/MaxResults; a token not handed out
#: for the listing it is used on is InvalidNextTokenException.
PAGING = paging.Paging(
    paging.NEXT_TOKEN, ErrorSpec("InvalidNextTokenException", "The NextToken value is invalid.")
)
