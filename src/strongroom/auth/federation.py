"""Verifying what identity providers vouch for: OIDC ID tokens (JWTs) and
SAML metadata / assertions.

Only the standard library and `cryptography` are used. The JWT is checked the
way STS documents it: its signature (RS256/384/512, ES256/384; never
``none`` nor an HMAC) with a key of the issuer's JWKS, found through
``<issuer>/.well-known/openid-configuration`` → ``jwks_uri`` over HTTPS. The
TLS server is accepted when the SHA-1 thumbprint of a certificate it presents
(the leaf or, as AWS documents, the top intermediate CA) is one the IAM
provider lists, or, for a provider without thumbprints, when its certificate
verifies against the system's trusted CAs.

SAML responses are parsed here and their XML signatures verified by
`xmldsig` (enveloped, exclusive canonicalization, SHA-256 or stronger)
against the certificates of the IAM provider's metadata, never a certificate
the response carries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from strongroom.auth import xmldsig

#: Seconds for each connection and read to the identity provider.
FETCH_TIMEOUT = 5.0
#: The most a discovery document or key set may be (bytes).
MAX_DOCUMENT = 256 * 1024
#: How long a fetched key set is trusted before it is fetched again (seconds).
JWKS_TTL = 300.0
#: An unknown ``kid`` fetches the set again, at most this often (seconds): the
#: callers are unauthenticated, and must not make the server fetch at will.
MIN_REFRESH = 60.0
#: How long a failed fetch is remembered (seconds), for the same reason.
FAILURE_TTL = 30.0


class FederationError(Exception):
    """What a caller of this module maps to AWS's error.

    `kind` is one of: ``malformed`` (not a JWT / not SAML), ``signature``
    (no key verifies it), ``communication`` (the IdP could not be reached or
    answered nonsense), ``thumbprint`` (its certificate is not the one the
    provider pins)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail


# -- JWT -----------------------------------------------------------------------


def _b64url(text: str) -> bytes:
    if any(c not in _B64URL for c in text):
        raise FederationError("malformed", "not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise FederationError("malformed", "not base64url") from None


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class Jwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_jwt(token: str) -> Jwt:
    """Split and decode a compact JWS; nothing is trusted yet."""
    parts = token.split(".")
    if len(parts) != 3:
        raise FederationError("malformed", "a JWT has three parts")
    try:
        header = orjson.loads(_b64url(parts[0]))
        claims = orjson.loads(_b64url(parts[1]))
    except orjson.JSONDecodeError:
        raise FederationError("malformed", "not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise FederationError("malformed", "not a JSON object")
    return Jwt(header, claims, f"{parts[0]}.{parts[1]}".encode(), _b64url(parts[2]))


_RSA_HASHES = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}
_EC_ALGS = {"ES256": (hashes.SHA256, "P-256", 32), "ES384": (hashes.SHA384, "P-384", 48)}
_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}


def _int(value: Any) -> int:
    if not isinstance(value, str):
        raise FederationError("communication", "bad key")
    return int.from_bytes(_b64url(value), "big")


def _public_key(jwk: dict[str, Any]) -> Any:
    try:
        if jwk.get("kty") == "RSA":
            return rsa.RSAPublicNumbers(_int(jwk.get("e")), _int(jwk.get("n"))).public_key()
        if jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES:
            curve = _CURVES[jwk["crv"]]()
            return ec.EllipticCurvePublicNumbers(
                _int(jwk.get("x")), _int(jwk.get("y")), curve
            ).public_key()
    except (ValueError, FederationError):
        return None
    return None


def _candidate_keys(jwt: Jwt, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    alg = jwt.header.get("alg")
    kty = "RSA" if alg in _RSA_HASHES else "EC"
    kid = jwt.header.get("kid")
    found = []
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != kty:
            continue
        if jwk.get("use") not in (None, "sig"):
            continue
        if jwk.get("alg") not in (None, alg):
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        found.append(jwk)
    return found


def verify_jwt_signature(jwt: Jwt, keys: list[dict[str, Any]]) -> bool:
    """True when one of the issuer's keys (matching ``kid`` and ``alg``) verifies it."""
    alg = jwt.header.get("alg")
    if alg not in _RSA_HASHES and alg not in _EC_ALGS:
        return False
    for jwk in _candidate_keys(jwt, keys):
        key = _public_key(jwk)
        if key is None:
            continue
        try:
            if alg in _RSA_HASHES and isinstance(key, rsa.RSAPublicKey):
                key.verify(jwt.signature, jwt.signing_input, padding.PKCS1v15(), _RSA_HASHES[alg]())
                return True
            if alg in _EC_ALGS and isinstance(key, ec.EllipticCurvePublicKey):
                digest, crv, size = _EC_ALGS[alg]
                if jwk.get("crv") != crv or len(jwt.signature) != 2 * size:
                    continue
                r = int.from_bytes(jwt.signature[:size], "big")
                s = int.from_bytes(jwt.signature[size:], "big")
                key.verify(encode_dss_signature(r, s), jwt.signing_input, ec.ECDSA(digest()))
                return True
        except InvalidSignature:
            continue
    return False


# -- fetching the issuer's keys ---------------------------------------------------


def thumbprint(der: bytes) -> str:
    """A certificate's thumbprint as IAM lists it: SHA-1 of the DER, lower-case hex."""
    return hashlib.sha1(der).hexdigest()


def _chain_der(sock: ssl.SSLSocket) -> list[bytes]:
    """DER of every certificate the server presented (leaf first)."""
    for owner in (sock, getattr(sock, "_sslobj", None)):
        # Public from Python 3.13; the same method of the private _ssl object before.
        chain = getattr(owner, "get_unverified_chain", None)
        if chain is None:
            continue
        try:
            found = chain()
        except Exception:  # pragma: no cover - depends on the ssl build
            continue
        if found:
            return [
                c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                for c in found
            ]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _https_get(url: str, thumbprints: tuple[str, ...], timeout: float) -> bytes:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise FederationError("communication", "not an https URL")
    if thumbprints:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pinned thumbprint is the check
    else:
        context = ssl.create_default_context()
    conn = http.client.HTTPSConnection(
        parts.hostname, parts.port or 443, timeout=timeout, context=context
    )
    try:
        conn.connect()
        if thumbprints:
            presented = {thumbprint(der) for der in _chain_der(conn.sock)}  # type: ignore[arg-type]
            if not presented & set(thumbprints):
                raise FederationError("thumbprint", "certificate thumbprint not listed")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise FederationError("communication", f"HTTP {resp.status}")
        return _read_bounded(resp, time.monotonic() + timeout)
    except (TimeoutError, OSError, ssl.SSLError, http.client.HTTPException) as exc:
        raise FederationError("communication", type(exc).__name__) from None
    finally:
        conn.close()


def _read_bounded(resp: http.client.HTTPResponse, deadline: float) -> bytes:
    """The body, at most MAX_DOCUMENT bytes, read before `deadline` (an issuer
    that trickles its answer is cut off like one that does not answer)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FederationError("communication", "the issuer answers too slowly")
        chunk = resp.read1(16384)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_DOCUMENT:
            raise FederationError("communication", "document too large")
        chunks.append(chunk)


_JWKS_CACHE: dict[tuple[str, tuple[str, ...]], tuple[float, list[dict[str, Any]]]] = {}
_FAILURES: dict[tuple[str, tuple[str, ...]], tuple[float, FederationError]] = {}
_CACHE_LOCK = threading.Lock()


def issuer_keys(
    issuer: str,
    thumbprints: tuple[str, ...],
    *,
    timeout: float = FETCH_TIMEOUT,
    refresh: bool = False,
) -> list[dict[str, Any]]:
    """The issuer's JWKS keys, from its discovery document.

    A key set is kept `JWKS_TTL` seconds (`refresh` asks for a newer one, at
    most every `MIN_REFRESH` seconds); a failure is answered again for
    `FAILURE_TTL` seconds without contacting the issuer."""
    cache_key = (issuer, thumbprints)
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _JWKS_CACHE.get(cache_key)
        failed = _FAILURES.get(cache_key)
    if hit is not None:
        age = now - hit[0]
        if age < JWKS_TTL and (not refresh or age < MIN_REFRESH):
            return hit[1]
    if failed is not None and now - failed[0] < FAILURE_TTL:
        raise failed[1]
    try:
        keys = _fetch_keys(issuer, thumbprints, timeout)
    except FederationError as err:
        with _CACHE_LOCK:
            _bounded(_FAILURES)[cache_key] = (now, err)
        raise
    with _CACHE_LOCK:
        _bounded(_JWKS_CACHE)[cache_key] = (now, keys)
        _FAILURES.pop(cache_key, None)
    return keys


def _bounded(cache: dict[Any, Any]) -> dict[Any, Any]:
    if len(cache) > 256:
        cache.clear()
    return cache


def _fetch_keys(issuer: str, thumbprints: tuple[str, ...], timeout: float) -> list[dict[str, Any]]:
    try:
        config = orjson.loads(
            _https_get(
                issuer.rstrip("/") + "/.well-known/openid-configuration", thumbprints, timeout
            )
        )
        jwks_uri = config.get("jwks_uri") if isinstance(config, dict) else None
        if not isinstance(jwks_uri, str):
            raise FederationError("communication", "no jwks_uri")
        jwks = orjson.loads(_https_get(jwks_uri, thumbprints, timeout))
    except orjson.JSONDecodeError:
        raise FederationError("communication", "not JSON") from None
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise FederationError("communication", "no keys")
    return keys


def verify_jwt(jwt: Jwt, issuer: str, thumbprints: tuple[str, ...]) -> None:
    """Raise FederationError("signature") unless the issuer's keys verify `jwt`.

    A key id missing from a cached key set fetches the set again once (the
    issuer may have rotated its keys)."""
    keys = issuer_keys(issuer, thumbprints)
    if verify_jwt_signature(jwt, keys):
        return
    kid = jwt.header.get("kid")
    unknown_kid = kid is not None and not any(
        isinstance(k, dict) and k.get("kid") == kid for k in keys
    )
    if unknown_kid and verify_jwt_signature(jwt, issuer_keys(issuer, thumbprints, refresh=True)):
        return
    raise FederationError("signature", "no key verifies the token")


# -- SAML ------------------------------------------------------------------------

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}


def _parse_xml(text: str) -> ET.Element:
    """Parse XML that declares no DTD or entities (no entity-expansion attacks)."""
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise FederationError("malformed", "DTDs are not accepted")
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        raise FederationError("malformed", "not XML") from None


def _xml_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise FederationError("malformed", f"bad time {value}") from None


@dataclass(frozen=True, slots=True)
class SamlMetadata:
    entity_id: str
    #: DER of every IdP certificate whose use is signing (or unspecified).
    signing_certificates: tuple[bytes, ...]
    valid_until: float | None


def parse_saml_metadata(document: str) -> SamlMetadata:
    root = _parse_xml(document)
    if root.tag != f"{{{NS['md']}}}EntityDescriptor":
        raise FederationError("malformed", "not an EntityDescriptor")
    idp = root.find("md:IDPSSODescriptor", NS)
    if idp is None:
        raise FederationError("malformed", "no IDPSSODescriptor")
    certs: list[bytes] = []
    for kd in idp.findall("md:KeyDescriptor", NS):
        if kd.get("use") not in (None, "signing"):
            continue
        for node in kd.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS):
            text = "".join((node.text or "").split())
            try:
                der = base64.b64decode(text, validate=True)
                x509.load_der_x509_certificate(der)
            except (binascii.Error, ValueError):
                raise FederationError("malformed", "bad certificate") from None
            certs.append(der)
    if not certs:
        raise FederationError("malformed", "no signing certificate")
    valid_until = _xml_time(root.get("validUntil") or idp.get("validUntil"))
    return SamlMetadata(root.get("entityID") or "", tuple(certs), valid_until)


@dataclass(frozen=True, slots=True)
class SamlAssertion:
    """What AssumeRoleWithSAML reads from a (verified) SAML response."""

    issuer: str
    subject: str
    subject_type: str
    audiences: tuple[str, ...]
    recipients: tuple[str, ...]
    not_before: float | None
    not_on_or_after: float | None
    #: (role ARN, provider ARN) pairs of the ``…/Attributes/Role`` attribute.
    roles: tuple[tuple[str, str], ...]
    session_name: str | None
    session_duration: int | None
    #: Every attribute by name, as given.
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The parsed response and its one assertion, for signature verification.
    document: Any = field(default=None, compare=False, repr=False)
    assertion_element: Any = field(default=None, compare=False, repr=False)


ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"


def _role_pair(value: str) -> tuple[str, str] | None:
    """``role-arn,provider-arn`` in either order (AWS accepts both)."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2:
        return None
    role = next((p for p in parts if ":role/" in p), None)
    provider = next((p for p in parts if ":saml-provider/" in p), None)
    return (role, provider) if role and provider else None


def parse_saml_response(encoded: str) -> SamlAssertion:
    """Decode the base64 SAMLResponse and read its one assertion (not verified)."""
    try:
        text = base64.b64decode("".join(encoded.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise FederationError("malformed", "not base64") from None
    try:
        document = xmldsig.parse(text)
    except xmldsig.SignatureError as err:
        raise FederationError("malformed", str(err)) from None
    root = document.root
    if root.tag != f"{{{NS['samlp']}}}Response":
        raise FederationError("malformed", "not a SAML Response")
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    if status is not None and status.get("Value") != "urn:oasis:names:tc:SAML:2.0:status:Success":
        raise FederationError("malformed", "the response reports a failure")
    assertions = root.findall("saml:Assertion", NS)
    if len(assertions) != 1 or root.findall(".//saml:EncryptedAssertion", NS):
        raise FederationError("malformed", "exactly one (unencrypted) assertion is accepted")
    a = assertions[0]
    # The assertion's own Issuer: the response's may lie outside what is signed.
    issuer = (a.findtext("saml:Issuer", "", NS) or "").strip()
    name_id = a.find("saml:Subject/saml:NameID", NS)
    if name_id is None or not (name_id.text or "").strip():
        raise FederationError("malformed", "no subject")
    fmt = name_id.get("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient")
    conditions = a.find("saml:Conditions", NS)
    audiences = tuple(
        (n.text or "").strip()
        for n in a.findall("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)
    )
    confirmations = a.findall(
        "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS
    )
    recipients = tuple(c.get("Recipient", "") for c in confirmations if c.get("Recipient"))
    not_on_or_after = [
        t
        for t in [_xml_time(conditions.get("NotOnOrAfter")) if conditions is not None else None]
        + [_xml_time(c.get("NotOnOrAfter")) for c in confirmations]
        if t is not None
    ]
    attributes: dict[str, tuple[str, ...]] = {}
    for attr in a.findall("saml:AttributeStatement/saml:Attribute", NS):
        values = tuple((v.text or "").strip() for v in attr.findall("saml:AttributeValue", NS))
        attributes[attr.get("Name", "")] = attributes.get(attr.get("Name", ""), ()) + values
    roles = tuple(p for p in (_role_pair(v) for v in attributes.get(ROLE_ATTRIBUTE, ())) if p)
    duration = attributes.get(DURATION_ATTRIBUTE, ())
    session_names = attributes.get(SESSION_NAME_ATTRIBUTE, ())
    return SamlAssertion(
        issuer=issuer,
        subject=(name_id.text or "").strip(),
        subject_type=fmt.rsplit(":", 1)[-1] if fmt.startswith("urn:oasis:") else fmt,
        audiences=audiences,
        recipients=recipients,
        not_before=_xml_time(conditions.get("NotBefore")) if conditions is not None else None,
        not_on_or_after=min(not_on_or_after) if not_on_or_after else None,
        roles=roles,
        session_name=session_names[0] if session_names else None,
        session_duration=int(duration[0]) if duration and duration[0].isdigit() else None,
        attributes=attributes,
        document=document,
        assertion_element=a,
    )


def verify_saml_signature(assertion: SamlAssertion, certificates: tuple[bytes, ...]) -> None:
    """Raise FederationError("signature") unless the assertion, or the whole
    response, carries a valid enveloped signature by one of the IdP's
    `certificates` (see `xmldsig`). The assertion checked is the one the
    claims were read from: a signature elsewhere in the document counts for
    nothing."""
    doc, element = assertion.document, assertion.assertion_element
    if doc is None or element is None:
        raise FederationError("signature", "nothing to verify")
    ds = f"{{{xmldsig.DS}}}Signature"
    candidates = [(element, sig) for sig in element.findall(ds)]
    candidates += [(doc.root, sig) for sig in doc.root.findall(ds)]
    for signed, signature in candidates:
        try:
            xmldsig.verify_enveloped(doc, signed, signature, certificates)
            return
        except xmldsig.SignatureError:
            continue
    raise FederationError("signature", "no valid signature by the provider")


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """AssumeRoleWithSAML's NameQualifier: base64(SHA-1(issuer + account + "/" + name))."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider_name}".encode()).digest()
    return base64.b64encode(digest).decode()
