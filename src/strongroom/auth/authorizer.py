"""Authorization: may this principal perform this action on this resource?

`Authorizer.require` is the one place every service asks. It gathers what
AWS's evaluation logic needs — the caller's identity policies, permissions
boundary and session policies, the resource's policy, the request context —
and lets the policy engine (`auth/policy`) decide. Compiled policies are
cached by their text, which is safe: compiling is a pure function of it. The
question of *which* policies apply is asked of the store on every request, so
a detached policy or a deleted user stops working at once.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from strongroom.auth.policy import (
    AuthzRequest,
    CompiledPolicy,
    Decision,
    PolicySet,
    denial_message,
    evaluate,
    parse_policy,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from strongroom.auth.principal import Principal

#: Services that set ``aws:CalledVia`` when they call another service on a
#: principal's behalf (IAM User Guide, "AWS global condition context keys",
#: aws:CalledVia); every service that does so sets ``aws:ViaAWSService``.
CALLED_VIA_SERVICES = frozenset(
    {
        "athena.amazonaws.com",
        "cloudformation.amazonaws.com",
        "dynamodb.amazonaws.com",
        "kms.amazonaws.com",
    }
)

#: Actions AWS answers for any authenticated caller, whatever its policies say.
UNCONDITIONAL_ACTIONS = frozenset({"sts:GetCallerIdentity"})

_PRINCIPAL_TYPES = {
    "Root": "Account",
    "IAMUser": "User",
    "AssumedRole": "AssumedRole",
    "FederatedUser": "FederatedUser",
}


class Clock(Protocol):
    def timestamp(self) -> float: ...


class RequestFacts(Protocol):
    """What the authorizer reads of a request: who asks, from where, in which
    account and Region, through which services, on which store connection.
    (The framework's `Call` is one; the authorizer knows no service.)"""

    principal: Principal
    account: str
    region: str
    source_ip: str
    secure: bool
    conn: Connection
    via: tuple[str, ...]
    #: Set to True by `Authorizer.require` (an allow, or a denial raised).
    authorized: bool

    @property
    def clock(self) -> Clock: ...


class AccessDenied(Exception):
    """A denial in AWS's words; the caller's service raises its own error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicySource(Protocol):
    def identity_policies(self, conn: Connection, principal: Principal) -> list[tuple[str, str]]:
        """(policy id, document text) of every identity policy of `principal`."""

    def permissions_boundary(
        self, conn: Connection, principal: Principal
    ) -> tuple[str, str] | None:
        """(policy id, document text) of the principal's permissions boundary."""

    def principal_tags(self, conn: Connection, principal: Principal) -> dict[str, str]:
        """Tags of the IAM user or role behind `principal`."""


class GenerationalPolicySource(PolicySource, Protocol):
    def generation(self, conn: Connection, account: str) -> int:
        """A number that changes whenever anything the other methods return may change."""


class NoIdentityPolicies:
    """A source for a server without IAM: no principal has any policy."""

    def identity_policies(self, conn: Connection, principal: Principal) -> list[tuple[str, str]]:
        return []

    def permissions_boundary(
        self, conn: Connection, principal: Principal
    ) -> tuple[str, str] | None:
        return None

    def principal_tags(self, conn: Connection, principal: Principal) -> dict[str, str]:
        return {}


class PolicyCache:
    """Compiled policies by (kind, text); bounded, least recently used out."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], CompiledPolicy] = OrderedDict()
        # Requests off the event loop share the cache: its LRU moves must
        # not interleave (a move_to_end after another thread's eviction).
        self._lock = threading.Lock()

    def get(self, kind: str, text: str) -> CompiledPolicy:
        key = (kind, text)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        compiled = parse_policy(text, kind)  # pure: compiled twice at worst
        with self._lock:
            self._items[key] = compiled
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return compiled


#: What a principal's identity side compiles to: identity set, boundary set, tags.
Snapshot = tuple[PolicySet, PolicySet | None, dict[str, str]]


class Authorizer:
    def __init__(self, policy_source: PolicySource | None = None, *, enforce: bool = True) -> None:
        self.policy_source: PolicySource = policy_source or NoIdentityPolicies()
        self.enforce = enforce
        self.cache = PolicyCache()
        #: (principal, source generation) -> Snapshot. Valid only while the
        #: store's generation is unchanged, which is read on every request:
        #: no decision is ever made on policies older than the last IAM write.
        self._snapshots: OrderedDict[tuple[str, str, str], tuple[int, Snapshot]] = OrderedDict()
        self._generational = hasattr(self.policy_source, "generation")
        self._snapshot_lock = threading.Lock()

    def require(
        self,
        call: RequestFacts,
        action: str,
        resource: str | list[str],
        context: dict[str, Any],
        *,
        resource_policy: str | None = None,
        resource_account: str | None = None,
        resource_policy_required: bool = False,
        resource_policy_kind: str = "resource",
    ) -> None:
        """Raise the service's access-denied error unless every resource is allowed.

        `resource_policy_kind` is "trust" for a role's trust policy (no Resource
        element), "resource" for every other resource policy."""
        # A denial below raises: reaching the end of this method is the allow.
        call.authorized = True
        if not self.enforce or action in UNCONDITIONAL_ACTIONS:
            return
        principal = call.principal
        owner = resource_account or call.account
        if (
            principal.is_root
            and principal.account == owner
            and resource_policy is None
            and not resource_policy_required
        ):
            return  # the account root, its own resources, nothing to deny it
        for res in [resource] if isinstance(resource, str) else resource:
            decision = self.decide(
                call,
                action,
                res,
                context,
                resource_policy=resource_policy,
                resource_account=owner,
                resource_policy_required=resource_policy_required,
                resource_policy_kind=resource_policy_kind,
            )
            if not decision.allowed:
                raise AccessDenied(denial_message(principal.arn, action, res, decision))

    def decide(
        self,
        call: RequestFacts,
        action: str,
        resource: str,
        context: dict[str, Any],
        *,
        resource_policy: str | None = None,
        resource_account: str | None = None,
        resource_policy_required: bool = False,
        resource_policy_kind: str = "resource",
    ) -> Decision:
        principal = call.principal
        if principal.is_service or principal.type == "Anonymous":
            # A service has no identity policies: the resource policy alone
            # decides (it must name the service), as AWS decides it. So for
            # an unsigned request (S3's anonymous reads): only what the
            # resource grants everyone allows it.
            allow_all = self.cache.get("identity", _ALLOW_ALL)
            identity, boundary, tags = PolicySet("identity", (("service", allow_all),)), None, {}
            resource_policy_required = True
        elif principal.is_root:
            identity, boundary, tags = PolicySet("identity", ()), None, dict(principal.tags)
        elif _federated_by_root(principal):
            # GetFederationToken by the root: the root's permissions, narrowed
            # by the session policy (the caller is not the root itself).
            allow_all = self.cache.get("identity", _ALLOW_ALL)
            identity, boundary, tags = PolicySet("identity", (("root", allow_all),)), None, {}
            tags.update(principal.tags)
        else:
            identity, boundary, tags = self._snapshot(call.conn, identity_principal(principal))
            tags = {**tags, **principal.tags}
        session = None
        if principal.session_policies:
            session = PolicySet(
                "session",
                tuple(
                    (f"session-policy-{i}", self.cache.get("session", text))
                    for i, text in enumerate(principal.session_policies, 1)
                ),
            )
        resource_set = None
        if resource_policy is not None:
            resource_set = PolicySet(
                "resource",
                (("resource-policy", self.cache.get(resource_policy_kind, resource_policy)),),
            )
        request = AuthzRequest(
            action=action,
            resource=resource,
            principal_arn=principal.arn,
            principal_account=principal.account,
            principal_is_root=principal.is_root,
            resource_account=resource_account or call.account,
            context=request_context(call, tags, context),
            principal_aliases=principal_aliases(principal),
        )
        return evaluate(
            request,
            identity,
            resource_set,
            boundary,
            session,
            resource_policy_required=resource_policy_required,
        )

    def _snapshot(self, conn: Connection, principal: Principal) -> Snapshot:
        source = self.policy_source
        key = (principal.type, principal.arn, principal.principal_id)
        generation = source.generation(conn, principal.account) if self._generational else None
        if generation is not None:
            with self._snapshot_lock:
                found = self._snapshots.get(key)
                if found is not None and found[0] == generation:
                    self._snapshots.move_to_end(key)
                    return found[1]
        identity = PolicySet(
            "identity",
            tuple(
                (pid, self.cache.get("identity", text))
                for pid, text in source.identity_policies(conn, principal)
            ),
        )
        boundary = None
        found_boundary = source.permissions_boundary(conn, principal)
        if found_boundary is not None:
            boundary = PolicySet(
                "boundary",
                ((found_boundary[0], self.cache.get("boundary", found_boundary[1])),),
            )
        # Session tags differ between sessions of one name: they are merged
        # per request, never cached.
        tags = source.principal_tags(conn, dataclasses.replace(principal, tags={}))
        snapshot = (identity, boundary, tags)
        if generation is not None:
            with self._snapshot_lock:
                self._snapshots[key] = (generation, snapshot)
                if len(self._snapshots) > 10000:
                    self._snapshots.popitem(last=False)
        return snapshot


_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def _federated_by_root(principal: Principal) -> bool:
    issuer = principal.session_issuer
    return principal.type == "FederatedUser" and bool(issuer) and issuer.get("type") == "Root"


def identity_principal(principal: Principal) -> Principal:
    """The principal whose identity policies apply: for a federated user
    (GetFederationToken), the IAM user who asked for the credentials."""
    issuer = principal.session_issuer
    if principal.type == "FederatedUser" and issuer and issuer.get("type") == "IAMUser":
        return dataclasses.replace(
            principal,
            type="IAMUser",
            arn=issuer["arn"],
            principal_id=issuer["principalId"],
            user_name=issuer.get("userName"),
            session_issuer=None,
        )
    return principal


def principal_aliases(principal: Principal) -> tuple[str, ...]:
    """Other ARNs a Principal element may use to name this caller."""
    aliases = [f"arn:aws:iam::{principal.account}:root"] if principal.account else []
    if principal.session_issuer and principal.session_issuer.get("arn"):
        aliases.append(principal.session_issuer["arn"])
    return tuple(aliases)


def request_context(
    call: RequestFacts, tags: dict[str, str], extra: dict[str, Any]
) -> dict[str, Any]:
    """The global condition keys a local request carries, plus the service's."""
    principal = call.principal
    second = int(call.clock.timestamp())
    ctx: dict[str, Any] = {
        "aws:CurrentTime": _iso_second(second),
        "aws:EpochTime": str(second),
        "aws:SecureTransport": "true" if call.secure else "false",
        "aws:PrincipalArn": principal.session_issuer["arn"]
        if principal.session_issuer and principal.type == "AssumedRole"
        else principal.arn,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalType": _PRINCIPAL_TYPES.get(principal.type, principal.type),
        "aws:RequestedRegion": call.region,
        "aws:userid": principal.principal_id,
        "aws:ViaAWSService": "true" if call.via else "false",
    }
    if call.via:
        called = [service for service in call.via if service in CALLED_VIA_SERVICES]
        if called:
            ctx["aws:CalledVia"] = called
            ctx["aws:CalledViaFirst"] = called[0]
            ctx["aws:CalledViaLast"] = called[-1]
    if _is_ip(call.source_ip):
        ctx["aws:SourceIp"] = call.source_ip
    source_arn = getattr(call, "source_arn", None)
    if source_arn is not None:  # a service acting for one of its resources
        ctx["aws:SourceArn"] = source_arn
        ctx["aws:SourceAccount"] = getattr(call, "source_account", None) or call.account
    if principal.type == "IAMUser" and principal.user_name:
        ctx["aws:username"] = principal.user_name
    elif principal.type == "AWSService":
        ctx["aws:PrincipalServiceName"] = principal.arn
    if principal.session_created is not None:
        ctx["aws:TokenIssueTime"] = principal.session_created.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    if principal.mfa_authenticated_at is not None:
        ctx["aws:MultiFactorAuthPresent"] = "true"
        ctx["aws:MultiFactorAuthAge"] = str(max(0, second - int(principal.mfa_authenticated_at)))
    elif principal.session_created is not None:
        # Temporary credentials made without MFA say so; long-term keys carry
        # neither key (AWS: "not present ... using long-term credentials").
        ctx["aws:MultiFactorAuthPresent"] = "false"
    for key, value in tags.items():
        ctx[f"aws:PrincipalTag/{key}"] = value
    ctx.update(extra)
    return ctx


@lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1024)
def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
