"""What Secrets Manager's CloudTrail events record, as data (see
`strongroom.framework.trail`).

As AWS records them: requestParameters name the secret and what the call
asked for, never SecretString, SecretBinary or RotationToken (sensitive in
the model, so they could not be declared); GetSecretValue and
BatchGetSecretValue are read-only and record no responseElements (AWS
writes null there), and neither does GetRandomPassword, whose password is
never recorded. The write operations record their response (ARN, name,
version id) as the default does.
"""

from __future__ import annotations

from typing import Any

from strongroom.services.secretsmanager.service import service

_VALUE_REQUEST = ["secretId", "clientRequestToken", "versionStages"]

TRAIL: dict[str, dict[str, Any]] = {
    "CreateSecret": {
        "request": [
            "name",
            "clientRequestToken",
            "description",
            "kmsKeyId",
            "tags",
            "addReplicaRegions",
            "forceOverwriteReplicaSecret",
        ],
    },
    "PutSecretValue": {"request": _VALUE_REQUEST},
    "UpdateSecret": {"request": ["secretId", "clientRequestToken", "description", "kmsKeyId"]},
    "GetSecretValue": {"request": ["secretId", "versionId", "versionStage"]},
    "BatchGetSecretValue": {"request": ["secretIdList", "filters", "maxResults"]},
    "GetRandomPassword": {
        "request": [
            "passwordLength",
            "excludeCharacters",
            "excludeNumbers",
            "excludePunctuation",
            "excludeUppercase",
            "excludeLowercase",
            "includeSpace",
            "requireEachIncludedType",
        ],
    },
}

service.trail.update(TRAIL)
