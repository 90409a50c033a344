"""How a request names a function: a name, a partial ARN
(``123456789012:function:name``), a full ARN, each with an optional
``:qualifier`` (a version number, ``$LATEST`` or an alias), and the ARNs
Lambda answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from strongroom.arn import arn
from strongroom.framework import Call
from strongroom.services.lambda_.service import errors

LATEST = "$LATEST"

_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A function as a request names it, in the account and Region it lives in."""

    account: str
    region: str
    name: str
    qualifier: str | None

    @property
    def arn(self) -> str:
        """The function's ARN, qualified when the request named a qualifier."""
        return function_arn(self.account, self.region, self.name, self.qualifier)

    @property
    def unqualified_arn(self) -> str:
        return function_arn(self.account, self.region, self.name)


def function_arn(account: str, region: str, name: str, qualifier: str | None = None) -> str:
    resource = f"function:{name}" if qualifier is None else f"function:{name}:{qualifier}"
    return arn("lambda", region, account, resource)


def parse(call: Call, function_name: str, qualifier: str | None = None) -> Ref:
    """The function `function_name` names (with `qualifier`, the Qualifier
    member, where the operation has one)."""
    m = _NAME.fullmatch(function_name)
    if m is None:
        raise errors.InvalidParameterValueException(
            f"1 validation error detected: Value '{function_name}' at 'functionName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    region = m.group("region") or call.region
    if region != call.region:
        raise errors.InvalidParameterValueException(
            f"Functions from '{region}' are not reachable in this region ('{call.region}')"
        )
    derived = m.group("qualifier")
    if derived is not None and qualifier is not None and derived != qualifier:
        raise errors.InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    account = m.group("account") or call.account
    if len(m.group("name")) > 64:
        raise errors.InvalidParameterValueException(
            "1 validation error detected: Value at 'functionName' failed to satisfy constraint: "
            "Member must have length less than or equal to 64"
        )
    return Ref(account, region, m.group("name"), derived or qualifier)


def require_unqualified(ref: Ref, what: str = "function name") -> None:
    if ref.qualifier is not None:
        raise errors.InvalidParameterValueException(
            f"Unsupported {what}: qualified names are not accepted here."
        )


def not_found(ref: Ref) -> Exception:
    return errors.ResourceNotFoundException(f"Function not found: {ref.arn}")


def is_version_number(qualifier: str) -> bool:
    return qualifier.isdigit()
