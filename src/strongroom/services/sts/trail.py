"""What STS's CloudTrail events record of each response, as data (see
`strongroom.framework.trail` for the form).

As AWS's STS CloudTrail pages show: the new credentials' access key id and
expiration, and who the session is; never the secret access key or the
session token. Requests record their redacted members (the default), but
never an MFA one-time code: AssumeRole and GetSessionToken record the
device's serial number and not the TokenCode that proved it.
"""

from __future__ import annotations

from typing import Any

from strongroom.services.sts.operations import service

_CREDENTIALS = ["credentials.accessKeyId", "credentials.expiration"]
_ASSUMED_ROLE = [*_CREDENTIALS, "assumedRoleUser.assumedRoleId", "assumedRoleUser.arn"]

#: AssumeRole's request members, all but TokenCode.
_ASSUME_ROLE_REQUEST = [
    "roleArn",
    "roleSessionName",
    "policyArns",
    "policy",
    "durationSeconds",
    "tags",
    "transitiveTagKeys",
    "externalId",
    "serialNumber",
    "sourceIdentity",
    "providedContexts",
    "minimumSessionTokenSize",
]
#: Members newer botocore models add (left out where the installed one lacks them).
_NEWER = ["minimumSessionTokenSize"]

TRAIL: dict[str, dict[str, Any]] = {
    "AssumeRole": {"request": _ASSUME_ROLE_REQUEST, "response": _ASSUMED_ROLE, "newer": _NEWER},
    "GetSessionToken": {
        "request": ["durationSeconds", "serialNumber", "minimumSessionTokenSize"],
        "response": _CREDENTIALS,
        "newer": _NEWER,
    },
    "GetFederationToken": {
        "response": [*_CREDENTIALS, "federatedUser.federatedUserId", "federatedUser.arn"]
    },
    "AssumeRoleWithWebIdentity": {
        "response": [*_ASSUMED_ROLE, "subjectFromWebIdentityToken", "provider", "audience"]
    },
    "AssumeRoleWithSAML": {"response": _ASSUMED_ROLE},
}

service.trail.update(TRAIL)
