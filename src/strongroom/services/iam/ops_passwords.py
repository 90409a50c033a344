"""IAM operations: the account password policy, login profiles, ChangePassword."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import passwords as model
from strongroom.services.iam import users
from strongroom.services.iam.service import errors, service


@service.operation(authorize="iam:UpdateAccountPasswordPolicy")
def update_account_password_policy(
    call: Call,
    MinimumPasswordLength: int | None = None,
    RequireSymbols: bool | None = None,
    RequireNumbers: bool | None = None,
    RequireUppercaseCharacters: bool | None = None,
    RequireLowercaseCharacters: bool | None = None,
    AllowUsersToChangePassword: bool | None = None,
    MaxPasswordAge: int | None = None,
    PasswordReusePrevention: int | None = None,
    HardExpiry: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    model.put_policy(
        call,
        {
            "MinimumPasswordLength": MinimumPasswordLength,
            "RequireSymbols": RequireSymbols,
            "RequireNumbers": RequireNumbers,
            "RequireUppercaseCharacters": RequireUppercaseCharacters,
            "RequireLowercaseCharacters": RequireLowercaseCharacters,
            "AllowUsersToChangePassword": AllowUsersToChangePassword,
            "MaxPasswordAge": MaxPasswordAge,
            "PasswordReusePrevention": PasswordReusePrevention,
            "HardExpiry": HardExpiry,
        },
    )
    return {}


@service.operation(authorize="iam:GetAccountPasswordPolicy")
def get_account_password_policy(call: Call, **_: Any) -> dict[str, Any]:
    return {"PasswordPolicy": model.to_password_policy(model.resolve_policy(call))}


@service.operation(authorize="iam:DeleteAccountPasswordPolicy")
def delete_account_password_policy(call: Call, **_: Any) -> dict[str, Any]:
    model.delete_policy(call)
    return {}


@service.operation(authorize=False)
def create_login_profile(
    call: Call,
    UserName: str | None = None,
    Password: str | None = None,
    PasswordResetRequired: bool = False,
    MaxSigninSessionDuration: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    user = _user(call, "iam:CreateLoginProfile", UserName)
    profile = model.create_profile(
        call, user, Password, PasswordResetRequired, MaxSigninSessionDuration
    )
    return {"LoginProfile": profile.to_login_profile()}


@service.operation(authorize=False)
def get_login_profile(call: Call, UserName: str | None = None, **_: Any) -> dict[str, Any]:
    user = _user(call, "iam:GetLoginProfile", UserName)
    return {"LoginProfile": model.resolve_profile(call, user).to_login_profile()}


@service.operation(authorize=False)
def update_login_profile(
    call: Call,
    UserName: str,
    Password: str | None = None,
    PasswordResetRequired: bool | None = None,
    MaxSigninSessionDuration: int | None = None,
    ResetMaxSigninSessionDuration: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    user = _user(call, "iam:UpdateLoginProfile", UserName)
    model.update_profile(
        call,
        user,
        Password,
        PasswordResetRequired,
        MaxSigninSessionDuration,
        ResetMaxSigninSessionDuration,
    )
    return {}


@service.operation(authorize=False)
def delete_login_profile(call: Call, UserName: str | None = None, **_: Any) -> dict[str, Any]:
    user = _user(call, "iam:DeleteLoginProfile", UserName)
    model.delete_profile(call, user)
    return {}


@service.operation(authorize=False)
def change_password(call: Call, OldPassword: str, NewPassword: str, **_: Any) -> dict[str, Any]:
    """An IAM user changes its own console password: allowed by its policies,
    or for every user when the account policy has AllowUsersToChangePassword."""
    principal = call.principal
    call.authorize(
        "iam:ChangePassword",
        principal.arn,
        resource_policy=model.self_service_grant(call, principal.arn),
    )
    if principal.type != "IAMUser" or not principal.user_name:
        raise errors.InvalidUserTypeException("Only IAM users can change their own password.")
    user = users.resolve_user(call, principal.user_name)
    model.change_password(call, user, OldPassword, NewPassword)
    return {}


def _user(call: Call, action: str, user_name: str | None) -> users.User:
    """Authorize `action` on the named user (or the calling user) and find it."""
    if user_name is None:
        p = call.principal
        call.authorize(action, p.arn)
        if p.type != "IAMUser" or not p.user_name:
            raise errors.ValidationError(
                "Must specify userName when calling with non-User credentials"
            )
        user_name = p.user_name
    else:
        call.authorize(action, users.arn_of(call, user_name))
    return users.resolve_user(call, user_name)
