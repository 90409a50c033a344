"""auth/federation: JWT signature checks, SAML metadata and assertion
parsing, and trust policies naming a federated principal."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from strongroom.auth import federation
from strongroom.auth.policy import AuthzRequest, PolicySet, evaluate, parse_policy

ACCT = "111122223333"
PROVIDER = f"arn:aws:iam::{ACCT}:oidc-provider/idp.example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict[str, str]:
    n = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "n": b64url(n.n.to_bytes(256, "big")),
        "e": b64url(n.e.to_bytes(3, "big")),
    }


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str = "e1") -> dict[str, str]:
    n = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "kid": kid,
        "crv": "P-256",
        "x": b64url(n.x.to_bytes(32, "big")),
        "y": b64url(n.y.to_bytes(32, "big")),
    }


def make(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing}.{b64url(sign(signing.encode()))}"


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
CLAIMS = {"iss": "https://idp.example.com", "sub": "s", "aud": "a", "exp": 2**31}


def rs256(data: bytes, key: rsa.RSAPrivateKey = RSA_KEY) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def es256(data: bytes, key: ec.EllipticCurvePrivateKey = EC_KEY) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


KEYS = [rsa_jwk(RSA_KEY), ec_jwk(EC_KEY)]


def verifies(token: str, keys: list[dict[str, Any]] = KEYS) -> bool:
    return federation.verify_jwt_signature(federation.parse_jwt(token), keys)


def test_rs256_and_es256_verify() -> None:
    assert verifies(make({"alg": "RS256", "kid": "k1"}, CLAIMS, rs256))
    assert verifies(make({"alg": "ES256", "kid": "e1"}, CLAIMS, es256))
    # Without a kid, any key of the right type may verify it.
    assert verifies(make({"alg": "RS256"}, CLAIMS, rs256))


def test_forgeries_do_not_verify() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not verifies(make({"alg": "RS256", "kid": "k1"}, CLAIMS, lambda d: rs256(d, other)))
    # The wrong kid: no key to try.
    assert not verifies(make({"alg": "RS256", "kid": "nope"}, CLAIMS, rs256))
    # alg confusion: an RSA signature labelled ES256, HMAC with the public key, none.
    assert not verifies(make({"alg": "ES256", "kid": "k1"}, CLAIMS, rs256))
    assert not verifies(make({"alg": "HS256", "kid": "k1"}, CLAIMS, lambda d: b"x" * 32))
    assert not verifies(make({"alg": "none"}, CLAIMS, lambda d: b""))
    # A claim changed after signing.
    token = make({"alg": "ES256", "kid": "e1"}, CLAIMS, es256)
    head, _, sig = token.split(".")
    body = b64url(json.dumps({**CLAIMS, "sub": "admin"}).encode())
    assert not verifies(f"{head}.{body}.{sig}")
    # Bad key material in the JWKS is skipped, not an error.
    assert not verifies(
        make({"alg": "RS256", "kid": "k1"}, CLAIMS, rs256), [{"kty": "RSA", "kid": "k1", "n": 5}]
    )


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!.e30.e30", f"{b64url(b'[1]')}.{b64url(b'{}')}.", "e30.bm90anNvbg.x"],
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(federation.FederationError) as exc:
        federation.parse_jwt(token)
    assert exc.value.kind == "malformed"


def test_unreachable_issuer_is_a_communication_error() -> None:
    with pytest.raises(federation.FederationError) as exc:
        federation.issuer_keys("https://127.0.0.1:9", ("0" * 40,), timeout=1.0)
    assert exc.value.kind == "communication"
    with pytest.raises(federation.FederationError) as exc:
        federation.issuer_keys("http://plain.example.com", (), timeout=1.0)
    assert exc.value.kind == "communication"


SAML = """<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
  <saml:Assertion>
    <saml:Issuer>https://idp.example.com</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice</saml:NameID>
      <saml:SubjectConfirmation><saml:SubjectConfirmationData
          NotOnOrAfter="2030-01-01T00:05:00Z" Recipient="https://signin.aws.amazon.com/saml"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2030-01-01T00:00:00Z" NotOnOrAfter="2030-01-01T00:10:00Z">
      <saml:AudienceRestriction><saml:Audience>https://signin.aws.amazon.com/saml</saml:Audience>
      </saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">
        <saml:AttributeValue>arn:aws:iam::111122223333:saml-provider/idp,arn:aws:iam::111122223333:role/r</saml:AttributeValue>
        <saml:AttributeValue>garbage</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">
        <saml:AttributeValue>alice@example.com</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration">
        <saml:AttributeValue>1800</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""


def test_saml_assertion_is_read() -> None:
    a = federation.parse_saml_response(base64.b64encode(SAML.encode()).decode())
    assert a.issuer == "https://idp.example.com"
    assert (a.subject, a.subject_type) == ("alice", "persistent")
    assert a.audiences == ("https://signin.aws.amazon.com/saml",)
    assert a.recipients == ("https://signin.aws.amazon.com/saml",)
    assert a.not_on_or_after == federation._xml_time("2030-01-01T00:05:00Z")
    assert a.roles == (
        ("arn:aws:iam::111122223333:role/r", "arn:aws:iam::111122223333:saml-provider/idp"),
    )
    assert (a.session_name, a.session_duration) == ("alice@example.com", 1800)
    # Unsigned: refused (see test_xmldsig for signatures).
    with pytest.raises(federation.FederationError) as exc:
        federation.verify_saml_signature(a, (b"cert",))
    assert exc.value.kind == "signature"


@pytest.mark.parametrize(
    "text",
    [
        "not base64 !!",
        base64.b64encode(b"<not-xml").decode(),
        base64.b64encode(b'<!DOCTYPE x [<!ENTITY a "b">]><x/>').decode(),
        base64.b64encode(
            SAML.replace("<saml:Assertion>", "<saml:Assertion/><saml:Assertion>").encode()
        ).decode(),
    ],
)
def test_bad_saml_responses(text: str) -> None:
    with pytest.raises(federation.FederationError):
        federation.parse_saml_response(text)


def test_name_qualifier_is_aws_formula() -> None:
    import hashlib

    expected = base64.b64encode(
        hashlib.sha1(b"https://idp.example.com111122223333/idp").digest()
    ).decode()
    assert federation.name_qualifier("https://idp.example.com", ACCT, "idp") == expected


# -- the trust policy, for a federated principal -------------------------------------


def trust(principal: dict[str, Any], **condition: Any) -> PolicySet:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition:
        st["Condition"] = {"StringEquals": condition}
    text = json.dumps({"Version": "2012-10-17", "Statement": [st]})
    return PolicySet("resource", (("trust", parse_policy(text, "trust")),))


def web_request(context: dict[str, Any]) -> AuthzRequest:
    return AuthzRequest(
        action="sts:AssumeRoleWithWebIdentity",
        resource=f"arn:aws:iam::{ACCT}:role/r",
        principal_arn=PROVIDER,
        principal_account=ACCT,
        principal_is_root=False,
        resource_account=ACCT,
        context=context,
        principal_aliases=(f"arn:aws:iam::{ACCT}:root",),
    )


def decide(policy: PolicySet, context: dict[str, Any]) -> bool:
    no_identity = PolicySet("identity", ())
    return evaluate(
        web_request(context), no_identity, policy, resource_policy_required=True
    ).allowed


def test_federated_principal_is_trusted_by_its_provider_arn() -> None:
    ctx = {"idp.example.com:aud": "app", "idp.example.com:sub": "repo:x"}
    assert decide(trust({"Federated": PROVIDER}), ctx)
    assert decide(trust({"Federated": PROVIDER}, **{"idp.example.com:sub": "repo:x"}), ctx)
    # Condition keys compare regardless of the key's case, as AWS's do.
    assert decide(trust({"Federated": PROVIDER}, **{"IDP.example.com:AUD": "app"}), ctx)
    assert not decide(trust({"Federated": PROVIDER}, **{"idp.example.com:sub": "repo:y"}), ctx)
    other = f"arn:aws:iam::{ACCT}:oidc-provider/other.example.com"
    assert not decide(trust({"Federated": other}), ctx)
    # Trusting the account delegates to identity policies: a web identity has none.
    assert not decide(trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), ctx)
    # A condition key with a port in the provider's name (local issuers).
    ported = {"127.0.0.1:8443:aud": "app"}
    assert decide(trust({"Federated": PROVIDER}, **ported), ported)


def test_fetches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unauthenticated callers cannot make the server fetch at will: key sets
    and failures are remembered, and an unknown kid refreshes at most once a minute."""
    calls: list[str] = []

    def fake_get(url: str, thumbprints: tuple[str, ...], timeout: float) -> bytes:
        calls.append(url)
        if "down" in url:
            raise federation.FederationError("communication", "refused")
        if url.endswith("openid-configuration"):
            return json.dumps({"jwks_uri": url.rsplit("/.well-known", 1)[0] + "/keys"}).encode()
        return json.dumps({"keys": KEYS}).encode()

    monkeypatch.setattr(federation, "_https_get", fake_get)
    monkeypatch.setattr(federation, "_JWKS_CACHE", {})
    monkeypatch.setattr(federation, "_FAILURES", {})
    for _ in range(3):
        with pytest.raises(federation.FederationError):
            federation.issuer_keys("https://down.example.com", ())
    assert len(calls) == 1
    calls.clear()
    good = make({"alg": "RS256", "kid": "k1"}, CLAIMS, rs256)
    for _ in range(3):
        federation.verify_jwt(federation.parse_jwt(good), "https://up.example.com", ())
    assert len(calls) == 2  # discovery document and key set, once
    unknown = make({"alg": "RS256", "kid": "rotated"}, CLAIMS, rs256)
    for _ in range(3):
        with pytest.raises(federation.FederationError) as exc:
            federation.verify_jwt(federation.parse_jwt(unknown), "https://up.example.com", ())
        assert exc.value.kind == "signature"
    assert len(calls) == 2  # the set is younger than MIN_REFRESH: not fetched again


class _Trickle:
    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.count = chunk, count

    def read1(self, n: int) -> bytes:
        if self.count == 0:
            return b""
        self.count -= 1
        return self.chunk


def test_answers_are_bounded_in_size_and_time() -> None:
    import time

    assert federation._read_bounded(_Trickle(b"ab", 3), time.monotonic() + 5) == b"ababab"  # type: ignore[arg-type]
    with pytest.raises(federation.FederationError, match="too large"):
        federation._read_bounded(_Trickle(b"x" * 16384, 100), time.monotonic() + 5)  # type: ignore[arg-type]
    with pytest.raises(federation.FederationError, match="too slowly"):
        federation._read_bounded(_Trickle(b"x", 10**9), time.monotonic() - 1)  # type: ignore[arg-type]
