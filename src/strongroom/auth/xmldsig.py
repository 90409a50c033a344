"""XML signatures as SAML uses them: enveloped, Exclusive XML
Canonicalization 1.0 (without comments), one reference, RSA or ECDSA with
SHA-256/384/512.

`parse` keeps what canonicalization needs and ElementTree forgets: the
namespace declarations of each element. A document that binds one namespace
to two prefixes in one scope (so the prefix an element was written with
cannot be told) is refused, as is anything this module does not implement
(inclusive C14N, comments variants, SHA-1, several references, transforms
other than enveloped-signature + exc-c14n). Refusing is the only failure
mode: canonical bytes are a serialization of the parsed tree, so two
documents that canonicalize alike mean the same, and a canonicalization
difference can only make a genuine signature fail to verify.

Defences against signature wrapping are the caller's choice of element plus
`verify_enveloped`'s checks: the signature must be a direct child of the
element it signs, reference exactly that element's ``ID`` (unique in the
document), and verify with one of the given certificates (never one the
document carries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XML_NS = "http://www.w3.org/XML/1998/namespace"

_DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
_SIGNATURES: dict[str, tuple[str, Any]] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", hashes.SHA512),
}


class SignatureError(Exception):
    """The document cannot be shown to carry a valid signature."""


@dataclass(slots=True)
class Document:
    root: ET.Element
    #: id(element) -> {prefix: uri} in scope there ("" is the default namespace).
    scopes: dict[int, dict[str, str]]


class _Builder(ET.TreeBuilder):
    def __init__(self) -> None:
        super().__init__()
        self._pending: list[tuple[str, str]] = []
        self.declared: dict[int, list[tuple[str, str]]] = {}

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending.append((prefix or "", uri))

    def start(self, tag: Any, attrs: Any) -> ET.Element:
        elem = super().start(tag, attrs)
        if self._pending:
            self.declared[id(elem)] = self._pending
            self._pending = []
        return elem


def parse(text: str) -> Document:
    """Parse XML that declares no DTD or entities, keeping namespace scopes."""
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise SignatureError("DTDs are not accepted")
    builder = _Builder()
    parser = ET.XMLParser(target=builder)
    try:
        parser.feed(text)
        root = parser.close()
    except ET.ParseError:
        raise SignatureError("not XML") from None
    scopes: dict[int, dict[str, str]] = {}
    stack: list[tuple[ET.Element, dict[str, str]]] = [(root, {})]
    while stack:
        elem, outer = stack.pop()
        scope = outer
        declared = builder.declared.get(id(elem))
        if declared:
            scope = {**outer, **dict(declared)}
        scopes[id(elem)] = scope
        stack.extend((child, scope) for child in elem)
    return Document(root, scopes)


# -- Exclusive XML Canonicalization 1.0 -------------------------------------------


def _split(name: str) -> tuple[str, str]:
    if name[:1] == "{":
        uri, local = name[1:].split("}", 1)
        return uri, local
    return "", name


def _prefix(uri: str, scope: dict[str, str], *, element: bool) -> str:
    if uri == XML_NS:
        return "xml"
    found = [p for p, u in scope.items() if u == uri and (element or p)]
    if len(found) != 1:
        raise SignatureError("ambiguous or undeclared namespace prefix")
    return found[0]


def _escape_attr(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\t", "&#x9;")
        .replace("\n", "&#xA;")
        .replace("\r", "&#xD;")
    )


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")
    )


def exc_c14n(
    doc: Document,
    elem: ET.Element,
    *,
    exclude: ET.Element | None = None,
    inclusive: frozenset[str] = frozenset(),
) -> bytes:
    """The exclusive canonical form (without comments) of `elem`'s subtree,
    leaving out `exclude` (the enveloped signature). `inclusive` is the
    InclusiveNamespaces PrefixList ("" for ``#default``)."""
    out: list[str] = []

    def visit(e: ET.Element, rendered: dict[str, str]) -> None:
        if not isinstance(e.tag, str):
            raise SignatureError("comments and processing instructions are not expected")
        scope = doc.scopes[id(e)]
        uri, local = _split(e.tag)
        prefix = _prefix(uri, scope, element=True) if uri else ""
        if not uri and scope.get(""):
            raise SignatureError("no-namespace element under a default namespace")
        needed = {prefix}
        attrs: list[tuple[tuple[str, str], str, str]] = []
        for key, value in e.attrib.items():
            a_uri, a_local = _split(key)
            if a_uri:
                a_prefix = _prefix(a_uri, scope, element=False)
                if a_prefix != "xml":
                    needed.add(a_prefix)
                attrs.append(((a_uri, a_local), f"{a_prefix}:{a_local}", value))
            else:
                attrs.append((("", a_local), a_local, value))
        needed.update(p for p in inclusive if p in scope)
        declarations: list[tuple[str, str]] = []
        inner = rendered
        for p in needed:
            if p == "xml":
                continue
            value = scope.get(p, "")
            # The default namespace is "" where none is declared; a prefix
            # is rendered unless an output ancestor rendered the same binding.
            if (rendered.get("", "") if p == "" else rendered.get(p)) == value:
                continue
            declarations.append((p, value))
        if declarations:
            inner = {**rendered, **dict(declarations)}
        declarations.sort()
        attrs.sort(key=lambda a: a[0])
        qname = f"{prefix}:{local}" if prefix else local
        out.append("<" + qname)
        for p, value in declarations:
            out.append(
                f' xmlns:{p}="{_escape_attr(value)}"' if p else f' xmlns="{_escape_attr(value)}"'
            )
        for _, name, value in attrs:
            out.append(f' {name}="{_escape_attr(value)}"')
        out.append(">")
        if e.text:
            out.append(_escape_text(e.text))
        for child in e:
            if child is not exclude:
                visit(child, inner)
            if child.tail:
                out.append(_escape_text(child.tail))
        out.append(f"</{qname}>")

    visit(elem, {})
    return "".join(out).encode("utf-8")


# -- verification -----------------------------------------------------------------


def _one(parent: ET.Element, name: str) -> ET.Element:
    found = parent.findall(f"{{{DS}}}{name}")
    if len(found) != 1:
        raise SignatureError(f"expected one {name}")
    return found[0]


def _prefix_list(method: ET.Element) -> frozenset[str]:
    lists = method.findall(f"{{{EXC_C14N}}}InclusiveNamespaces")
    if len(method) != len(lists) or len(lists) > 1:
        raise SignatureError("unexpected canonicalization parameters")
    if not lists:
        return frozenset()
    names = (lists[0].get("PrefixList") or "").split()
    return frozenset("" if n == "#default" else n for n in names)


def _exc_method(method: ET.Element) -> frozenset[str]:
    if method.get("Algorithm") != EXC_C14N:
        raise SignatureError("only exclusive canonicalization is supported")
    return _prefix_list(method)


def _b64(text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("bad base64") from None


def _check_id(doc: Document, signed: ET.Element, uri: str | None) -> None:
    ident = signed.get("ID")
    if not ident or uri != f"#{ident}":
        raise SignatureError("the reference does not name the signed element")
    same = sum(
        1 for e in doc.root.iter() for attr in ("ID", "Id", "AssertionID") if e.get(attr) == ident
    )
    if same != 1:
        raise SignatureError("the signed ID is not unique")


def _public_keys(certificates: tuple[bytes, ...]) -> list[Any]:
    keys = []
    for der in certificates:
        try:
            keys.append(x509.load_der_x509_certificate(der).public_key())
        except ValueError:
            continue
    return keys


def _signature_holds(kind: str, digest: Any, value: bytes, data: bytes, keys: list[Any]) -> bool:
    for key in keys:
        try:
            if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
                key.verify(value, data, padding.PKCS1v15(), digest())
                return True
            if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
                size = (key.curve.key_size + 7) // 8
                if len(value) != 2 * size:
                    continue
                r = int.from_bytes(value[:size], "big")
                s = int.from_bytes(value[size:], "big")
                key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest()))
                return True
        except InvalidSignature:
            continue
    return False


def verify_enveloped(
    doc: Document, signed: ET.Element, signature: ET.Element, certificates: tuple[bytes, ...]
) -> None:
    """Raise SignatureError unless `signature` (a ds:Signature child of
    `signed`) is a valid enveloped signature of `signed` by one of
    `certificates` (DER)."""
    if signature not in list(signed):
        raise SignatureError("the signature is not enveloped by the signed element")
    info = _one(signature, "SignedInfo")
    info_prefixes = _exc_method(_one(info, "CanonicalizationMethod"))
    method = _SIGNATURES.get(_one(info, "SignatureMethod").get("Algorithm") or "")
    if method is None:
        raise SignatureError("unsupported signature method")
    reference = _one(info, "Reference")
    _check_id(doc, signed, reference.get("URI"))
    transforms = _one(reference, "Transforms").findall(f"{{{DS}}}Transform")
    if len(transforms) != 2 or len(_one(reference, "Transforms")) != 2:
        raise SignatureError("unsupported transforms")
    if transforms[0].get("Algorithm") != ENVELOPED or len(transforms[0]):
        raise SignatureError("unsupported transforms")
    ref_prefixes = _exc_method(transforms[1])
    digest_name = _DIGESTS.get(_one(reference, "DigestMethod").get("Algorithm") or "")
    if digest_name is None:
        raise SignatureError("unsupported digest method")
    canonical = exc_c14n(doc, signed, exclude=signature, inclusive=ref_prefixes)
    expected = _b64(_one(reference, "DigestValue").text)
    if not hmac.compare_digest(hashlib.new(digest_name, canonical).digest(), expected):
        raise SignatureError("digest mismatch")
    signed_info = exc_c14n(doc, info, inclusive=info_prefixes)
    value = _b64(_one(signature, "SignatureValue").text)
    kind, digest = method
    if not _signature_holds(kind, digest, value, signed_info, _public_keys(certificates)):
        raise SignatureError("signature does not verify")
