"""POST Object: browser-based uploads. A ``multipart/form-data`` POST to
the bucket whose fields (key, policy, x-amz-*, the object's headers and
metadata) come first and whose file comes last, signed by its policy:
SigV4 over the base64 policy text with the signing key of the form's
credential (`Runtime.authenticate_form`). The policy (`post_policy`) says
until when the form is good and what its fields may hold; the signer is
then authorized for s3:PutObject as a PutObject would be.

The body streams: a large one is spooled by the HTTP layer, and
`prepare_form` writes its file part as a blob before the transaction, as
PutObject's body is (`objects.prepare_body`)."""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from strongroom import forms
from strongroom.arn import is_known_region
from strongroom.framework import BodyStream, Call, Runtime
from strongroom.ids import random_bytes
from strongroom.services.s3 import (
    access,
    acls,
    buckets,
    conditions,
    crypto,
    locks,
    names,
    notifications,
    objects,
    post_policy,
)
from strongroom.services.s3.blobs import BlobStore
from strongroom.services.s3.objects import KEYED, Obj, PreparedBlob, new_blob_id
from strongroom.services.s3.ops_objects import STATUS, STORAGE_CLASSES, parse_tagging, with_grants
from strongroom.services.s3.service import MAX_OBJECT_BODY, bucket_of_host, errors, service

#: Bytes the fields before the file may take, names and values together.
MAX_FIELDS = 20 * 1024
_NOT_FORM = "Bucket POST must be of the enclosure-type multipart/form-data"
#: Form fields that become the object's headers, by the member they fill.
_HEADER_FIELDS = {
    "cache-control": "CacheControl",
    "content-type": "ContentType",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "expires": "Expires",
    "x-amz-website-redirect-location": "WebsiteRedirectLocation",
}
_SIGNATURE_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")


class PreparedForm(PreparedBlob):
    """A form whose file part `prepare_form` already wrote as a blob."""

    form: forms.Form | None = None

    def __bool__(self) -> bool:  # an empty file is still a form
        return True


def prepare_form(runtime: Runtime, body: BodyStream, headers: dict[str, str]) -> PreparedBlob:
    """Before the transaction: the form read as it streams, its file part
    written as a durable blob under a key of its own."""
    store: BlobStore = runtime.resource("s3_blobs")
    key = random_bytes(32)
    md5 = hashlib.md5()
    boundary = forms.boundary_of(headers.get("content-type"))
    form = None
    with store.writer(key, new_blob_id(KEYED)) as writer:
        if boundary is not None:

            def on_file(data: bytes) -> None:
                md5.update(data)
                writer.write(data)

            form = _read(body.chunks(), boundary, on_file)
        blob_id = writer.commit()
    prepared = PreparedForm(store, blob_id, key, writer.size, md5.digest(), {}, body)
    prepared.form = form
    return prepared


def _read(chunks: Any, boundary: str, on_file: Any) -> forms.Form:
    try:
        return forms.read_form(chunks, boundary, on_file, max_fields=MAX_FIELDS)
    except forms.FieldsTooLarge:
        raise errors.MaxPostPreDataLengthExceeded(
            "Your POST request fields preceding the upload file were too large.",
            MaxPostPreDataLength=str(MAX_FIELDS),
        ) from None
    except forms.MalformedForm:
        raise errors.MalformedPOSTRequest(
            "The body of your POST request is not well-formed multipart/form-data."
        ) from None


def _form_of(ContentType: str | None, Body: Any) -> tuple[forms.Form, Any]:
    """The form and the file's body (bytes, or the prepared blob)."""
    if isinstance(Body, PreparedForm):
        if Body.form is None:
            raise errors.PreconditionFailed(
                "At least one of the pre-conditions you specified did not hold",
                Condition=_NOT_FORM,
            )
        return Body.form, Body
    boundary = forms.boundary_of(ContentType)
    if boundary is None:
        raise errors.PreconditionFailed(
            "At least one of the pre-conditions you specified did not hold", Condition=_NOT_FORM
        )
    data = bytearray()
    raw = Body.read_all() if isinstance(Body, BodyStream) else (Body or b"")
    form = _read([bytes(raw)], boundary, data.extend)
    return form, bytes(data)


def _missing(name: str) -> Exception:
    return errors.InvalidArgument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check "
        "the order of the fields.",
        ArgumentName=name,
        ArgumentValue="",
    )


def _authenticate(call: Call, fields: dict[str, str]) -> None:
    """The form's signer becomes the call's principal (a form without a
    policy is anonymous, as AWS takes it)."""
    if "policy" not in fields:
        for name in ("x-amz-signature", "x-amz-credential", "awsaccesskeyid", "signature"):
            if name in fields:
                raise _missing("policy")
        return
    authenticate = call.runtime.authenticate_form
    if authenticate is None:  # a runtime without the pipeline's authenticator
        raise RuntimeError("no authenticate_form in this runtime")
    if "x-amz-credential" not in fields and "x-amz-algorithm" not in fields:
        # Signature Version 2 (boto3's generate_presigned_post without s3v4).
        for name in ("AWSAccessKeyId", "signature"):
            if name.lower() not in fields:
                raise _missing(name)
        credential, signature = fields["awsaccesskeyid"], fields["signature"]
    else:
        credential, signature = _v4_credential(fields), fields["x-amz-signature"]
    principal = authenticate(
        call.conn, credential, fields["policy"], signature, fields.get("x-amz-security-token")
    )
    call.principal = principal
    call.account = principal.account or call.account


def _v4_credential(fields: dict[str, str]) -> str:
    for name in _SIGNATURE_FIELDS:
        if name not in fields:
            raise _missing(name)
    algorithm = fields["x-amz-algorithm"]
    if algorithm != "AWS4-HMAC-SHA256":
        raise errors.InvalidArgument(
            "Invalid Algorithm: only AWS4-HMAC-SHA256 is supported",
            ArgumentName="x-amz-algorithm",
            ArgumentValue=algorithm,
        )
    credential = fields["x-amz-credential"]
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise errors.InvalidArgument(
            f"Invalid Credential: {credential}",
            ArgumentName="x-amz-credential",
            ArgumentValue=credential,
        )
    if not is_known_region(parts[2]):
        raise errors.InvalidArgument(
            f"Credential should be scoped to a valid region, not '{parts[2]}'. ",
            ArgumentName="x-amz-credential",
            ArgumentValue=credential,
        )
    if parts[3] != "s3":
        raise errors.InvalidArgument(
            f"Credential should be scoped to correct service: 's3'. {credential}",
            ArgumentName="x-amz-credential",
            ArgumentValue=credential,
        )
    if not fields["x-amz-date"].startswith(parts[1]):
        raise errors.InvalidArgument(
            "Invalid Date: the credential's date must be the date of x-amz-date",
            ArgumentName="x-amz-date",
            ArgumentValue=fields["x-amz-date"],
        )
    return credential


def _object_key(fields: dict[str, str], filename: str) -> str:
    key = fields.get("key")
    if key is None:
        raise _missing("key")
    key = key.replace("${filename}", filename)
    if not key:
        raise errors.InvalidArgument(
            "User key must have a length greater than 0.", ArgumentName="key", ArgumentValue=""
        )
    names.validate_key(key)
    return key


def _object_headers(fields: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in _HEADER_FIELDS.items():
        value = fields.get(name)
        if value is None:
            continue
        if member == "Expires":
            try:
                out[member] = parsedate_to_datetime(value).timestamp()
            except (TypeError, ValueError):
                continue  # S3 keeps an unreadable Expires out of the object
        else:
            out[member] = value
    return out


def _location(host: str | None, secure: bool, bucket: str, key: str) -> str:
    scheme = "https" if secure else "http"
    host = host or "s3.amazonaws.com"
    path = quote(key, safe="/~")
    if bucket_of_host(host) == bucket:  # virtual-hosted
        return f"{scheme}://{host}/{path}"
    return f"{scheme}://{host}/{bucket}/{path}"


def _redirect(url: str, bucket: str, key: str, etag: str) -> str:
    parts = urlsplit(url)
    query = urlencode({"bucket": bucket, "key": key, "etag": etag})
    joined = f"{parts.query}&{query}" if parts.query else query
    return parts._replace(query=joined).geturl()


@service.operation(
    authorize=False,
    data_event=True,
    anonymous=True,
    max_body=MAX_OBJECT_BODY,
    streaming=True,
    prepare=prepare_form,
    signed_in_body=True,
)
def post_object(
    call: Call,
    Bucket: str,
    ContentType: str | None = None,
    Host: str | None = None,
    Body: Any = None,
    **_: Any,
) -> dict[str, Any]:
    form, body = _form_of(ContentType, Body)
    bucket = buckets.require(call.conn, Bucket, call.store)
    fields: dict[str, str] = {}
    for name, value in form.fields.items():
        fields.setdefault(name.lower(), value)
    _authenticate(call, fields)
    if not form.has_file:
        raise errors.InvalidArgument(
            "POST requires exactly one file upload per request.",
            ArgumentName="file",
            ArgumentValue="0",
        )
    key = _object_key(fields, form.filename)
    # The key comes out of the form (${filename}), so the event's is set here.
    # run-time: the bucket and the key, never the form's fields.
    call.audit_request = {"bucketName": Bucket, "key": key}
    if "policy" in fields:
        post_policy.check(
            post_policy.decode(fields["policy"]),
            form.fields,
            Bucket,
            key,
            form.file_size,
            call.clock.timestamp(),
        )
    sse = fields.get("x-amz-server-side-encryption")
    kms_key = fields.get("x-amz-server-side-encryption-aws-kms-key-id")
    bucket_key = fields.get("x-amz-server-side-encryption-bucket-key-enabled")
    acl = fields.get("acl")
    enc = crypto.choose(
        bucket, sse, kms_key, None if bucket_key is None else bucket_key.lower() == "true"
    )
    access.authorize(call, "s3:PutObject", bucket, key, access.put_context(sse, kms_key, acl))
    tagging = fields.get("tagging")
    tags = parse_tagging(_tagging_query(tagging)) if tagging else {}
    if tags:
        access.authorize(call, "s3:PutObjectTagging", bucket, key)
    grants, owner = acls.for_new_object(call.conn, bucket, call.account, acl, {})
    storage = fields.get("x-amz-storage-class", "STANDARD")
    if storage not in STORAGE_CLASSES:
        raise errors.InvalidStorageClass("The storage class you specified is not valid")
    customer = crypto.customer_key(
        fields.get("x-amz-server-side-encryption-customer-algorithm"),
        fields.get("x-amz-server-side-encryption-customer-key"),
        fields.get("x-amz-server-side-encryption-customer-key-md5"),
    )
    if customer is not None and (sse or kms_key):
        raise errors.InvalidArgument(
            "Server Side Encryption with Customer provided key is incompatible with the "
            "encryption method specified"
        )
    now = call.clock.timestamp()
    lock = locks.for_new_version(bucket, None, None, None, now)
    current = objects.latest(call.conn, Bucket, key)
    existing = None if current is None or current.delete_marker else current
    conditions.check_write(existing, key, None, None)
    if bucket.versioning != "Enabled" and existing is not None:
        locks.check_removal(call, bucket, existing, None)
    dk = (
        crypto.customer_data_key(f"{Bucket}/{key}", customer)
        if customer is not None
        else crypto.new_key(call, bucket, f"{Bucket}/{key}", enc)
    )
    written = objects.write_body(call, dk.plaintext, body, {}, None)
    metadata = {
        name[len("x-amz-meta-") :]: value
        for name, value in fields.items()
        if name.startswith("x-amz-meta-")
    }
    obj = Obj(
        bucket=Bucket,
        key=key,
        size=written.size,
        etag=objects.etag_of(written.md5),
        last_modified=now,
        blob=written.blob,
        data_key=dk.wrapped,
        sse=dk.sse,
        kms_key_arn=dk.kms_key_arn,
        bucket_key=dk.bucket_key,
        headers=with_grants(_object_headers(fields), grants),
        metadata=metadata,
        tags=tags,
        checksum={},
        storage_class=storage,
        parts=None,
        owner=owner,
        **lock,
        customer_key_md5=fields.get("x-amz-server-side-encryption-customer-key-md5")
        if customer
        else None,
    )
    version = objects.store(call.conn, obj, now, bucket.versioning, current)
    notifications.emit(
        call, bucket, "s3:ObjectCreated:Post", key, size=obj.size, etag=obj.etag, version_id=version
    )
    location = _location(Host, call.secure, Bucket, key)
    out: dict[str, Any] = {"ETag": obj.etag, "Location": location, **obj.sse_members()}
    if bucket.versioning:
        out["VersionId"] = version
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    status = fields.get("success_action_status")
    if redirect and _is_url(redirect):
        out["Location"] = _redirect(redirect, Bucket, key, obj.etag)
        out[STATUS] = 303
    elif status == "201":
        out["PostResponse"] = {"Location": location, "Bucket": Bucket, "Key": key, "ETag": obj.etag}
        out[STATUS] = 201
    elif status == "200":
        out[STATUS] = 200
    return out


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _tagging_query(xml_text: str) -> str:
    """The ``tagging`` field (a Tagging XML document) as the query form
    `parse_tagging` reads."""
    return urlencode(post_policy.tags_of_xml(xml_text))
