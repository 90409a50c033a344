"""Server-side encryption: every object body is encrypted under a data key
of its own; what wraps that key is the object's encryption.

* SSE-S3 (``AES256``, the floor): the data key is sealed under the bucket
  owner's S3 key, 32 random bytes kept only sealed by the root key
  (`tables.account_keys`).
* SSE-KMS (``aws:kms``): KMS's GenerateDataKey makes the data key, called
  through KMS's internal API for the caller (``kms:ViaService``
  ``s3.<region>.amazonaws.com``), with the encryption context
  ``{"aws:s3:arn": <object ARN>}``; reading asks KMS's Decrypt each time,
  so a disabled or deleted key makes the object unreadable at once
  (``KMS.DisabledException``).
* SSE-KMS with an S3 Bucket Key: KMS makes one data key for the bucket
  (context ``{"aws:s3:arn": <bucket ARN>}``), reused for `BUCKET_KEY_SECONDS`
  to wrap the objects' own data keys, so writes stop costing a KMS call
  each; each object keeps the wrapped bucket key it was written under.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from strongroom.encoding import b64_bytes, b64_text
from strongroom.framework import Call
from strongroom.ids import random_bytes
from strongroom.services.kms import api as kms
from strongroom.services.s3 import buckets, names, tables
from strongroom.services.s3.buckets import Bucket
from strongroom.services.s3.service import errors
from strongroom.store.db import HotTables, Prepared
from strongroom.store.sealing import Sealer, SealError

AES256 = "AES256"
KMS = "aws:kms"
DSSE = "aws:kms:dsse"
#: What the `sse` column says of an object under a customer-provided key.
SSE_C = "SSE-C"
MANAGED_ALIAS = "alias/aws/s3"
BUCKET_KEY_SECONDS = 3600.0

#: Where an object whose data key was made with more encryption context
#: than ``aws:s3:arn`` (CloudTrail's log files: ``aws:cloudtrail:arn``) keeps
#: those pairs, among its headers: reading it asks KMS with the same context.
CONTEXT_HEADER = "SSEKMSEncryptionContext"

_lock = threading.Lock()
#: (bucket, wrapped bucket key) -> its plaintext: for writes only.
_bucket_keys: dict[tuple[str, bytes], bytes] = {}


@dataclass(slots=True)
class Encryption:
    """How an object is (to be) encrypted."""

    sse: str
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False
    #: The caller asked for it (not the bucket default).
    explicit: bool = False


@dataclass(slots=True)
class DataKey:
    plaintext: bytes
    wrapped: bytes
    sse: str
    kms_key_arn: str | None = None
    bucket_key: bytes | None = None

    def members(self) -> dict[str, Any]:
        if self.sse == SSE_C:
            return {}  # the operation names the algorithm and the key's MD5
        out: dict[str, Any] = {"ServerSideEncryption": self.sse}
        if self.kms_key_arn:
            out["SSEKMSKeyId"] = self.kms_key_arn
        if self.bucket_key is not None:
            out["BucketKeyEnabled"] = True
        return out


_ACCOUNT_KEY = Prepared(
    select(tables.account_keys.c.sealed).where(
        tables.account_keys.c.account == bindparam("account")
    )
)


#: (account, its sealed S3 key as stored) -> a Sealer under that key. Keyed
#: by the stored bytes, read every time: a key only ever cached after it
#: was read back, never one made in a transaction that may roll back.
_account_sealers: dict[tuple[str, bytes], Sealer] = {}


#: The account keys change only when an account's first key is made.
_ACCOUNT_KEY_TABLES = HotTables(tables.account_keys)


def _account_sealer(call: Call, conn: Connection, account: str) -> Sealer:
    """A Sealer under the account's S3 key (made on first use)."""
    store = call.store
    cached = store.hot_get(("s3-account-sealer", account), _ACCOUNT_KEY_TABLES)
    if cached is not None:
        return cached
    row = _ACCOUNT_KEY.first(conn, account=account)
    aad = f"s3-account-key:{account}".encode()
    if row is not None:
        sealed = bytes(row.sealed)
        found = _account_sealers.get((account, sealed))
        if found is None:
            found = Sealer(call.sealer.unseal(sealed, aad))
            with _lock:
                if len(_account_sealers) > 4096:
                    _account_sealers.clear()
                _account_sealers[(account, sealed)] = found
        store.hot_put(("s3-account-sealer", account), found, _ACCOUNT_KEY_TABLES)
        return found
    key = random_bytes(32)
    t = tables.account_keys
    conn.execute(insert(t).values(account=account, sealed=call.sealer.seal(key, aad)))
    return Sealer(key)


def choose(
    bucket: Bucket,
    sse: str | None,
    kms_key_id: str | None,
    bucket_key_enabled: bool | None,
) -> Encryption:
    """The encryption a new object gets: the request's, else the bucket default."""
    if sse is not None:
        if sse not in (AES256, KMS, DSSE):
            raise errors.InvalidArgument(
                "The encryption method specified is not supported",
                ArgumentName="x-amz-server-side-encryption",
                ArgumentValue=sse,
            )
        if kms_key_id and sse == AES256:
            raise errors.InvalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms"
            )
        default = default_rule(bucket)
        enabled = bucket_key_enabled
        if enabled is None and default is not None:
            enabled = bool(default.get("BucketKeyEnabled"))
        return Encryption(sse, kms_key_id, bool(enabled) and sse == KMS, True)
    if kms_key_id:
        raise errors.InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms"
        )
    rule = default_rule(bucket)
    if rule is None:
        return Encryption(AES256)
    by_default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = by_default.get("SSEAlgorithm", AES256)
    enabled = bucket_key_enabled if bucket_key_enabled is not None else rule.get("BucketKeyEnabled")
    return Encryption(
        algorithm, by_default.get("KMSMasterKeyID"), bool(enabled) and algorithm == KMS
    )


def default_rule(bucket: Bucket) -> dict[str, Any] | None:
    rules = (bucket.encryption or {}).get("Rules") or []
    return rules[0] if rules else None


def _kms_key(call: Call, bucket: Bucket, enc: Encryption) -> str:
    if enc.kms_key_id and enc.kms_key_id != MANAGED_ALIAS:
        return enc.kms_key_id
    return kms.aws_managed_key(call, "s3", account=bucket.account, region=bucket.region)


def kms_error(err: Exception) -> Exception:
    """S3's answer to a KMS refusal, as AWS gives it (``KMS.<code>``)."""
    code = getattr(err, "code", None)
    if not isinstance(code, str):
        return err
    message = getattr(err, "message", "")
    if code == "AccessDeniedException":
        return errors.AccessDenied(message or "Access Denied")
    if code in ("DisabledException", "NotFoundException", "KMSInvalidStateException"):
        return getattr(errors, f"KMS.{code}")(message)
    if code == "InvalidCiphertextException":
        return errors.AccessDenied("The ciphertext refers to a KMS key that cannot be used")
    return errors.InvalidArgument(message or code)


def new_key(
    call: Call,
    bucket: Bucket,
    aad_name: str,
    enc: Encryption,
    context: dict[str, str] | None = None,
) -> DataKey:
    """A fresh data key for an object (or an upload's parts) named `aad_name`;
    `context` adds pairs to KMS's encryption context (CloudTrail's
    ``aws:cloudtrail:arn`` on its log files)."""
    conn = call.conn
    if enc.sse == AES256:
        plain = random_bytes(32)
        wrapped = _account_sealer(call, conn, bucket.account).seal(plain, _aad(aad_name))
        return DataKey(plain, wrapped, AES256)
    key_id = _kms_key(call, bucket, enc)
    try:
        if enc.bucket_key_enabled:
            bucket_plain, bucket_wrapped, arn = _bucket_key(call, bucket, key_id)
            plain = random_bytes(32)
            wrapped = Sealer(bucket_plain).seal(plain, _aad(aad_name))
            return DataKey(plain, wrapped, enc.sse, arn, bucket_wrapped)
        out = kms.generate_data_key(
            call, key_id, encryption_context={**(context or {}), "aws:s3:arn": _arn_of(aad_name)}
        )
    except Exception as err:
        raise kms_error(err) from None
    return DataKey(out["Plaintext"], out["CiphertextBlob"], enc.sse, out["KeyId"])


def _bucket_key(call: Call, bucket: Bucket, key_id: str) -> tuple[bytes, bytes, str]:
    now = call.clock.timestamp()
    if (
        bucket.bucket_key is not None
        and bucket.bucket_key_until is not None
        and bucket.bucket_key_until > now
        and bucket.bucket_key_arn is not None
        and _same_key(call, key_id, bucket.bucket_key_arn)
    ):
        with _lock:
            cached = _bucket_keys.get((bucket.name, bucket.bucket_key))
        if cached is not None:
            return cached, bucket.bucket_key, bucket.bucket_key_arn
    out = kms.generate_data_key(
        call, key_id, encryption_context={"aws:s3:arn": names.bucket_arn(bucket.name)}
    )
    plain, wrapped, arn = out["Plaintext"], out["CiphertextBlob"], out["KeyId"]
    buckets.set_fields(
        call.conn,
        bucket.name,
        bucket_key=wrapped,
        bucket_key_arn=arn,
        bucket_key_until=now + BUCKET_KEY_SECONDS,
    )
    bucket.bucket_key, bucket.bucket_key_arn = wrapped, arn
    bucket.bucket_key_until = now + BUCKET_KEY_SECONDS
    with _lock:
        if len(_bucket_keys) > 1024:
            _bucket_keys.clear()
        _bucket_keys[(bucket.name, wrapped)] = plain
    return plain, wrapped, arn


def _same_key(call: Call, key_id: str, arn: str) -> bool:
    if key_id == arn or arn.endswith(f":key/{key_id}"):
        return True
    # An alias (or the managed key): whatever it names now.
    return key_id.startswith("alias/") and kms.describe_key(call, key_id)["Arn"] == arn


def open_key(
    call: Call,
    bucket: Bucket,
    aad_name: str,
    sse: str,
    wrapped: bytes,
    bucket_key: bytes | None,
    customer_key: bytes | None = None,
    context: dict[str, str] | None = None,
) -> bytes:
    """The plaintext data key of an object, as the caller may open it
    (`context`: the pairs besides ``aws:s3:arn`` it was made with)."""
    if sse == SSE_C:
        if customer_key is None:
            raise errors.InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct "
                "parameters must be provided to retrieve the object."
            )
        try:
            return Sealer(customer_key).unseal(wrapped, _aad(aad_name))
        except SealError:
            raise errors.AccessDenied("Access Denied") from None
    if sse == AES256:
        try:
            return _account_sealer(call, call.conn, bucket.account).unseal(wrapped, _aad(aad_name))
        except SealError:
            raise errors.AccessDenied("The object's key does not open") from None
    try:
        if bucket_key is not None:
            plain_bucket = kms.decrypt(
                call, bucket_key, encryption_context={"aws:s3:arn": names.bucket_arn(bucket.name)}
            )["Plaintext"]
            return Sealer(plain_bucket).unseal(wrapped, _aad(aad_name))
        return kms.decrypt(
            call, wrapped, encryption_context={**(context or {}), "aws:s3:arn": _arn_of(aad_name)}
        )["Plaintext"]
    except SealError:
        raise errors.AccessDenied("The object's key does not open") from None
    except Exception as err:
        raise kms_error(err) from None


def customer_key(algorithm: str | None, key: str | None, md5: str | None) -> bytes | None:
    """The customer-provided key (SSE-C) a request carries, checked against
    its MD5; None when it carries none. The key is never stored."""
    if algorithm is None and key is None and md5 is None:
        return None
    if algorithm != "AES256":
        raise errors.InvalidArgument(
            "The encryption algorithm specified is not valid",
            ArgumentName="x-amz-server-side-encryption-customer-algorithm",
        )
    try:
        raw = b64_bytes(key or "")
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise errors.InvalidArgument(
            "The secret key was invalid for the specified algorithm.",
            ArgumentName="x-amz-server-side-encryption-customer-key",
        )
    if md5 is None or b64_text(hashlib.md5(raw).digest()) != md5:
        raise errors.InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName="x-amz-server-side-encryption-customer-key-MD5",
        )
    return raw


def customer_data_key(aad_name: str, key: bytes) -> DataKey:
    """A fresh data key sealed under the customer's key (SSE-C)."""
    plain = random_bytes(32)
    return DataKey(plain, Sealer(key).seal(plain, _aad(aad_name)), SSE_C)


def _aad(name: str) -> bytes:
    return f"s3-data-key:{name}".encode()


def _arn_of(aad_name: str) -> str:
    return f"arn:aws:s3:::{aad_name}"
