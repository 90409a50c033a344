"""A function's execution role: it must exist and trust Lambda, and the
caller must be allowed to pass it (iam:PassRole), as AWS checks at
CreateFunction and UpdateFunctionConfiguration."""

from __future__ import annotations

from strongroom.framework import Call
from strongroom.services.lambda_.service import LAMBDA_PRINCIPAL, errors
from strongroom.services.sts import api as sts

CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


def require_usable(call: Call, role_arn: str) -> None:
    call.authorize("iam:PassRole", role_arn, {"iam:PassedToService": LAMBDA_PRINCIPAL})
    if not sts.service_may_assume(call, role_arn, LAMBDA_PRINCIPAL):
        raise errors.InvalidParameterValueException(CANNOT_ASSUME)
