"""STS for the other services of this server: an AWS service assuming a
role as itself (``lambda.amazonaws.com`` assuming a function's execution
role), as AWS services do through STS behind the scenes.

The role's trust policy decides, evaluated for the service principal
(``{"Principal": {"Service": "lambda.amazonaws.com"}}`` allows it); the
session is an ordinary role session (``arn:aws:sts::<acct>:assumed-role/
<role>/<session name>``) whose credentials any AWS client can sign with.

    from strongroom.services.sts import api as sts

    if not sts.service_may_assume(call, role_arn, "lambda.amazonaws.com"): ...
    creds = sts.assume_role_as_service(call, role_arn, "lambda.amazonaws.com", "my-function")
    creds.access_key_id, creds.secret_access_key, creds.session_token, creds.expiration
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strongroom.auth import credentials
from strongroom.auth.principal import Principal, service_principal
from strongroom.services.iam import api as iam
from strongroom.services.sts import sessions

#: How long a service's role session lasts unless the caller says
#: (Lambda's execution-role sessions are refreshed before they run out).
DEFAULT_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class ServiceCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    #: Clock timestamp at which they stop working.
    expiration: float
    #: The session's ARN (``arn:aws:sts::…:assumed-role/role/session``).
    arn: str


@dataclass(slots=True)
class _ServiceFacts:
    """A request made by a service principal, for the authorizer."""

    principal: Principal
    account: str
    region: str
    conn: Any
    clock: Any
    source_ip: str
    secure: bool = True
    via: tuple[str, ...] = ()
    authorized: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _facts(ctx: Any, service: str, account: str) -> _ServiceFacts:
    return _ServiceFacts(
        service_principal(service),
        account,
        getattr(ctx, "region", "us-east-1"),
        ctx.conn,
        ctx.runtime.clock,
        service,
    )


def service_may_assume(ctx: Any, role_arn: str, service: str) -> bool:
    """Whether role `role_arn` exists and its trust policy lets `service`
    assume it (sts:AssumeRole for the service principal). `ctx` is a Call or
    a JobRun: its store connection and runtime are used."""
    role = iam.role_by_arn(ctx.conn, role_arn)
    if role is None:
        return False
    decision = ctx.runtime.authorizer.decide(
        _facts(ctx, service, role.account),
        "sts:AssumeRole",
        role.arn,
        {},
        resource_policy=role.trust_policy,
        resource_account=role.account,
        resource_policy_required=True,
        resource_policy_kind="trust",
    )
    return decision.allowed


def assume_role_as_service(
    ctx: Any,
    role_arn: str,
    service: str,
    session_name: str,
    *,
    duration: int = DEFAULT_SECONDS,
    conn: Any = None,
) -> ServiceCredentials | None:
    """A session of `role_arn` for `service`, stored on `conn` (default: the
    context's connection, which must be in a write transaction); None when
    the role is gone or its trust policy no longer lets the service in."""
    if not service_may_assume(ctx, role_arn, service):
        return None
    role = iam.role_by_arn(ctx.conn, role_arn)
    now = ctx.runtime.clock.timestamp()
    principal = sessions.role_principal(role, session_name[:64], now)
    expires = now + min(duration, role.max_session_duration)
    akid, secret, token = credentials.create_session(
        conn if conn is not None else ctx.conn,
        ctx.runtime.sealer,
        principal=principal,
        now=now,
        expires=expires,
        source_access_key_id=None,
    )
    return ServiceCredentials(akid, secret, token, expires, principal.arn)


def role_session_principal(ctx: Any, role_arn: str, session_name: str) -> Principal | None:
    """The principal of a session of `role_arn` named `session_name` (as
    the service assuming it would hold), for a service that acts with the
    role's credentials inside this server: Lambda delivering a function's
    output to CloudWatch Logs with its execution role. None: no such role."""
    role = iam.role_by_arn(ctx.conn, role_arn)
    if role is None:
        return None
    return sessions.role_principal(role, session_name[:64], ctx.runtime.clock.timestamp())


def service_role_allows(
    ctx: Any, role_arn: str, service: str, actions: list[str], resource: str
) -> bool:
    """Whether a session of `role_arn` that `service` would assume may do
    every one of `actions` on `resource` (the role's own policies, its
    permissions boundary), without making the session: how a service checks
    a role it is handed (CloudTrail's CloudWatchLogsRoleArn) and, at each
    use, that the role still lets it."""
    role = iam.role_by_arn(ctx.conn, role_arn)
    if role is None:
        return False
    now = ctx.runtime.clock.timestamp()
    facts = _facts(ctx, service, role.account)
    facts.principal = sessions.role_principal(role, service.split(".", 1)[0], now)
    return all(
        ctx.runtime.authorizer.decide(facts, action, resource, {}).allowed for action in actions
    )
