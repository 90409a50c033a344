"""S3's Signature Version 2 in its query-string form: the presigned URLs
botocore and the aws CLI still make for S3 by default
(``?AWSAccessKeyId=...&Expires=...&Signature=...``).

    StringToSign = METHOD \\n Content-MD5 \\n Content-Type \\n Expires \\n
                   CanonicalizedAmzHeaders CanonicalizedResource
    Signature    = base64(HMAC-SHA1(secret, StringToSign))

The canonical resource is ``/<bucket>/<key>`` (the bucket from the host
name for a virtual-hosted request) followed by the sub-resources and
``response-*`` overrides the request names, sorted. Only S3 accepts it; the
header form (``Authorization: AWS ...``) is refused as AWS refuses it in the
Regions opened since 2014.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import unquote_plus

from strongroom.encoding import b64_text
from strongroom.protocol.http import Request

#: The query parameters that are part of the canonical resource.
SUB_RESOURCES = frozenset(
    {
        "acl", "cors", "delete", "encryption", "lifecycle", "location", "logging",
        "notification", "partNumber", "policy", "policyStatus", "requestPayment",
        "response-cache-control", "response-content-disposition",
        "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "tagging", "torrent",
        "uploadId", "uploads", "versionId", "versioning", "versions", "website",
        "object-lock", "retention", "legal-hold", "ownershipControls", "publicAccessBlock",
    }
)  # fmt: skip


@dataclass(slots=True)
class QueryV2:
    access_key_id: str
    signature: str
    expires: int


def extract(req: Request) -> QueryV2 | None:
    query = req.query
    if "AWSAccessKeyId=" not in query or "Signature=" not in query:
        return None
    params: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        params[key] = unquote_plus(value)
    try:
        return QueryV2(params["AWSAccessKeyId"], params["Signature"], int(params["Expires"]))
    except (KeyError, ValueError):
        return None


def string_to_sign(req: Request, expires: int) -> str:
    headers = req.headers
    amz = sorted((k, " ".join(v.split())) for k, v in headers.items() if k.startswith("x-amz-"))
    amz_text = "".join(f"{k}:{v}\n" for k, v in amz)
    path = req.path or "/"
    if req.virtual_bucket:
        path = f"/{req.virtual_bucket}{path}"
    subs = []
    for pair in req.query.split("&"):
        key, eq, value = pair.partition("=")
        if key in SUB_RESOURCES:
            subs.append((key, unquote_plus(value) if eq else None))
    if subs:
        subs.sort()
        path += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in subs)
    return (
        f"{req.method.upper()}\n{headers.get('content-md5', '')}\n"
        f"{headers.get('content-type', '')}\n{expires}\n{amz_text}{path}"
    )


def matches(req: Request, info: QueryV2, secret: str) -> bool:
    text = string_to_sign(req, info.expires)
    expected = b64_text(hmac.digest(secret.encode(), text.encode(), hashlib.sha1))
    return hmac.compare_digest(expected, info.signature)


def policy_signature(secret: str, policy: str) -> str:
    """The Signature Version 2 signature of a browser-based upload's form
    (S3's POST Object): base64 of the HMAC-SHA1 of the base64 policy text."""
    return b64_text(hmac.digest(secret.encode(), policy.encode("utf-8"), hashlib.sha1))
