"""Who may use a key: key policy + IAM policies + grants, as AWS combines them.

The key policy is a *required* resource policy: without an allow in it (for
the caller, or for the caller's account, which then delegates to IAM
policies) nothing is allowed. An explicit deny anywhere wins. When the
policies do not allow, a grant on the key for the caller and the operation
(with its encryption-context constraints met) does. Grants here take effect
at once, so a grant token is only checked for being well formed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strongroom import tokens
from strongroom.auth.policy import MalformedPolicy, denial_message, parse_policy
from strongroom.auth.policy.evaluate import EXPLICIT_DENY
from strongroom.framework import Call, tagging
from strongroom.services.kms import alias_store, grant_store
from strongroom.services.kms.service import errors

if TYPE_CHECKING:
    from strongroom.services.kms.keys import Key

#: Operations whose grants ignore encryption-context constraints.
_NO_CONTEXT_OPS = frozenset({"DescribeKey", "RetireGrant", "CreateGrant", "GetPublicKey"})


def key_context(
    call: Call,
    key: Key,
    *,
    encryption_context: dict[str, str] | None = None,
    via_service: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The kms: condition keys of a request on `key`."""
    ctx: dict[str, Any] = {
        "kms:CallerAccount": call.principal.account or call.account,
        "kms:KeySpec": key.key_spec,
        "kms:CustomerMasterKeySpec": key.key_spec,
        "kms:KeyUsage": key.key_usage,
        "kms:KeyOrigin": key.origin,
        "kms:MultiRegion": "true" if key.multi_region else "false",
    }
    if key.multi_region:
        ctx["kms:MultiRegionKeyType"] = key.multi_region_type.value
    if via_service:
        ctx["kms:ViaService"] = via_service
        ctx["aws:ViaAWSService"] = "true"
        ctx["kms:GrantIsForAWSResource"] = "true"
    else:
        ctx["kms:GrantIsForAWSResource"] = "false"
    if encryption_context is not None:
        for k, v in encryption_context.items():
            ctx[f"kms:EncryptionContext:{k}"] = v
        ctx["kms:EncryptionContextKeys"] = list(encryption_context)
    if extra:
        ctx.update(extra)
    return ctx


def authorize(
    call: Call,
    key: Key,
    action: str,
    *,
    encryption_context: dict[str, str] | None = None,
    grant_tokens: list[str] | None = None,
    grant_operation: str | None = None,
    via_service: str | None = None,
    extra: dict[str, Any] | None = None,
    from_ciphertext: bool = False,
) -> None:
    """Raise AccessDeniedException unless the caller may do `action` on `key`."""
    if grant_tokens:
        check_grant_tokens(grant_tokens)
    # Every path below either allows or raises: the pipeline's decision flag.
    call.authorized = True
    authorizer = call.authorizer
    if not authorizer.enforce:
        return
    p = call.principal
    memo_key: tuple[str, ...] | None = None
    decision = None
    if p.is_root and not p.session_policies:
        reads = _context_read(call, key.policy, action)
        if reads is not None:
            via = via_service if via_service is not None else call.via_service
            memo_key = (key.policy, key.arn, key.account, p.arn, p.account or "", action)
            if reads:  # kms:CallerAccount is the root's account, already in the key
                memo_key += (via or "",)
            decision = _ROOT_MEMO.get(memo_key)
    if decision is None:
        ctx = key_context(
            call,
            key,
            encryption_context=encryption_context,
            via_service=via_service if via_service is not None else call.via_service,
            extra=extra,
        )
        ctx.update(_resource_context(call, key))
        decision = authorizer.decide(
            call,
            action,
            key.arn,
            ctx,
            resource_policy=key.policy,
            resource_account=key.account,
            resource_policy_required=True,
        )
        if memo_key is not None:
            if len(_ROOT_MEMO) >= _ROOT_MEMO_LIMIT:
                _ROOT_MEMO.clear()
            _ROOT_MEMO[memo_key] = decision
    if decision.allowed:
        return
    if decision.reason != EXPLICIT_DENY and grant_allows(
        call, key, grant_operation or action.split(":", 1)[1], encryption_context
    ):
        return
    message = denial_message(call.principal.arn, action, key.arn, decision)
    if from_ciphertext:  # the caller named no key: AWS does not name it either
        message = message.replace(
            f"on resource: {key.arn}", "on the resource associated with this ciphertext"
        )
    raise errors.AccessDeniedException(message)


#: Decisions for an account root under a key policy whose statements on the
#: action read no request context but, at most, kms:ViaService and
#: kms:CallerAccount (the AWS managed keys' policy), and use no policy
#: variable. Such a decision is a pure function of the key (its ARN and
#: policy text, read from the store on every request), the root's account,
#: the action and the service the call came through: roots have no
#: identity, boundary or session policies, and nothing else in the request
#: context can change the outcome.
_ROOT_MEMO: dict[tuple[str, ...], Any] = {}
_ROOT_MEMO_LIMIT = 4096
#: The context keys (lower case) a memoized decision may depend on.
_MEMO_KEYS = frozenset({"kms:viaservice", "kms:calleraccount"})
#: (policy, action) -> what `_context_read` found.
_READS: dict[tuple[str, str], tuple[str, ...] | None] = {}


def _context_read(call: Call, policy: str, action: str) -> tuple[str, ...] | None:
    """The context keys `policy`'s statements on `action` read: () for none,
    None when they read any outside `_MEMO_KEYS` or use a policy variable."""
    memo = (policy, action)
    if memo in _READS:
        return _READS[memo]
    compiled = call.authorizer.cache.get("resource", policy)
    read: set[str] = set()
    found: tuple[str, ...] | None = ()
    for st in compiled.statements_for(action.lower()):
        if (st.resources and any("${" in r for r in st.resources)) or any(
            t.has_vars for c in st.conditions for t in c.templates
        ):
            found = None
            break
        read.update(c.key_lower for c in st.conditions)
    if found is not None:
        found = tuple(sorted(read)) if read <= _MEMO_KEYS else None
    if len(_READS) >= _ROOT_MEMO_LIMIT:
        _READS.clear()
    _READS[memo] = found
    return found


def _resource_context(call: Call, key: Key) -> dict[str, Any]:
    """ABAC keys of the key: kms:ResourceAliases and aws:ResourceTag/<key>."""
    ctx: dict[str, Any] = {"kms:ResourceAliases": alias_store.names_of_key(call, key)}
    if key.tags:
        ctx.update(tagging.resource_context(key.tag_list()))
    return ctx


def deny(call: Call, action: str, resource: str) -> Exception:
    return errors.AccessDeniedException(
        f"User: {call.principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource} because no resource-based policy allows the {action} action"
    )


def authorize_account(call: Call, action: str, resource: str = "*") -> None:
    """Actions on no key (CreateKey, ListKeys, GenerateRandom…): IAM policies decide."""
    call.authorize(action, resource)


def grantee_matches(call: Call, grantee: str) -> bool:
    p = call.principal
    if grantee == p.arn:
        return True
    if p.session_issuer and grantee == p.session_issuer.get("arn"):
        return True
    return bool(p.is_root and grantee in (f"arn:aws:iam::{p.account}:root", p.account))


def grant_allows(
    call: Call, key: Key, operation: str, encryption_context: dict[str, str] | None
) -> bool:
    for grantee, granted, constraints in grant_store.terms_of_key(call.conn, key):
        if not grantee_matches(call, grantee):
            continue
        if operation not in granted:
            continue
        if constraints:
            if operation in _NO_CONTEXT_OPS:
                # Only SourceArn constrains these (and never RetireGrant).
                constraints = (
                    {k: v for k, v in constraints.items() if k == "SourceArn"}
                    if operation != "RetireGrant"
                    else {}
                )
            if constraints and not constraints_met(constraints, encryption_context or {}):
                continue
        return True
    return False


def constraints_met(
    constraints: dict[str, Any], context: dict[str, str], source_arn: str | None = None
) -> bool:
    """Whether a request meets a grant's constraints. A ``SourceArn`` constraint
    (newer models) holds only for a request made on behalf of that resource."""
    wanted_source = constraints.get("SourceArn")
    if wanted_source is not None and wanted_source != source_arn:
        return False
    equals = constraints.get("EncryptionContextEquals")
    if equals is not None and context != equals:
        return False
    subset = constraints.get("EncryptionContextSubset")
    return not (subset is not None and any(context.get(k) != v for k, v in subset.items()))


def check_grant_tokens(grant_tokens: list[str]) -> None:
    for token in grant_tokens:
        try:
            value = tokens.decode(token)
        except tokens.BadToken:
            value = None
        if not isinstance(value, dict) or "g" not in value:
            raise errors.InvalidGrantTokenException("Grant token is invalid.")


# --------------------------------------------------------------------------- key policies


def parse_key_policy(text: str) -> None:
    """MalformedPolicyDocumentException unless `text` is a valid key policy."""
    try:
        parse_policy(text, "resource")
    except MalformedPolicy as exc:
        raise errors.MalformedPolicyDocumentException(exc.message) from None


LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."


def require_lockout_safe(
    call: Call, key_arn: str, account: str, policy: str, bypass: bool | None
) -> None:
    """The policy must let the caller call PutKeyPolicy later (unless bypassed)."""
    parse_key_policy(policy)
    if bypass:
        return
    decision = call.authorizer.decide(
        call,
        "kms:PutKeyPolicy",
        key_arn,
        {"kms:CallerAccount": call.principal.account or call.account},
        resource_policy=policy,
        resource_account=account,
        resource_policy_required=True,
    )
    if not decision.allowed:
        raise errors.MalformedPolicyDocumentException(LOCKOUT_MESSAGE)
