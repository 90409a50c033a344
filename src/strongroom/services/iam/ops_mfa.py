"""IAM operations: virtual MFA devices."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import mfa as model
from strongroom.services.iam import users
from strongroom.services.iam.common import (
    check_new_tags,
    merge_tags,
    page_out,
    remove_tags,
    tag_context,
)
from strongroom.services.iam.service import errors, service


@service.operation(authorize=False)
def create_virtual_MFA_device(
    call: Call,
    VirtualMFADeviceName: str,
    Path: str = "/",
    Tags: list[dict[str, str]] | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize(
        "iam:CreateVirtualMFADevice",
        model.serial_of(call.account, Path, VirtualMFADeviceName),
        tag_context(Tags),
    )
    tags = check_new_tags(call, Tags or [])
    device, seed_text = model.create_device(call, VirtualMFADeviceName, Path, tags)
    out = device.to_virtual(None)
    out["Base32StringSeed"] = seed_text
    out["QRCodePNG"] = model.qr_code(call, VirtualMFADeviceName, seed_text)
    return {"VirtualMFADevice": out}


@service.operation(authorize=False)
def enable_MFA_device(
    call: Call,
    UserName: str,
    SerialNumber: str,
    AuthenticationCode1: str,
    AuthenticationCode2: str,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:EnableMFADevice", users.arn_of(call, UserName))
    user = users.resolve_user(call, UserName)
    model.enable(call, user, SerialNumber, AuthenticationCode1, AuthenticationCode2)
    return {}


@service.operation(authorize=False)
def resync_MFA_device(
    call: Call,
    UserName: str,
    SerialNumber: str,
    AuthenticationCode1: str,
    AuthenticationCode2: str,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ResyncMFADevice", users.arn_of(call, UserName))
    user = users.resolve_user(call, UserName)
    model.resync(call, user, SerialNumber, AuthenticationCode1, AuthenticationCode2)
    return {}


@service.operation(authorize=False)
def deactivate_MFA_device(
    call: Call, SerialNumber: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    user = _user(call, "iam:DeactivateMFADevice", UserName)
    model.deactivate(call, user, SerialNumber)
    return {}


@service.operation(authorize=False)
def delete_virtual_MFA_device(call: Call, SerialNumber: str, **_: Any) -> dict[str, Any]:
    call.authorize("iam:DeleteVirtualMFADevice", SerialNumber)
    model.delete_device(call, SerialNumber)
    return {}


@service.operation(authorize=False)
def get_MFA_device(
    call: Call, SerialNumber: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    user = _user(call, "iam:GetMFADevice", UserName)
    return model.assigned_to(call, user, SerialNumber).to_mfa(user.user_name)


@service.operation(authorize=False)
def list_MFA_devices(
    call: Call,
    UserName: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    user = _user(call, "iam:ListMFADevices", UserName)
    items = [d.to_mfa(user.user_name) for d in model.devices_of(call, user)]
    return page_out(call, "MFADevices", items, Marker, MaxItems)


@service.operation(authorize=False)
def list_virtual_MFA_devices(
    call: Call,
    AssignmentStatus: str = "Any",
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ListVirtualMFADevices", f"arn:aws:iam::{call.account}:mfa/*")
    items = [d.to_virtual(u) for d, u in model.list_devices(call, AssignmentStatus)]
    return page_out(call, "VirtualMFADevices", items, Marker, MaxItems)


@service.operation(authorize=False)
def tag_MFA_device(
    call: Call, SerialNumber: str, Tags: list[dict[str, str]], **_: Any
) -> dict[str, Any]:
    call.authorize("iam:TagMFADevice", SerialNumber, tag_context(Tags))
    device = model.resolve_device(call, SerialNumber)
    model.set_tags(
        call, device, merge_tags(call, device.tags, check_new_tags(call, Tags), "MFADevice")
    )
    return {}


@service.operation(authorize=False)
def untag_MFA_device(call: Call, SerialNumber: str, TagKeys: list[str], **_: Any) -> dict[str, Any]:
    call.authorize("iam:UntagMFADevice", SerialNumber, tag_context(None, TagKeys))
    device = model.resolve_device(call, SerialNumber)
    model.set_tags(call, device, remove_tags(device.tags, TagKeys))
    return {}


@service.operation(authorize=False)
def list_MFA_device_tags(
    call: Call,
    SerialNumber: str,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    call.authorize("iam:ListMFADeviceTags", SerialNumber)
    device = model.resolve_device(call, SerialNumber)
    return page_out(call, "Tags", device.tags, Marker, MaxItems)


def _user(call: Call, action: str, user_name: str | None) -> users.User:
    """Authorize `action` on the named user (or the calling IAM user) and find it."""
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
