"""GetFunction's ``Code.Location``: a pre-signed URL on this server from
which the deployment package downloads for ten minutes, as AWS's S3 URL does.

The URL carries a token sealed under the server's root key (AES-GCM, its
own associated data): the function, version, code digest and expiry. Only
this server makes such tokens, any of its processes reads them, and a token
changed by one bit does not open. It is served at
``/_strongroom/download/lambda/<function>?token=…`` (`Service.download`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from strongroom.encoding import json_text, json_value
from strongroom.services.lambda_ import code
from strongroom.store.sealing import SealError

_AAD = b"strongroom lambda code location v1"


def code_location(call: Any, v: Any) -> str:
    expires = int(call.clock.timestamp()) + code.URL_SECONDS
    claim = [v.account, v.region, v.name, v.version, code.hex_of(v.code_sha256), expires]
    token = call.sealer.seal(json_text(claim).encode(), _AAD).hex()
    base = call.runtime.resources.context.endpoint_url
    return f"{base}/_strongroom/download/lambda/{v.name}?token={token}"


def download(runtime: Any, path: str, query: str) -> tuple[int, bytes, str]:
    """Answer a Code.Location URL: the zip, or 403 for a token that is not
    this server's, names another function or has expired."""
    tokens = parse_qs(query).get("token")
    if not tokens:
        return _denied("Request has no token.")
    try:
        claim = json_value(runtime.sealer.unseal(bytes.fromhex(tokens[0]), _AAD))
        _account, _region, name, _version, sha_hex, expires = claim
    except (ValueError, SealError, TypeError):
        return _denied(
            "The request signature we calculated does not match the signature you provided."
        )
    if name != path:
        return _denied(
            "The request signature we calculated does not match the signature you provided."
        )
    if runtime.clock.timestamp() > expires:
        return _denied("Request has expired")
    try:
        data = runtime.resource("lambda_code").read(sha_hex)
    except (FileNotFoundError, ValueError):
        return 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"
    return 200, data, "application/zip"


def _denied(message: str) -> tuple[int, bytes, str]:
    body = f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
    return 403, body.encode(), "application/xml"
