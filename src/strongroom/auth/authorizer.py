"""Authorization: may this principal perform this action on this resource?

`Authorizer.require` is the one place every service asks. The decision
follows AWS's evaluation logic: an explicit deny anywhere wins; within one
account an allow from an identity policy or from the resource policy
suffices; the account root may do anything in its own account that no
resource policy denies. Identity policies come from the `PolicySource`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from strongroom.protocol.errors import AwsError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from strongroom.auth.principal import Principal
    from strongroom.services.base import Call

#: Actions AWS answers for any authenticated caller, whatever its policies say.
UNCONDITIONAL_ACTIONS = frozenset({"sts:GetCallerIdentity"})


class PolicySource(Protocol):
    def identity_policies(self, conn: Connection, principal: Principal) -> list[Any]:
        """Every identity-based policy document that applies to `principal`."""


class NoIdentityPolicies:
    """The source before IAM policies can be attached: no principal has any."""

    def identity_policies(self, conn: Connection, principal: Principal) -> list[Any]:
        return []


class Authorizer:
    def __init__(self, policy_source: PolicySource | None = None, *, enforce: bool = True) -> None:
        self.policy_source = policy_source or NoIdentityPolicies()
        self.enforce = enforce

    def require(
        self,
        call: Call,
        action: str,
        resource: str | list[str],
        context: dict[str, Any],
        *,
        resource_policy: Any = None,
        resource_account: str | None = None,
    ) -> None:
        if not self.enforce or action in UNCONDITIONAL_ACTIONS:
            return
        principal = call.principal
        resources = [resource] if isinstance(resource, str) else resource
        owner = resource_account or call.account
        if principal.is_root and principal.account == owner and resource_policy is None:
            return
        for res in resources:
            if not self._allowed(call, principal, action, res, context, resource_policy, owner):
                raise access_denied(call, action, res)

    def _allowed(
        self,
        call: Call,
        principal: Principal,
        action: str,
        resource: str,
        context: dict[str, Any],
        resource_policy: Any,
        owner: str,
    ) -> bool:
        # Policy documents are evaluated by the IAM policy engine; until a
        # principal has a policy that allows, only the account root has
        # permissions (AWS's default for a new IAM user is none).
        return principal.is_root and principal.account == owner


def access_denied(call: Call, action: str, resource: str, reason: str | None = None) -> AwsError:
    """The service's access-denied error in AWS's message form."""
    reason = reason or f"because no identity-based policy allows the {action} action"
    message = (
        f"User: {call.principal.arn} is not authorized to perform: {action} "
        f"on resource: {resource} {reason}"
    )
    protocol = call.service.model.metadata["protocol"]
    code = "AccessDeniedException" if protocol in ("json", "rest-json") else "AccessDenied"
    for shape in call.service.model.error_shapes:
        if shape.name in ("AccessDeniedException", "AccessDenied"):
            return call.service.errors.by_code(shape.error_code)(message)
    return getattr(call.service.errors, code)(message)
