"""What STS's CloudTrail events record of each response, as data (see
`strongroom.framework.trail` for the form).

As AWS's STS CloudTrail pages show: the new credentials' access key id and
expiration, and who the session is; never the secret access key or the
session token. Requests record their redacted members (the default).
"""

from __future__ import annotations

from typing import Any

from strongroom.services.sts.operations import service

_CREDENTIALS = ["credentials.accessKeyId", "credentials.expiration"]
_ASSUMED_ROLE = [*_CREDENTIALS, "assumedRoleUser.assumedRoleId", "assumedRoleUser.arn"]

TRAIL: dict[str, dict[str, Any]] = {
    "AssumeRole": {"response": _ASSUMED_ROLE},
    "GetSessionToken": {"response": _CREDENTIALS},
    "GetFederationToken": {
        "response": [*_CREDENTIALS, "federatedUser.federatedUserId", "federatedUser.arn"]
    },
    "AssumeRoleWithWebIdentity": {
        "response": [*_ASSUMED_ROLE, "subjectFromWebIdentityToken", "provider", "audience"]
    },
    "AssumeRoleWithSAML": {"response": _ASSUMED_ROLE},
}

service.trail.update(TRAIL)
