"""auth/xmldsig and SAML signature verification: genuine signatures verify,
tampering, wrapping, foreign keys and unsupported algorithms are refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from strongroom.auth import federation, xmldsig

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def certificate(key: object) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.DER)


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_CERT = certificate(RSA_KEY)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_CERT = certificate(EC_KEY)

SIGNATURE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
  <ds:SignedInfo>
    <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
    <ds:SignatureMethod Algorithm="{method}"/>
    <ds:Reference URI="#{ref}"><ds:Transforms>
      <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
      <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">{prefixes}</ds:Transform>
    </ds:Transforms>
    <ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>DIGEST</ds:DigestValue></ds:Reference>
  </ds:SignedInfo>
  <ds:SignatureValue>SIGVALUE</ds:SignatureValue>
</ds:Signature>"""

RESPONSE = """<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="resp-1">
  <saml:Issuer>https://idp.example.com</saml:Issuer>
  {response_signature}
  <saml:Assertion ID="assert-1" xmlns:xs="http://www.w3.org/2001/XMLSchema"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <saml:Issuer>https://idp.example.com</saml:Issuer>
    {assertion_signature}
    <saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject>
    <saml:AttributeStatement><saml:Attribute Name="a &amp; b"><saml:AttributeValue
        xsi:type="xs:string">x &lt; y
 z</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""


def sign(
    *,
    where: str = "assertion",
    key: object = RSA_KEY,
    method: str = RSA_SHA256,
    digest: str = SHA256,
    prefixes: str = "",
) -> str:
    """A response signed the way IdPs sign it (computed with this module's
    canonicalization; a third-party vector is checked separately)."""
    ref = "assert-1" if where == "assertion" else "resp-1"
    inclusive = (
        f'<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" '
        f'PrefixList="{prefixes}"/>'
        if prefixes
        else ""
    )
    sig = SIGNATURE.format(method=method, ref=ref, digest=digest, prefixes=inclusive)
    text = RESPONSE.format(
        response_signature=sig if where == "response" else "",
        assertion_signature=sig if where == "assertion" else "",
    )
    doc = xmldsig.parse(text)
    signed = (
        doc.root
        if where == "response"
        else doc.root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    )
    signature = signed.find(f"{{{xmldsig.DS}}}Signature")
    include = frozenset(prefixes.split())
    value = hashlib.sha256(xmldsig.exc_c14n(doc, signed, exclude=signature, inclusive=include))
    text = text.replace("DIGEST", base64.b64encode(value.digest()).decode())
    doc = xmldsig.parse(text)
    signed = (
        doc.root
        if where == "response"
        else doc.root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    )
    info = signed.find(f"{{{xmldsig.DS}}}Signature/{{{xmldsig.DS}}}SignedInfo")
    data = xmldsig.exc_c14n(doc, info)
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))  # type: ignore[attr-defined]
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return text.replace("SIGVALUE", base64.b64encode(raw).decode())


def verify(text: str, certs: tuple[bytes, ...] = (RSA_CERT,)) -> None:
    assertion = federation.parse_saml_response(base64.b64encode(text.encode()).decode())
    federation.verify_saml_signature(assertion, certs)


def refused(text: str, certs: tuple[bytes, ...] = (RSA_CERT,)) -> bool:
    try:
        verify(text, certs)
    except federation.FederationError:
        return True
    return False


def test_canonical_form_is_exclusive_c14n() -> None:
    doc = xmldsig.parse(RESPONSE.format(response_signature="", assertion_signature=""))
    assertion = doc.root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    out = xmldsig.exc_c14n(doc, assertion).decode()
    # The ancestor's saml prefix is declared where used; unused xs/xsi-only-in-values is not
    # hoisted: xsi is used by an attribute, xs only inside a value (needs a PrefixList).
    assert out.startswith(
        '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="assert-1">'
    )
    assert '<saml:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' in out
    assert 'xsi:type="xs:string">x &lt; y\n z</saml:AttributeValue>' in out
    assert 'Name="a &amp; b"' in out
    inclusive = xmldsig.exc_c14n(doc, assertion, inclusive=frozenset({"xs"})).decode()
    assert inclusive.startswith(
        '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="assert-1">'
    )


@pytest.mark.parametrize("where", ["assertion", "response"])
def test_genuine_signatures_verify(where: str) -> None:
    verify(sign(where=where))
    verify(sign(where=where, prefixes="xs"))
    verify(sign(where=where, key=EC_KEY, method=ECDSA_SHA256), (EC_CERT,))
    verify(sign(where=where), (EC_CERT, RSA_CERT))


def test_tampering_is_refused() -> None:
    good = sign()
    assert refused(good.replace("alice", "admin"))
    assert refused(good.replace("x &lt; y", "x &lt; z"))
    assert refused(good.replace('Name="a &amp; b"', 'Name="a &amp; c"'))
    # Comments do not truncate text: "alice<!---->x" is the subject "alicex", not "alice".
    assert refused(good.replace("alice", "alice<!---->x"))
    sig_value = re.search(r"<ds:SignatureValue>(.*?)</ds:SignatureValue>", good, re.S)
    assert sig_value is not None
    flipped = sig_value.group(1)[:-4] + ("AAAA" if sig_value.group(1)[-4:] != "AAAA" else "BBBB")
    assert refused(good.replace(sig_value.group(1), flipped))


def test_foreign_keys_are_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refused(sign(key=other))
    assert refused(sign(), (EC_CERT,))
    assert refused(sign(), ())


def test_unsupported_algorithms_are_refused() -> None:
    assert refused(sign(digest="http://www.w3.org/2000/09/xmldsig#sha1"))
    text = sign().replace(RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    assert refused(text)
    inclusive = sign().replace(
        'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"',
        'CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"',
    )
    assert refused(inclusive)


def test_signature_wrapping_is_refused() -> None:
    good = sign()
    # A forged assertion in place, the signed original moved where nothing reads it.
    original = good[good.index("<saml:Assertion") : good.index("</saml:Assertion>") + 17]
    forged = original.replace("alice", "admin").replace('ID="assert-1"', 'ID="evil"')
    wrapped = good.replace(
        original,
        forged.replace("</saml:Assertion>", "")
        + "<saml:Advice>"
        + original
        + "</saml:Advice></saml:Assertion>",
    )
    assert refused(wrapped)
    # The same ID twice.
    duplicate = good.replace(
        "</samlp:Response>", '<samlp:Extensions ID="assert-1"/></samlp:Response>'
    )
    assert refused(duplicate)
    # Two assertions: one signed, one not.
    second = good.replace("</samlp:Response>", forged + "</samlp:Response>")
    assert refused(second)
    # A signature referencing another element than the one it sits in.
    elsewhere = good.replace('URI="#assert-1"', 'URI="#resp-1"')
    assert refused(elsewhere)
    # Unsigned.
    assert refused(RESPONSE.format(response_signature="", assertion_signature=""))


def test_ambiguous_prefixes_are_refused() -> None:
    text = sign().replace(
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"',
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        'xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"',
        1,
    )
    assert refused(text)
