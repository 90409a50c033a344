"""Authentication: from a request's SigV4 signature to a `Principal`.

`--auth sigv4` (the default) verifies every signature against the stored
keys. `--auth permissive` accepts any credentials as the account root, for
test suites written for moto: an access key id of exactly 12 digits names the
account, any other key means the default account.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from strongroom.arn import DEFAULT_ACCOUNT, is_account_id
from strongroom.auth import credentials, sigv2, sigv4
from strongroom.auth.principal import Principal, root_principal
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request
from strongroom.store.db import Store
from strongroom.store.sealing import Sealer


@dataclass(slots=True)
class AuthFailure(Exception):
    #: missing, incomplete, unknown_key, mismatch, expired, token_expired,
    #: token_invalid, unsigned (a header that decides the request is not
    #: signed), scope (the credential scope names another service or no region
    #: this endpoint serves)
    kind: str
    message: str
    account: str | None = None
    access_key_id: str | None = None
    principal: Principal | None = None
    #: Extra members of the error (S3's StringToSign, CanonicalRequest…).
    fields: dict[str, str] | None = None


class Authenticator:
    def __init__(self, mode: str, sealer: Sealer, store: Store | None = None) -> None:
        if mode not in ("sigv4", "permissive"):
            raise ValueError(f"unknown auth mode {mode!r}")
        self.mode = mode
        #: Signatures are checked (not --auth permissive).
        self.verifies = mode == "sigv4"
        self.sealer = sealer
        #: Its hot cache keeps unsealed credentials for as long as the store's
        #: state is unchanged (a deleted or deactivated key changes it).
        self.store = store

    def authenticate(
        self,
        conn: Connection,
        req: Request,
        info: sigv4.SignatureInfo | None,
        now: datetime | float,
        *,
        clock_now: datetime | float | None = None,
        anonymous_ok: bool = False,
        s3: bool = False,
    ) -> Principal:
        """`now` is the wall clock (signatures are made with it); `clock_now` the
        service clock, which may run ahead under --time-travel (session expiry).
        Either may be a datetime or epoch seconds."""
        if self.mode == "permissive":
            try:
                sigv4.decode_streaming(req)
            except sigv4.SigV4Error as err:
                raise AuthFailure("chunked", err.message) from None
            return permissive_principal(info)
        if info is None:
            v2 = sigv2.extract(req) if s3 else None
            if v2 is not None:
                return self._authenticate_v2(conn, req, v2, clock_now or now)
            if anonymous_ok:
                return ANONYMOUS
            raise AuthFailure("missing", "Missing Authentication Token")
        cred = self._credential(conn, info.access_key_id)
        if cred is None or not cred.active:
            raise AuthFailure(
                "unknown_key",
                "The security token included in the request is invalid.",
                account=cred.account if cred else None,
                access_key_id=info.access_key_id,
            )
        try:
            sigv4.verify(req, info, cred.secret, now)
        except sigv4.SigV4Error as err:
            raise AuthFailure(
                err.reason if err.reason != "bad_date" else "incomplete",
                err.message,
                account=cred.account,
                access_key_id=info.access_key_id,
                principal=cred.principal,
                fields=err.details,
            ) from None
        if cred.token_sha256 is None:
            if info.session_token is not None:
                # A session token belongs to temporary credentials only: AWS
                # refuses one sent with a long-term key.
                raise AuthFailure(
                    "token_invalid",
                    "The security token included in the request is invalid.",
                    account=cred.account,
                    access_key_id=info.access_key_id,
                )
        else:
            if not credentials.token_matches(cred, info.session_token):
                raise AuthFailure(
                    "token_invalid",
                    "The security token included in the request is invalid.",
                    account=cred.account,
                    access_key_id=info.access_key_id,
                )
            if cred.expires is not None and _epoch(clock_now or now) >= cred.expires:
                raise AuthFailure(
                    "token_expired",
                    "The security token included in the request is expired",
                    account=cred.account,
                    access_key_id=info.access_key_id,
                    principal=cred.principal,
                )
        return cred.principal

    def authenticate_form(
        self,
        conn: Connection,
        credential: str,
        policy: str,
        signature: str,
        session_token: str | None,
        clock_now: datetime | float,
    ) -> Principal:
        """The principal that signed a browser-based upload's `policy`
        (S3's POST Object): `credential` is ``AKID/date/region/s3/aws4_request``
        (its shape already checked by the caller) and `signature` the form's
        x-amz-signature; or, for a Signature Version 2 form, `credential`
        is its AWSAccessKeyId and `signature` its signature field. Time is
        not checked here: the policy's expiration says how long the form
        is good for."""
        v2 = "/" not in credential
        access_key_id = credential.split("/", 1)[0]
        if self.mode == "permissive":
            account = access_key_id if is_account_id(access_key_id) else DEFAULT_ACCOUNT
            return root_principal(account, access_key_id)
        cred = self._credential(conn, access_key_id)
        if cred is None or not cred.active:
            raise AuthFailure(
                "unknown_key",
                "The security token included in the request is invalid.",
                account=cred.account if cred else None,
                access_key_id=access_key_id,
            )
        if v2:
            ok = hmac.compare_digest(sigv2.policy_signature(cred.secret, policy), signature)
        else:
            _, date, region, service, _ = credential.split("/")
            expected = sigv4.policy_signature(cred.secret, date, region, service, policy)
            ok = hmac.compare_digest(expected, signature.lower())
        if not ok:
            raise AuthFailure(
                "mismatch",
                sigv4.MISMATCH_MESSAGE,
                account=cred.account,
                access_key_id=access_key_id,
                principal=cred.principal,
                fields={
                    "AWSAccessKeyId": access_key_id,
                    "StringToSign": policy,
                    "SignatureProvided": signature,
                },
            )
        if cred.token_sha256 is None:
            if session_token is not None:
                raise AuthFailure(
                    "token_invalid",
                    "The security token included in the request is invalid.",
                    account=cred.account,
                    access_key_id=access_key_id,
                )
        else:
            if not credentials.token_matches(cred, session_token):
                raise AuthFailure(
                    "token_invalid",
                    "The security token included in the request is invalid.",
                    account=cred.account,
                    access_key_id=access_key_id,
                )
            if cred.expires is not None and _epoch(clock_now) >= cred.expires:
                raise AuthFailure(
                    "token_expired",
                    "The security token included in the request is expired",
                    account=cred.account,
                    access_key_id=access_key_id,
                    principal=cred.principal,
                )
        return cred.principal

    def _authenticate_v2(
        self, conn: Connection, req: Request, v2: sigv2.QueryV2, now: datetime | float
    ) -> Principal:
        """An S3 presigned URL in Signature Version 2's query form."""
        cred = self._credential(conn, v2.access_key_id)
        if cred is None or not cred.active:
            raise AuthFailure(
                "unknown_key",
                "The security token included in the request is invalid.",
                access_key_id=v2.access_key_id,
            )
        if not sigv2.matches(req, v2, cred.secret):
            raise AuthFailure(
                "mismatch",
                sigv4.MISMATCH_MESSAGE,
                account=cred.account,
                access_key_id=v2.access_key_id,
                principal=cred.principal,
                fields={
                    "AWSAccessKeyId": v2.access_key_id,
                    "StringToSign": sigv2.string_to_sign(req, v2.expires),
                    "SignatureProvided": v2.signature,
                },
            )
        if _epoch(now) > v2.expires:
            raise AuthFailure("expired", "Request has expired", account=cred.account)
        if cred.token_sha256 is not None:
            token = _query_value(req.query, "x-amz-security-token")
            if not credentials.token_matches(cred, token):
                raise AuthFailure(
                    "token_invalid",
                    "The security token included in the request is invalid.",
                    account=cred.account,
                )
            if cred.expires is not None and _epoch(now) >= cred.expires:
                raise AuthFailure(
                    "token_expired", "The security token included in the request is expired"
                )
        return cred.principal

    def _credential(self, conn: Connection, access_key_id: str) -> credentials.Credential | None:
        store = self.store
        if store is None:
            return credentials.lookup(conn, self.sealer, access_key_id)
        cache_key = ("credential", access_key_id)
        tables = credentials.CREDENTIAL_TABLES
        cred = store.hot_get(cache_key, tables)
        if cred is None:
            cred = credentials.lookup(conn, self.sealer, access_key_id)
            if cred is not None:  # unknown keys are never cached: a new one may appear
                store.hot_put(cache_key, cred, tables)
        return cred


def _query_value(query: str, name: str) -> str | None:
    from urllib.parse import unquote_plus

    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return unquote_plus(value)
    return None


def _epoch(when: datetime | float) -> float:
    return when if isinstance(when, float) else when.timestamp()


ANONYMOUS = Principal(type="Anonymous", account="", arn="*", principal_id="anonymous")


def permissive_principal(info: sigv4.SignatureInfo | None) -> Principal:
    akid = info.access_key_id if info else None
    account = akid if akid and is_account_id(akid) else DEFAULT_ACCOUNT
    return root_principal(account, akid)


#: (protocol family, failure kind) -> (error code, HTTP status)
_CODES: dict[str, dict[str, tuple[str, int]]] = {
    "json": {
        "missing": ("MissingAuthenticationTokenException", 403),
        "incomplete": ("IncompleteSignatureException", 400),
        "unknown_key": ("UnrecognizedClientException", 400),
        "token_invalid": ("UnrecognizedClientException", 400),
        "mismatch": ("InvalidSignatureException", 400),
        "expired": ("InvalidSignatureException", 400),
        "token_expired": ("ExpiredTokenException", 400),
        "unsigned": ("InvalidSignatureException", 400),
        "scope": ("InvalidSignatureException", 400),
        "chunked": ("InvalidSignatureException", 400),
    },
    "query": {
        "missing": ("MissingAuthenticationToken", 403),
        "incomplete": ("IncompleteSignature", 400),
        "unknown_key": ("InvalidClientTokenId", 403),
        "token_invalid": ("InvalidClientTokenId", 403),
        "mismatch": ("SignatureDoesNotMatch", 403),
        "expired": ("SignatureDoesNotMatch", 403),
        "token_expired": ("ExpiredToken", 403),
        "unsigned": ("SignatureDoesNotMatch", 403),
        "scope": ("SignatureDoesNotMatch", 403),
        "chunked": ("SignatureDoesNotMatch", 403),
    },
    "rest-xml": {
        "missing": ("AccessDenied", 403),
        "incomplete": ("AuthorizationHeaderMalformed", 400),
        "unknown_key": ("InvalidAccessKeyId", 403),
        "token_invalid": ("InvalidToken", 400),
        "mismatch": ("SignatureDoesNotMatch", 403),
        "expired": ("RequestTimeTooSkewed", 403),
        "token_expired": ("ExpiredToken", 400),
        "unsigned": ("AccessDenied", 403),
        "scope": ("AuthorizationHeaderMalformed", 400),
        "chunked": ("IncompleteBody", 400),
    },
}
_S3_MESSAGES = {
    "unknown_key": "The AWS Access Key Id you provided does not exist in our records.",
    "token_invalid": "The provided token is malformed or otherwise invalid.",
    "token_expired": "The provided token has expired.",
    "missing": "Access Denied",
}


def auth_error(protocol: str, failure: AuthFailure) -> AwsError:
    """The error the service's protocol answers an authentication failure with."""
    family = {"rest-json": "json", "ec2": "query"}.get(protocol, protocol)
    code, status = _CODES.get(family, _CODES["json"])[failure.kind]
    if protocol == "rest-json" and failure.kind != "incomplete":
        # The REST JSON services (Lambda) answer their signature errors 403,
        # where the JSON-RPC ones say 400 with the same codes.
        status = 403
    message = failure.message
    if family == "rest-xml":
        message = _S3_MESSAGES.get(failure.kind, message)
        if failure.kind == "expired" and "Request has expired" in failure.message:
            code, status, message = "AccessDenied", 403, "Request has expired"
        elif failure.kind == "unsigned":
            message = sigv4.UNSIGNED_HEADERS_MESSAGE
        elif failure.kind == "expired":
            message = "The difference between the request time and the current time is too large."
    elif family == "query" and failure.kind == "missing":
        message = "Request is missing Authentication Token"
    fields = failure.fields if family == "rest-xml" and failure.fields else {}
    return AwsError(message, code=code, status=status, sender_fault=True, **fields)
