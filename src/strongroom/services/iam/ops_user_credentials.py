"""IAM operations: service-specific credentials, signing certificates, SSH public keys."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.iam import user_credentials as model
from strongroom.services.iam import users
from strongroom.services.iam.common import page_out
from strongroom.services.iam.service import errors, service


def _owner(call: Call, action: str, user_name: str | None, *, root_allowed: bool) -> model.Owner:
    """Authorize `action` on the named user (or the caller) and say whose credential it is."""
    p = call.principal
    if user_name is None:
        call.authorize(action, p.arn)
        if p.type == "IAMUser" and p.user_name:
            user_name = p.user_name
        elif p.is_root and root_allowed:
            return model.Owner(f"root:{call.account}", None, call.account)
        else:
            raise errors.ValidationError(
                "Must specify userName when calling with non-User credentials"
            )
    else:
        call.authorize(action, users.arn_of(call, user_name))
    user = users.resolve_user(call, user_name)
    return model.Owner(user.user_id, user.user_name, call.account)


# -- service-specific credentials ----------------------------------------------------


@service.operation(authorize=False)
def create_service_specific_credential(
    call: Call, UserName: str, ServiceName: str, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:CreateServiceSpecificCredential", UserName, root_allowed=False)
    return {"ServiceSpecificCredential": model.create_service_credential(call, owner, ServiceName)}


@service.operation(authorize=False)
def list_service_specific_credentials(
    call: Call,
    UserName: str | None = None,
    ServiceName: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    owner = _owner(call, "iam:ListServiceSpecificCredentials", UserName, root_allowed=True)
    items = model.list_service_credentials(call, owner, ServiceName)
    return page_out(call, "ServiceSpecificCredentials", items, Marker, MaxItems)


@service.operation(authorize=False)
def update_service_specific_credential(
    call: Call,
    ServiceSpecificCredentialId: str,
    Status: str,
    UserName: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    owner = _owner(call, "iam:UpdateServiceSpecificCredential", UserName, root_allowed=True)
    model.set_service_credential_status(
        call, owner, ServiceSpecificCredentialId, Status == "Active"
    )
    return {}


@service.operation(authorize=False)
def reset_service_specific_credential(
    call: Call, ServiceSpecificCredentialId: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:ResetServiceSpecificCredential", UserName, root_allowed=True)
    credential = model.reset_service_credential(call, owner, ServiceSpecificCredentialId)
    return {"ServiceSpecificCredential": credential}


@service.operation(authorize=False)
def delete_service_specific_credential(
    call: Call, ServiceSpecificCredentialId: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:DeleteServiceSpecificCredential", UserName, root_allowed=True)
    model.delete_service_credential(call, owner, ServiceSpecificCredentialId)
    return {}


# -- signing certificates ----------------------------------------------------------------


@service.operation(authorize=False)
def upload_signing_certificate(
    call: Call, CertificateBody: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:UploadSigningCertificate", UserName, root_allowed=True)
    return {"Certificate": model.upload_certificate(call, owner, CertificateBody)}


@service.operation(authorize=False)
def list_signing_certificates(
    call: Call,
    UserName: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    owner = _owner(call, "iam:ListSigningCertificates", UserName, root_allowed=True)
    return page_out(call, "Certificates", model.list_certificates(call, owner), Marker, MaxItems)


@service.operation(authorize=False)
def update_signing_certificate(
    call: Call, CertificateId: str, Status: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:UpdateSigningCertificate", UserName, root_allowed=True)
    model.set_certificate_status(call, owner, CertificateId, Status == "Active")
    return {}


@service.operation(authorize=False)
def delete_signing_certificate(
    call: Call, CertificateId: str, UserName: str | None = None, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:DeleteSigningCertificate", UserName, root_allowed=True)
    model.delete_certificate(call, owner, CertificateId)
    return {}


# -- SSH public keys ----------------------------------------------------------------------


@service.operation(authorize=False)
def upload_SSH_public_key(
    call: Call, UserName: str, SSHPublicKeyBody: str, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:UploadSSHPublicKey", UserName, root_allowed=False)
    return {"SSHPublicKey": model.upload_ssh_key(call, owner, SSHPublicKeyBody)}


@service.operation(authorize=False)
def get_SSH_public_key(
    call: Call, UserName: str, SSHPublicKeyId: str, Encoding: str, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:GetSSHPublicKey", UserName, root_allowed=False)
    return {"SSHPublicKey": model.get_ssh_key(call, owner, SSHPublicKeyId, Encoding)}


@service.operation(authorize=False)
def list_SSH_public_keys(
    call: Call,
    UserName: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    owner = _owner(call, "iam:ListSSHPublicKeys", UserName, root_allowed=False)
    return page_out(call, "SSHPublicKeys", model.list_ssh_keys(call, owner), Marker, MaxItems)


@service.operation(authorize=False)
def update_SSH_public_key(
    call: Call, UserName: str, SSHPublicKeyId: str, Status: str, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:UpdateSSHPublicKey", UserName, root_allowed=False)
    model.set_ssh_key_status(call, owner, SSHPublicKeyId, Status == "Active")
    return {}


@service.operation(authorize=False)
def delete_SSH_public_key(
    call: Call, UserName: str, SSHPublicKeyId: str, **_: Any
) -> dict[str, Any]:
    owner = _owner(call, "iam:DeleteSSHPublicKey", UserName, root_allowed=False)
    model.delete_ssh_key(call, owner, SSHPublicKeyId)
    return {}
