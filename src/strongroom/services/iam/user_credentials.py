"""A user's other credentials: service-specific credentials (CodeCommit and
Keyspaces passwords, stored only sealed), X.509 signing certificates and SSH
public keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import delete, func, insert, select, update

from strongroom.arn import unique_id
from strongroom.encoding import b64_text, pem_bytes
from strongroom.framework import Call
from strongroom.ids import random_bytes
from strongroom.services.iam import ssh_keys
from strongroom.services.iam.common import when
from strongroom.services.iam.service import errors
from strongroom.services.iam.tables import (
    service_credentials,
    signing_certificates,
    ssh_public_keys,
)

#: Services that take service-specific credentials (user name and password).
CREDENTIAL_SERVICES = ("codecommit.amazonaws.com", "cassandra.amazonaws.com")
MAX_CREDENTIALS_PER_SERVICE = 2
MAX_CERTIFICATES = 2
MAX_SSH_KEYS = 5
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose credential: an IAM user, or the account root (user_name None)."""

    owner_id: str
    user_name: str | None
    account: str

    @property
    def shown_name(self) -> str:
        return self.user_name or self.account


def _status(active: bool) -> str:
    return "Active" if active else "Inactive"


def _count(call: Call, table: Any, *where: Any) -> int:
    return call.conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


# -- service-specific credentials ------------------------------------------------


def _service_user_name(owner: Owner) -> str:
    return f"{owner.shown_name}-at-{owner.account}"


def _new_password() -> str:
    return b64_text(random_bytes(32))


def _password_aad(credential_id: str) -> bytes:
    return f"iam-service-credential:{credential_id}".encode()


def require_service(call: Call, service_name: str) -> None:
    if service_name not in CREDENTIAL_SERVICES:
        raise errors.ServiceNotSupportedException(
            f"No such service {service_name} is supported for Service-Specific Credentials"
        )


def create_service_credential(call: Call, owner: Owner, service_name: str) -> dict[str, Any]:
    require_service(call, service_name)
    if (
        _count(
            call,
            service_credentials,
            service_credentials.c.user_id == owner.owner_id,
            service_credentials.c.service_name == service_name,
        )
        >= MAX_CREDENTIALS_PER_SERVICE
    ):
        raise errors.LimitExceededException(
            "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
            f"{MAX_CREDENTIALS_PER_SERVICE}"
        )
    credential_id = unique_id("ACCA", 21)
    password = _new_password()
    now = call.clock.timestamp()
    call.conn.execute(
        insert(service_credentials).values(
            credential_id=credential_id,
            account=call.account,
            user_id=owner.owner_id,
            service_name=service_name,
            active=True,
            created=now,
            password_sealed=call.sealer.seal_str(password, _password_aad(credential_id)),
        )
    )
    return {
        "CreateDate": when(now),
        "ServiceName": service_name,
        "ServiceUserName": _service_user_name(owner),
        "ServicePassword": password,
        "ServiceSpecificCredentialId": credential_id,
        "UserName": owner.shown_name,
        "Status": "Active",
    }


def _credential_row(call: Call, owner: Owner, credential_id: str) -> Any:
    row = call.conn.execute(
        select(service_credentials).where(
            service_credentials.c.credential_id == credential_id,
            service_credentials.c.user_id == owner.owner_id,
        )
    ).first()
    if row is None:
        raise errors.NoSuchEntityException(f"No such credential {credential_id} exists")
    return row


def list_service_credentials(
    call: Call, owner: Owner, service_name: str | None
) -> list[dict[str, Any]]:
    if service_name is not None:
        require_service(call, service_name)
    query = select(service_credentials).where(service_credentials.c.user_id == owner.owner_id)
    if service_name is not None:
        query = query.where(service_credentials.c.service_name == service_name)
    rows = call.conn.execute(query.order_by(service_credentials.c.created)).all()
    return [
        {
            "UserName": owner.shown_name,
            "Status": _status(r.active),
            "ServiceUserName": _service_user_name(owner),
            "CreateDate": when(r.created),
            "ServiceSpecificCredentialId": r.credential_id,
            "ServiceName": r.service_name,
        }
        for r in rows
    ]


def set_service_credential_status(
    call: Call, owner: Owner, credential_id: str, active: bool
) -> None:
    _credential_row(call, owner, credential_id)
    call.conn.execute(
        update(service_credentials)
        .where(service_credentials.c.credential_id == credential_id)
        .values(active=active)
    )


def reset_service_credential(call: Call, owner: Owner, credential_id: str) -> dict[str, Any]:
    row = _credential_row(call, owner, credential_id)
    password = _new_password()
    call.conn.execute(
        update(service_credentials)
        .where(service_credentials.c.credential_id == credential_id)
        .values(password_sealed=call.sealer.seal_str(password, _password_aad(credential_id)))
    )
    return {
        "CreateDate": when(row.created),
        "ServiceName": row.service_name,
        "ServiceUserName": _service_user_name(owner),
        "ServicePassword": password,
        "ServiceSpecificCredentialId": credential_id,
        "UserName": owner.shown_name,
        "Status": _status(row.active),
    }


def delete_service_credential(call: Call, owner: Owner, credential_id: str) -> None:
    _credential_row(call, owner, credential_id)
    call.conn.execute(
        delete(service_credentials).where(service_credentials.c.credential_id == credential_id)
    )


# -- signing certificates -------------------------------------------------------------


def _certificate_id(der: bytes) -> str:
    """A stable id from the certificate: its SHA-1 digest in base32 (32 characters)."""
    bits = int.from_bytes(hashlib.sha1(der, usedforsecurity=False).digest(), "big")
    return "".join(_B32[(bits >> (155 - 5 * i)) & 31] for i in range(32))


def _to_certificate(owner: Owner, row: Any) -> dict[str, Any]:
    return {
        "UserName": owner.shown_name,
        "CertificateId": row.certificate_id,
        "CertificateBody": row.body,
        "Status": _status(row.active),
        "UploadDate": when(row.uploaded),
    }


def upload_certificate(call: Call, owner: Owner, body: str) -> dict[str, Any]:
    try:
        x509.load_pem_x509_certificate(body.strip().encode())
        der = pem_bytes(body)
    except ValueError:
        raise errors.MalformedCertificateException(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from None
    certificate_id = _certificate_id(der)
    taken = call.conn.execute(
        select(signing_certificates.c.certificate_id).where(
            signing_certificates.c.certificate_id == certificate_id
        )
    ).first()
    if taken is not None:
        raise errors.DuplicateCertificateException("The same certificate already exists.")
    if (
        _count(call, signing_certificates, signing_certificates.c.user_id == owner.owner_id)
        >= MAX_CERTIFICATES
    ):
        raise errors.LimitExceededException(
            f"Cannot exceed quota for SigningCertificatesPerUser: {MAX_CERTIFICATES}"
        )
    now = call.clock.timestamp()
    values = {
        "certificate_id": certificate_id,
        "account": call.account,
        "user_id": owner.owner_id,
        "body": body,
        "active": True,
        "uploaded": now,
    }
    call.conn.execute(insert(signing_certificates).values(**values))
    return _to_certificate(owner, _Row(values))


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def list_certificates(call: Call, owner: Owner) -> list[dict[str, Any]]:
    rows = call.conn.execute(
        select(signing_certificates)
        .where(signing_certificates.c.user_id == owner.owner_id)
        .order_by(signing_certificates.c.uploaded)
    ).all()
    return [_to_certificate(owner, r) for r in rows]


def _require_certificate(call: Call, owner: Owner, certificate_id: str) -> None:
    found = call.conn.execute(
        select(signing_certificates.c.certificate_id).where(
            signing_certificates.c.certificate_id == certificate_id,
            signing_certificates.c.user_id == owner.owner_id,
        )
    ).first()
    if found is None:
        raise errors.NoSuchEntityException(
            f"The Certificate with id {certificate_id} cannot be found."
        )


def set_certificate_status(call: Call, owner: Owner, certificate_id: str, active: bool) -> None:
    _require_certificate(call, owner, certificate_id)
    call.conn.execute(
        update(signing_certificates)
        .where(signing_certificates.c.certificate_id == certificate_id)
        .values(active=active)
    )


def delete_certificate(call: Call, owner: Owner, certificate_id: str) -> None:
    _require_certificate(call, owner, certificate_id)
    call.conn.execute(
        delete(signing_certificates).where(signing_certificates.c.certificate_id == certificate_id)
    )


# -- SSH public keys ------------------------------------------------------------------


def upload_ssh_key(call: Call, owner: Owner, body: str) -> dict[str, Any]:
    try:
        key = ssh_keys.parse(body)
    except ssh_keys.BadKey as exc:
        if exc.unrecognized:
            raise errors.UnrecognizedPublicKeyEncodingException(
                "The public key encoding format is unrecognized."
            ) from None
        raise errors.InvalidPublicKeyException(
            "The public key is not valid. Make sure it is an ssh-rsa key of 2048 to 16384 bits."
        ) from None
    fingerprint = key.fingerprint()
    duplicate = call.conn.execute(
        select(ssh_public_keys.c.key_id).where(
            ssh_public_keys.c.user_id == owner.owner_id,
            ssh_public_keys.c.fingerprint == fingerprint,
        )
    ).first()
    if duplicate is not None:
        raise errors.DuplicateSSHPublicKeyException(
            "The public key you have provided is already associated with this user."
        )
    if _count(call, ssh_public_keys, ssh_public_keys.c.user_id == owner.owner_id) >= MAX_SSH_KEYS:
        raise errors.LimitExceededException(
            f"Cannot exceed quota for SSHPublicKeysPerUser: {MAX_SSH_KEYS}"
        )
    key_id = unique_id("APKA", 21)
    now = call.clock.timestamp()
    call.conn.execute(
        insert(ssh_public_keys).values(
            key_id=key_id,
            account=call.account,
            user_id=owner.owner_id,
            body=body,
            fingerprint=fingerprint,
            active=True,
            uploaded=now,
        )
    )
    return {
        "UserName": owner.shown_name,
        "SSHPublicKeyId": key_id,
        "Fingerprint": fingerprint,
        "SSHPublicKeyBody": body,
        "Status": "Active",
        "UploadDate": when(now),
    }


def _ssh_row(call: Call, owner: Owner, key_id: str) -> Any:
    row = call.conn.execute(
        select(ssh_public_keys).where(
            ssh_public_keys.c.key_id == key_id, ssh_public_keys.c.user_id == owner.owner_id
        )
    ).first()
    if row is None:
        raise errors.NoSuchEntityException(f"The Public Key with id {key_id} cannot be found.")
    return row


def get_ssh_key(call: Call, owner: Owner, key_id: str, encoding: str) -> dict[str, Any]:
    row = _ssh_row(call, owner, key_id)
    key = ssh_keys.parse(row.body)
    return {
        "UserName": owner.shown_name,
        "SSHPublicKeyId": key_id,
        "Fingerprint": row.fingerprint,
        "SSHPublicKeyBody": key.to_pem() if encoding == "PEM" else key.to_ssh(),
        "Status": _status(row.active),
        "UploadDate": when(row.uploaded),
    }


def list_ssh_keys(call: Call, owner: Owner) -> list[dict[str, Any]]:
    rows = call.conn.execute(
        select(ssh_public_keys)
        .where(ssh_public_keys.c.user_id == owner.owner_id)
        .order_by(ssh_public_keys.c.uploaded)
    ).all()
    return [
        {
            "UserName": owner.shown_name,
            "SSHPublicKeyId": r.key_id,
            "Status": _status(r.active),
            "UploadDate": when(r.uploaded),
        }
        for r in rows
    ]


def set_ssh_key_status(call: Call, owner: Owner, key_id: str, active: bool) -> None:
    _ssh_row(call, owner, key_id)
    call.conn.execute(
        update(ssh_public_keys).where(ssh_public_keys.c.key_id == key_id).values(active=active)
    )


def delete_ssh_key(call: Call, owner: Owner, key_id: str) -> None:
    _ssh_row(call, owner, key_id)
    call.conn.execute(delete(ssh_public_keys).where(ssh_public_keys.c.key_id == key_id))
