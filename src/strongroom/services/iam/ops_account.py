"""IAM operations: account aliases, access keys' last use, credential reports."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import account as model
from strongroom.services.iam import mfa, users
from strongroom.services.iam.common import page_out, when
from strongroom.services.iam.service import service


@service.operation(authorize="iam:CreateAccountAlias")
def create_account_alias(call: Call, AccountAlias: str, **_: Any) -> dict[str, Any]:
    model.create_alias(call, AccountAlias)
    return {}


@service.operation(authorize="iam:DeleteAccountAlias")
def delete_account_alias(call: Call, AccountAlias: str, **_: Any) -> dict[str, Any]:
    model.delete_alias(call, AccountAlias)
    return {}


@service.operation(authorize="iam:ListAccountAliases")
def list_account_aliases(
    call: Call, Marker: str | None = None, MaxItems: int | None = None, **_: Any
) -> dict[str, Any]:
    return page_out(call, "AccountAliases", model.aliases_of(call), Marker, MaxItems)


@service.operation(authorize=False)
def get_access_key_last_used(call: Call, AccessKeyId: str, **_: Any) -> dict[str, Any]:
    found, user_name = model.key_exists(call, AccessKeyId)
    if not found:
        # Not a key of this account: nothing to tell, and nothing to allow.
        call.authorize("iam:GetAccessKeyLastUsed", f"arn:aws:iam::{call.account}:user/*")
        raise call.access_denied("iam:GetAccessKeyLastUsed", f"access key {AccessKeyId}")
    resource = users.arn_of(call, user_name) if user_name else f"arn:aws:iam::{call.account}:root"
    call.authorize("iam:GetAccessKeyLastUsed", resource)
    out: dict[str, Any] = {
        "AccessKeyLastUsed": model.to_last_used(model.last_use(call, AccessKeyId))
    }
    if user_name:
        out["UserName"] = user_name
    return out


@service.operation(authorize="iam:GenerateCredentialReport")
def generate_credential_report(call: Call, **_: Any) -> dict[str, Any]:
    state = model.generate_report(call, _mfa_active(call))
    if state == "STARTED":
        return {
            "State": state,
            "Description": "No report exists. Starting a new report generation task",
        }
    return {"State": state}


@service.operation(authorize="iam:GetCredentialReport")
def get_credential_report(call: Call, **_: Any) -> dict[str, Any]:
    generated, content = model.resolve_report(call)
    return {"Content": content, "ReportFormat": "text/csv", "GeneratedTime": when(generated)}


def _mfa_active(call: Call) -> dict[str, bool]:
    """user id -> whether the user has an enabled MFA device."""
    return mfa.active_by_user(call)
