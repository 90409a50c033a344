"""The engines' TLS: one certificate authority per server (what AWS calls
the RDS CA, ``rds-ca-rsa2048-g1``: an RSA 2048 key, SHA-256 signatures),
and a server certificate per instance issued by it.

Files, under ``<base_dir>/tls`` (0700, strongroom's own OS user)::

    ca.bundle    4-byte big-endian length | the CA's private key (PKCS #8 DER)
                 sealed by the caller's ``seal`` (the root key: the plaintext
                 key never touches the disk) | the CA certificate (PEM)
    ca.pem       the CA certificate alone: what a client trusts for
                 ``sslmode=verify-full``

An instance's certificate and key live in its instance directory
(``<instance_dir>/tls/server.crt`` and ``server.key``, 0600, the engine
account's): PostgreSQL reads them in clear, as it reads its data directory
while it runs. They are outside the data directory, so never in a snapshot.
The certificate names ``localhost`` and ``127.0.0.1`` (every endpoint here)
and the instance identifier.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

#: The identifier AWS gives its current default RDS CA.
CA_IDENTIFIER = "rds-ca-rsa2048-g1"
CA_DAYS = 40 * 365  # AWS's rds-ca-rsa2048-g1 is valid about 40 years
SERVER_DAYS = 397
KEY_BITS = 2048
_AAD = b"rds-ca-private-key"

Seal = Callable[[bytes, bytes], bytes]


@dataclass(frozen=True)
class CaInfo:
    """What DescribeCertificates and CertificateDetails report."""

    identifier: str
    thumbprint: str  # SHA-1 of the DER certificate, hex
    valid_from: datetime.datetime
    valid_till: datetime.datetime


_CA_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True,
    crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


class CertificateAuthority:
    """The server's CA: created once (the first caller wins when several
    processes share the directory), its key kept only sealed."""

    def __init__(self, base_dir: Path, seal: Seal, unseal: Seal) -> None:
        self.directory = Path(base_dir) / "tls"
        self._seal = seal
        self._unseal = unseal
        self._lock = threading.Lock()
        self._cert: x509.Certificate | None = None

    @property
    def pem_path(self) -> Path:
        return self.directory / "ca.pem"

    def _bundle(self) -> bytes:
        path = self.directory / "ca.bundle"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        key = _key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "strongroom"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Amazon RDS (strongroom)"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"Amazon RDS {CA_IDENTIFIER} Root CA"),
            ]
        )
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        sealed = self._seal(der, _AAD)
        bundle = (
            len(sealed).to_bytes(4, "big") + sealed + cert.public_bytes(serialization.Encoding.PEM)
        )
        tmp = self.directory / f".ca.bundle.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(bundle)
        try:
            os.link(tmp, path)  # exclusive: another process may have won
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_bytes()

    def _load(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        bundle = self._bundle()
        n = int.from_bytes(bundle[:4], "big")
        der = self._unseal(bundle[4 : 4 + n], _AAD)
        key = serialization.load_der_private_key(der, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        cert = x509.load_pem_x509_certificate(bundle[4 + n :])
        return key, cert

    def certificate(self) -> x509.Certificate:
        with self._lock:
            if self._cert is None:
                bundle = self._bundle()
                n = int.from_bytes(bundle[:4], "big")
                self._cert = x509.load_pem_x509_certificate(bundle[4 + n :])
                pem = self._cert.public_bytes(serialization.Encoding.PEM)
                if not self.pem_path.exists() or self.pem_path.read_bytes() != pem:
                    tmp = self.pem_path.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_bytes(pem)
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, self.pem_path)
            return self._cert

    def info(self) -> CaInfo:
        cert = self.certificate()
        return CaInfo(
            CA_IDENTIFIER,
            hashlib.sha1(  # AWS's Thumbprint: the SHA-1 fingerprint
                cert.public_bytes(serialization.Encoding.DER), usedforsecurity=False
            ).hexdigest(),
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
        )

    def issue(self, common_name: str) -> tuple[bytes, bytes]:
        """A server certificate for one instance: (key PEM, certificate PEM
        followed by the CA's)."""
        self.certificate()
        with self._lock:
            ca_key, ca_cert = self._load()
        key = _key()
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(
                min(now + datetime.timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc)
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.DNSName(common_name),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        chain = cert.public_bytes(serialization.Encoding.PEM)
        return key_pem, chain
