"""AWS Signature Version 4 verification.

Two steps, so the caller can look the access key up in between:

* `extract(req)` reads the signature parameters from the Authorization header
  or from the query string (presigned URLs) and returns a `SignatureInfo`, or
  None when the request carries no SigV4 authentication at all.
* `verify(req, info, secret, now)` checks the clock and recomputes the
  signature with the secret behind `info.access_key_id`.

Both raise `SigV4Error`, whose `reason` says which AWS error the caller should
answer with:

* ``incomplete`` -- a malformed or partial Authorization header or query auth
  (IncompleteSignature / AuthorizationHeaderMalformed /
  AuthorizationQueryParametersError);
* ``mismatch``   -- the signature does not match (SignatureDoesNotMatch /
  InvalidSignatureException); also a body that does not match a signed
  ``x-amz-content-sha256``;
* ``expired``    -- outside the allowed clock skew, or a presigned URL past its
  expiry;
* ``bad_date``   -- an unreadable X-Amz-Date / Date, or a credential scope
  dated on another day than the request;
* ``unsigned``   -- a header that decides what the request does (``x-amz-*``,
  ``smithy-protocol``, which routes Smithy RPC v2 requests, and outside S3
  ``content-type``) is present but not signed.

The canonical request follows AWS exactly: every service except S3 normalizes
the URI path and encodes it a second time; S3 signs the path as sent. Query
parameters are decoded (``+`` is a space) and re-encoded with the RFC 3986
unreserved set, then sorted by key and value. Streaming payloads
(``STREAMING-...``) are taken at their header value; chunk signatures are not
checked here.

This is on every request's path, so it avoids work it can: signing keys are
cached, already-canonical paths and query parameters are used as they are, and
the digests come from the one-shot `hmac.digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_plus, unquote_to_bytes

from strongroom.auth import chunked
from strongroom.protocol.http import BodyStream, Request

__all__ = [
    "ALGORITHM",
    "MAX_PRESIGN_EXPIRES",
    "UNSIGNED_PAYLOAD",
    "SigV4Error",
    "SignatureInfo",
    "canonical_request",
    "extract",
    "require_signed_headers",
    "signing_key",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGN_EXPIRES = 604800
_TERMINATOR = "aws4_request"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"

MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
CONTENT_SHA256_MISMATCH_MESSAGE = (
    "The provided 'x-amz-content-sha256' header does not match what was computed."
)
_BAD_CONTENT_SHA256_MESSAGE = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "or a valid sha256 value."
)
_QUERY_PARAMS_MESSAGE = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
    "and X-Amz-Expires parameters."
)
_BOTH_MECHANISMS_MESSAGE = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    "Signature query string parameter or the Authorization header should be specified"
)
_REPEATED_AUTH_MESSAGE = (
    "Only one Authorization header is allowed; the request carries more than one."
)
_REPEATED_QUERY_MESSAGE = "must be given at most once in the query string."
HOST_UNSIGNED_MESSAGE = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
UNSIGNED_HEADERS_MESSAGE = "There were headers present in the request which were not signed"
_CREDENTIAL_SHAPE = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'

# Already canonical: nothing to decode or encode.
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]*", re.ASCII)
# A path that normalization and encoding leave unchanged: unreserved characters
# only, no empty segments, no segment starting with '.' (so no '.' / '..').
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9\-_~][A-Za-z0-9\-._~]*)*/?", re.ASCII)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z", re.ASCII)
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_AUTH_QUERY_KEYS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")


@dataclass(slots=True)
class SignatureInfo:
    """What a request's SigV4 authentication says (treat as read-only; not
    frozen because a frozen dataclass costs microseconds to build)."""

    access_key_id: str
    #: YYYYMMDD from the credential scope.
    date: str
    region: str
    #: The signing name from the credential scope.
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    #: tz-aware UTC, from X-Amz-Date (header or query) or the Date header.
    amz_date: datetime
    #: X-Amz-Security-Token, header or query.
    session_token: str | None
    presigned: bool
    #: X-Amz-Expires of a presigned request.
    expires: int | None
    #: The request time exactly as it enters the string to sign (ISO 8601 basic).
    timestamp: str = ""


class SigV4Error(Exception):
    """A request whose SigV4 authentication fails; `reason` picks the AWS error."""

    def __init__(self, reason: str, message: str, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        #: "incomplete", "mismatch", "expired", "bad_date" or "unsigned".
        self.reason = reason
        self.message = message
        #: What S3's SignatureDoesNotMatch tells the signer (StringToSign,
        #: CanonicalRequest, SignatureProvided): nothing secret.
        self.details = details

    def __repr__(self) -> str:
        return f"SigV4Error({self.reason!r}, {self.message!r})"


# -- signing keys -------------------------------------------------------------


@lru_cache(maxsize=4096)
def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The derived SigV4 signing key (four HMACs), cached per scope."""
    key = hmac.digest(("AWS4" + secret_access_key).encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


@lru_cache(maxsize=4096)
def _keyed(secret_access_key: str, date: str, region: str, service: str) -> tuple:
    """SHA-256 states already fed the inner and outer HMAC pads of the signing key.

    `hmac.digest` pays for an OpenSSL digest lookup and key setup on every call
    (several microseconds); copying two prepared states is a fraction of that.
    The cached states are only ever copied, never updated, so threads may share them.
    """
    key = signing_key(secret_access_key, date, region, service).ljust(64, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def _hmac_hex(keyed: tuple, message: bytes) -> str:
    inner = keyed[0].copy()
    inner.update(message)
    outer = keyed[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def policy_signature(
    secret_access_key: str, date: str, region: str, service: str, policy: str
) -> str:
    """The SigV4 signature of a browser-based upload's form (S3's POST
    Object): the hex HMAC of the base64 policy text under the signing key
    of the credential's scope."""
    return _hmac_hex(_keyed(secret_access_key, date, region, service), policy.encode("utf-8"))


# -- extraction ---------------------------------------------------------------


def extract(req: Request) -> SignatureInfo | None:
    """The SigV4 parameters of `req`; None when it carries no SigV4 auth at all.

    Any Authorization header counts as an attempt at SigV4, as it does at AWS:
    one that is not well-formed SigV4 raises ``incomplete``.
    """
    query = req.query
    auth = req.headers.get("authorization")
    if auth is None:
        if not query or "X-Amz-" not in query:
            return None
        params = _auth_query_params(query, strict=True)
        if not any(k in params for k in _AUTH_QUERY_KEYS):
            return None
        return _extract_query(params, req.headers)
    if query and "X-Amz-" in query:
        params = _auth_query_params(query)
        if any(k in params for k in _AUTH_QUERY_KEYS):
            raise SigV4Error("incomplete", _BOTH_MECHANISMS_MESSAGE)
    if auth.count(ALGORITHM) > 1:
        # Repeated Authorization headers arrive joined with ','; the first
        # would otherwise be checked and the others ignored.
        raise SigV4Error("incomplete", _REPEATED_AUTH_MESSAGE)
    return _extract_header(auth, req.headers)


def _extract_header(auth: str, headers: dict[str, str]) -> SignatureInfo:
    # Fast path: the header exactly as the SDKs write it.
    parts = auth.split(",")
    if (
        len(parts) == 3
        and parts[0].startswith("AWS4-HMAC-SHA256 Credential=")
        and parts[1].startswith(" SignedHeaders=")
        and parts[2].startswith(" Signature=")
    ):
        credential = parts[0][28:].strip()
        signed = parts[1][15:].strip()
        signature = parts[2][11:].strip()
    else:
        credential, signed, signature = _parse_auth_header(auth)

    amz_date = headers.get("x-amz-date")
    http_date = headers.get("date") if amz_date is None else None
    missing = []
    if not credential:
        missing.append("Authorization header requires 'Credential' parameter.")
    if not signature:
        missing.append("Authorization header requires 'Signature' parameter.")
    if not signed:
        missing.append("Authorization header requires 'SignedHeaders' parameter.")
    if amz_date is None and http_date is None:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing:
        missing.append(f"Authorization={auth}")
        raise SigV4Error("incomplete", " ".join(missing))
    assert credential is not None and signature is not None and signed is not None

    access_key_id, date, region, service = _parse_scope(
        credential, "The authorization header is malformed; the Credential is mal-formed; "
    )
    if amz_date is not None:
        timestamp, when = _parse_amz_date(amz_date)
    else:
        assert http_date is not None
        timestamp, when = _parse_http_date(http_date)
    _check_scope_date(date, timestamp)
    return SignatureInfo(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(signed.split(";")),
        signature=signature,
        amz_date=when,
        session_token=headers.get("x-amz-security-token"),
        presigned=False,
        expires=None,
        timestamp=timestamp,
    )


def _parse_auth_header(auth: str) -> tuple[str | None, str | None, str | None]:
    """(Credential, SignedHeaders, Signature) of an Authorization header in any spacing."""
    text = auth.strip()
    algorithm, _, rest = text.partition(" ")
    credential = signed = signature = None
    if algorithm == ALGORITHM:
        for part in rest.split(","):
            part = part.strip()
            if not part:
                continue
            key, eq, value = part.partition("=")
            if not eq:
                raise SigV4Error(
                    "incomplete",
                    f"'{part}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{auth}'.",
                )
            key = key.strip()
            if key == "Credential":
                credential = value.strip()
            elif key == "SignedHeaders":
                signed = value.strip()
            elif key == "Signature":
                signature = value.strip()
    elif algorithm.startswith("AWS4-"):
        raise SigV4Error(
            "incomplete",
            f"Unsupported AWS 'algorithm': '{algorithm}'. Use {ALGORITHM}.",
        )
    return credential, signed, signature


def _auth_query_params(query: str, strict: bool = False) -> dict[str, str]:
    """The decoded X-Amz-* parameters of a raw query string.

    With `strict`, a repeated one is an error: which of two signatures, dates
    or credentials counts must never be the server's guess."""
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if pair.startswith("X-Amz-"):
            key, _, value = pair.partition("=")
            if key in params:
                if strict:
                    raise SigV4Error("incomplete", f"{key} {_REPEATED_QUERY_MESSAGE}")
                continue
            params[key] = unquote_plus(value)
    return params


def _extract_query(params: dict[str, str], headers: dict[str, str]) -> SignatureInfo:
    algorithm = params.get("X-Amz-Algorithm")
    credential = params.get("X-Amz-Credential")
    signature = params.get("X-Amz-Signature")
    amz_date = params.get("X-Amz-Date")
    signed = params.get("X-Amz-SignedHeaders")
    if not (algorithm and credential and signature and amz_date and signed):
        raise SigV4Error("incomplete", _QUERY_PARAMS_MESSAGE)
    if algorithm != ALGORITHM:
        raise SigV4Error("incomplete", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    access_key_id, date, region, service = _parse_scope(
        credential, "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
    )
    raw_expires = params.get("X-Amz-Expires")
    expires: int | None = None
    if raw_expires is None:
        if service == "s3":
            raise SigV4Error("incomplete", _QUERY_PARAMS_MESSAGE)
    elif raw_expires.startswith("-") and raw_expires[1:].isascii() and raw_expires[1:].isdigit():
        raise SigV4Error("incomplete", "X-Amz-Expires must be non-negative")
    elif not (raw_expires.isascii() and raw_expires.isdigit()):
        raise SigV4Error("incomplete", "X-Amz-Expires should be a number")
    else:
        expires = int(raw_expires)
        if expires > MAX_PRESIGN_EXPIRES:
            raise SigV4Error(
                "incomplete",
                f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}",
            )
    timestamp, when = _parse_amz_date(amz_date)
    _check_scope_date(date, timestamp)
    return SignatureInfo(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(signed.split(";")),
        signature=signature,
        amz_date=when,
        session_token=params.get("X-Amz-Security-Token"),
        presigned=True,
        expires=expires,
        timestamp=timestamp,
    )


def _parse_scope(credential: str, malformed: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0]:
        raise SigV4Error("incomplete", malformed + _CREDENTIAL_SHAPE)
    access_key_id, date, region, service, terminator = parts
    if terminator != _TERMINATOR:
        raise SigV4Error(
            "incomplete",
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', "
            f"not '{terminator}'.",
        )
    if not region:
        raise SigV4Error("incomplete", "Credential should be scoped to a valid region, not ''.")
    if not service:
        raise SigV4Error("incomplete", "Credential should be scoped to correct service: ''.")
    return access_key_id, date, region, service


@lru_cache(maxsize=1024)
def _parse_amz_date(value: str) -> tuple[str, datetime]:
    # Cached: requests of the same second carry the same stamp. Errors are not cached.
    if len(value) == 16 and _AMZ_DATE.fullmatch(value):
        try:
            # 3.11 reads ISO 8601 basic format; the regex keeps it to exactly that.
            return value, datetime.fromisoformat(value)
        except ValueError:
            pass
    raise SigV4Error(
        "bad_date",
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _parse_http_date(value: str) -> tuple[str, datetime]:
    try:
        when = parsedate_to_datetime(value)
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise SigV4Error("bad_date", f"Date must be in RFC 1123 format. Got '{value}'.") from None
    when = when.replace(microsecond=0)
    return when.strftime(_TIMESTAMP_FORMAT), when


def _check_scope_date(date: str, timestamp: str) -> None:
    if date != timestamp[:8]:
        raise SigV4Error(
            "bad_date",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{date}' != '{timestamp[:8]}', from '{timestamp}'.",
        )


# -- verification -------------------------------------------------------------


def verify(
    req: Request,
    info: SignatureInfo,
    secret_access_key: str,
    now: datetime | float,
    *,
    max_skew_seconds: int = 300,
) -> None:
    """Raise `SigV4Error` unless `req` is signed by `secret_access_key` and timely.

    `now`: a datetime (naive means UTC) or epoch seconds."""
    _check_time(info, now, max_skew_seconds)
    require_signed_headers(req, info)
    headers = req.headers
    payload = headers.get("x-amz-content-sha256")
    try:
        cr = canonical_request(req, info, payload)
        string_to_sign = (
            f"{ALGORITHM}\n{info.timestamp or info.amz_date.strftime(_TIMESTAMP_FORMAT)}\n"
            f"{info.date}/{info.region}/{info.service}/{_TERMINATOR}\n"
            f"{hashlib.sha256(cr.encode()).hexdigest()}"
        )
        keyed = _keyed(secret_access_key, info.date, info.region, info.service)
        expected = _hmac_hex(keyed, string_to_sign.encode())
    except (UnicodeError, ValueError):
        # Text that cannot be encoded: AWS could not have signed it either.
        raise SigV4Error("mismatch", MISMATCH_MESSAGE) from None
    signature = info.signature
    if not (signature.isascii() and hmac.compare_digest(expected, signature)):
        details = None
        if info.service == "s3":
            details = {
                "AWSAccessKeyId": info.access_key_id,
                "StringToSign": string_to_sign,
                "SignatureProvided": signature,
                "StringToSignBytes": " ".join(f"{b:02x}" for b in string_to_sign.encode()),
                "CanonicalRequest": cr,
                "CanonicalRequestBytes": " ".join(f"{b:02x}" for b in cr.encode()),
            }
        raise SigV4Error("mismatch", MISMATCH_MESSAGE, details)
    if payload is not None and payload.startswith("STREAMING-") and req.trailers is None:
        prefix = (
            f"{info.timestamp or info.amz_date.strftime(_TIMESTAMP_FORMAT)}\n"
            f"{info.date}/{info.region}/{info.service}/{_TERMINATOR}"
        )
        signed = payload in chunked.SIGNED
        decode_streaming(
            req,
            (lambda text: _hmac_hex(keyed, text.encode())) if signed else None,
            expected,
            prefix,
        )
        return
    # A signed body digest: the body itself may still have been altered.
    if (
        payload is not None
        and len(payload) == 64
        and _SHA256_HEX.fullmatch(payload)
        and _sha256_hex(req.body) != payload.lower()
    ):
        raise SigV4Error("mismatch", CONTENT_SHA256_MISMATCH_MESSAGE)


def decode_streaming(req: Request, sign: object = None, seed: str = "", prefix: str = "") -> None:
    """Replace an ``aws-chunked`` body by its payload, its trailers merged
    into the headers (`auth.chunked`); chunk signatures checked with `sign`."""
    if req.trailers is not None:
        return
    payload = req.headers.get("x-amz-content-sha256", "")
    if not payload.startswith("STREAMING-"):
        return
    source = req.body
    try:
        if isinstance(source, BodyStream):
            out = source.new_like()
            try:
                trailers = chunked.decode_stream(source.chunks(), out.write, sign, seed, prefix)  # type: ignore[arg-type]
            except BaseException:
                out.close()
                raise
            body: bytes | BodyStream = out.finish()
            source.close()
        else:
            body, trailers = chunked.decode(source, sign, seed, prefix)  # type: ignore[arg-type]
    except chunked.ChunkError as err:
        if err.signature:
            raise SigV4Error("mismatch", MISMATCH_MESSAGE) from None
        raise SigV4Error("chunked", err.message) from None
    declared = req.headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.isdigit() and int(declared) != len(body):
        raise SigV4Error("chunked", "You did not provide the number of bytes specified")
    req.body = body
    req.trailers = trailers
    req.headers.update(trailers)


def require_signed_headers(req: Request, info: SignatureInfo) -> None:
    """Everything that decides what a request does must be under its signature.

    `host` always; every `x-amz-*` header present (the target operation, the
    body digest, the date, S3's request options); and, outside S3, the
    content type, which picks between the JSON and the query protocols.
    S3 presigned uploads may set their object's content type freely, as AWS
    allows. Raises ``incomplete`` for an unsigned host and ``unsigned``
    naming the other unsigned headers."""
    signed = info.signed_headers
    if "host" not in signed:
        raise SigV4Error("incomplete", HOST_UNSIGNED_MESSAGE)
    # A client sends and signs the same header names on every request: the
    # verdict for that pair of name lists is worked out once.
    unsigned = _unsigned_headers(tuple(req.headers), signed, info.service == "s3")
    if unsigned:
        raise SigV4Error("unsigned", f"{UNSIGNED_HEADERS_MESSAGE}: {', '.join(unsigned)}")


@lru_cache(maxsize=1024)
def _unsigned_headers(
    present: tuple[str, ...], signed: tuple[str, ...], s3: bool
) -> tuple[str, ...]:
    signed_set = frozenset(signed)
    return tuple(
        sorted(
            name
            for name in present
            if name not in signed_set
            and (
                name.startswith("x-amz-")
                or name == "smithy-protocol"
                or (name == "content-type" and not s3)
            )
        )
    )


def _check_time(info: SignatureInfo, now: datetime | float, max_skew: int) -> None:
    if isinstance(now, float):  # the pipeline passes time.time(): no datetime unless it fails
        now_ts = now
    else:
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        now_ts = now.timestamp()
    signed_ts = info.amz_date.timestamp()
    if info.presigned and info.expires is not None:
        if now_ts > signed_ts + info.expires:
            raise SigV4Error("expired", "Request has expired")
        if signed_ts - now_ts > max_skew:
            raise SigV4Error("expired", "Request is not yet valid")
        return
    delta = now_ts - signed_ts
    if -max_skew <= delta <= max_skew:
        return
    stamp = info.timestamp or info.amz_date.strftime(_TIMESTAMP_FORMAT)
    now_utc = datetime.fromtimestamp(now_ts, UTC)
    minutes = f"{max_skew / 60:g} min."
    if delta > 0:
        edge = (now_utc - timedelta(seconds=max_skew)).strftime(_TIMESTAMP_FORMAT)
        message = (
            f"Signature expired: {stamp} is now earlier than {edge} "
            f"({now_utc.strftime(_TIMESTAMP_FORMAT)} - {minutes})"
        )
    else:
        edge = (now_utc + timedelta(seconds=max_skew)).strftime(_TIMESTAMP_FORMAT)
        message = (
            f"Signature not yet current: {stamp} is still later than {edge} "
            f"({now_utc.strftime(_TIMESTAMP_FORMAT)} + {minutes})"
        )
    raise SigV4Error("expired", message)


def canonical_request(req: Request, info: SignatureInfo, payload: str | None = None) -> str:
    """The canonical request string AWS would sign for `req` (for debugging and tests).

    `payload` is the x-amz-content-sha256 header value, if any.
    """
    s3 = info.service == "s3"
    if payload is None:
        if info.presigned and s3:
            payload = UNSIGNED_PAYLOAD
        else:
            body = req.body
            payload = _sha256_hex(body) if body else _EMPTY_SHA256
    elif (
        payload != UNSIGNED_PAYLOAD
        and not payload.startswith("STREAMING-")
        and not (len(payload) == 64 and _SHA256_HEX.fullmatch(payload))
    ):
        raise SigV4Error("incomplete", _BAD_CONTENT_SHA256_MESSAGE)

    path = req.path
    if s3:
        path = path or "/"
    elif path != "/" and not (path and _PLAIN_PATH.fullmatch(path)):
        path = quote(_remove_dot_segments(path), safe="/~")

    query = req.query
    if query:
        query = _canonical_query(query, info.presigned)

    get = req.headers.get
    signed = info.signed_headers
    # Values trimmed, inner whitespace runs collapsed; a missing header signs as empty.
    lines = "".join([f"{name}:{' '.join(get(name, '').split())}\n" for name in signed])
    return f"{req.method.upper()}\n{path}\n{query}\n{lines}\n{';'.join(signed)}\n{payload}"


def _sha256_hex(body: bytes | BodyStream) -> str:
    if isinstance(body, BodyStream):
        return body.sha256_hex()
    return hashlib.sha256(body).hexdigest()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal, also dropping empty segments (as AWS does)."""
    kept: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    joined = "/".join(kept)
    if path.startswith("/"):
        joined = "/" + joined
    if kept and path.endswith("/"):
        joined += "/"
    return joined or "/"


def _requote(text: str) -> str:
    """Decode a raw query component ('+' is a space) and encode it the AWS way."""
    text = text.replace("+", " ")
    try:
        # The server decodes the wire as latin-1: this gives back the bytes sent.
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = text.encode()
    return quote(unquote_to_bytes(raw), safe="-_.~")


def _canonical_query(query: str, presigned: bool) -> str:
    pairs = []
    plain = _UNRESERVED.fullmatch
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if presigned and key == "X-Amz-Signature":
            continue
        if not plain(key):
            key = _requote(key)
        if value and not plain(value):
            value = _requote(value)
        pairs.append((key, value))
    pairs.sort()
    return "&".join([f"{key}={value}" for key, value in pairs])
