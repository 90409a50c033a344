"""STS federation end to end with boto3: GetFederationToken,
AssumeRoleWithWebIdentity against a real (local, self-signed HTTPS) OpenID
Connect issuer, AssumeRoleWithSAML, RoleArn validation before authorization
and transitive session tags."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import json
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from strongroom.testing import StrongroomServer

ACCOUNT = "000000000000"
WEB = "sts:AssumeRoleWithWebIdentity"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def fails(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        fn(*args, **kwargs)
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


# -- a local OpenID Connect issuer -----------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def self_signed(tmp: Path, name: str) -> tuple[Path, Path, str]:
    """(cert file, key file, SHA-1 thumbprint) of a certificate for 127.0.0.1."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return cert_file, key_file, hashlib.sha1(der).hexdigest()


def ca_signed(tmp: Path, name: str) -> tuple[Path, Path, str]:
    """(chain file: leaf then CA, leaf key file, the CA's thumbprint)."""
    import ipaddress

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain_file, key_file = tmp / f"{name}-chain.pem", tmp / f"{name}-leaf.key"
    chain_file.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    )
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return (
        chain_file,
        key_file,
        hashlib.sha1(ca.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )


class Issuer:
    """An OIDC issuer on https://127.0.0.1:PORT that signs ID tokens."""

    def __init__(self, tmp: Path, name: str, *, with_ca: bool = False) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        maker = ca_signed if with_ca else self_signed
        cert, key, self.thumbprint = maker(tmp, name)
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    body = {"keys": issuer.jwks()}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"https://{self.host}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def jwks(self) -> list[dict[str, str]]:
        n = self.rsa.public_key().public_numbers()
        e = self.ec.public_key().public_numbers()
        return [
            {
                "kty": "RSA",
                "kid": "rsa-1",
                "use": "sig",
                "alg": "RS256",
                "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64url(n.e.to_bytes(3, "big")),
            },
            {
                "kty": "EC",
                "kid": "ec-1",
                "crv": "P-256",
                "x": b64url(e.x.to_bytes(32, "big")),
                "y": b64url(e.y.to_bytes(32, "big")),
            },
        ]

    def token(self, alg: str = "RS256", key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "app", "sub": "user-1", "iat": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        kid = {"RS256": "rsa-1", "ES256": "ec-1"}.get(alg, "rsa-1")
        header = {"alg": alg, "kid": kid, "typ": "JWT"}
        signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
        if alg == "RS256":
            sig = (key or self.rsa).sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        elif alg == "ES256":
            der = (key or self.ec).sign(signing.encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            sig = b""
        return f"{signing}.{b64url(sig)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tmp_certs() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-oidc-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def issuer(tmp_certs: Path) -> Iterator[Issuer]:
    idp = Issuer(tmp_certs, "idp")
    yield idp
    idp.close()


@pytest.fixture(scope="module")
def provider(server: StrongroomServer, issuer: Issuer) -> str:
    return server.client("iam").create_open_id_connect_provider(
        Url=issuer.url, ClientIDList=["app"], ThumbprintList=[issuer.thumbprint]
    )["OpenIDConnectProviderArn"]


@pytest.fixture(scope="module")
def unsigned_sts(server: StrongroomServer) -> Any:
    return server.client(
        "sts", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1})
    )


def web_role(server: StrongroomServer, provider: str, host: str, sub: str = "user-1") -> str:
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": WEB,
            "Condition": {"StringEquals": {f"{host}:aud": "app", f"{host}:sub": sub}},
        }
    )
    iam = server.client("iam")
    name = uid("web")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=doc(allow("iam:ListRoles")))
    return arn


# -- AssumeRoleWithWebIdentity ----------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_web_identity_happy_path(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any, alg: str
) -> None:
    role = web_role(server, provider, issuer.host)
    out = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="ci", WebIdentityToken=issuer.token(alg)
    )
    assert out["SubjectFromWebIdentityToken"] == "user-1"
    assert out["Provider"] == provider
    assert out["Audience"] == "app"
    role_name = role.rsplit("/", 1)[1]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/ci"
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    creds = {
        "access_key_id": c["AccessKeyId"],
        "secret_access_key": c["SecretAccessKey"],
        "session_token": c["SessionToken"],
    }
    assert (
        server.client("sts", **creds).get_caller_identity()["Arn"]
        == (out["AssumedRoleUser"]["Arn"])
    )
    as_role = server.client("iam", **creds)
    as_role.list_roles()
    assert fails(as_role.list_users)[:2] == ("AccessDenied", 403)


def test_web_identity_session_policy_and_duration(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any
) -> None:
    role = web_role(server, provider, issuer.host)
    out = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role,
        RoleSessionName="narrow",
        WebIdentityToken=issuer.token(),
        Policy=doc(allow("iam:GetRole")),
        DurationSeconds=900,
    )
    assert 0 < out["PackedPolicySize"] <= 100
    c = out["Credentials"]
    as_role = server.client(
        "iam",
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
    )
    assert fails(as_role.list_roles)[:2] == ("AccessDenied", 403)
    code, status, message = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="long",
        WebIdentityToken=issuer.token(),
        DurationSeconds=7200,
    )
    assert (code, status) == ("ValidationError", 400)
    assert "MaxSessionDuration" in message
    code, status, _ = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="bad",
        WebIdentityToken=issuer.token(),
        Policy="{not json",
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    big = doc(*[allow(f"iam:Get{'x' * 40}{i}") for i in range(40)])
    code, status, _ = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="big",
        WebIdentityToken=issuer.token(),
        Policy=big[:2048] if len(big) <= 2048 else big,
    )
    assert status == 400 and code in ("PackedPolicyTooLarge", "ValidationError")


def test_web_identity_token_checks(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any
) -> None:
    role = web_role(server, provider, issuer.host)

    def assume(token: str) -> tuple[str, int, str]:
        return fails(
            unsigned_sts.assume_role_with_web_identity,
            RoleArn=role,
            RoleSessionName="ss",
            WebIdentityToken=token,
        )

    now = int(time.time())
    code, status, message = assume(issuer.token(exp=now - 10))
    assert (code, status) == ("ExpiredTokenException", 400)
    assert message.startswith("Token expired: current date/time ")
    assert assume(issuer.token(nbf=now + 600))[:2] == ("InvalidIdentityToken", 400)
    assert assume(issuer.token(iat=now + 600))[:2] == ("InvalidIdentityToken", 400)
    assert assume(issuer.token(exp=None))[:2] == ("InvalidIdentityToken", 400)
    assert assume(issuer.token(aud="other")) == (
        "InvalidIdentityToken",
        400,
        "Incorrect token audience",
    )
    listed = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="ss", WebIdentityToken=issuer.token(aud=["x", "app"])
    )
    assert listed["Audience"] == "app"
    code, status, message = assume(issuer.token(iss="https://unknown.example.com"))
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert (
        message == "No OpenIDConnect provider found in your account for https://unknown.example.com"
    )
    # Forged: signed by another key under the issuer's key id.
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert assume(issuer.token("RS256", key=other_rsa))[:2] == ("InvalidIdentityToken", 400)
    other_ec = ec.generate_private_key(ec.SECP256R1())
    assert assume(issuer.token("ES256", key=other_ec))[:2] == ("InvalidIdentityToken", 400)
    # Tampered claims after signing.
    head, _body, sig = issuer.token().split(".")
    forged_body = b64url(
        json.dumps({"iss": issuer.url, "aud": "app", "sub": "user-1", "exp": now + 600}).encode()
    )
    assert assume(f"{head}.{forged_body}.{sig}")[:2] == ("InvalidIdentityToken", 400)
    # alg=none and HMAC tokens are never accepted.
    assert assume(issuer.token("none"))[:2] == ("InvalidIdentityToken", 400)
    assert assume(issuer.token("HS256"))[:2] == ("InvalidIdentityToken", 400)
    assert assume("not.a.jwt")[:2] == ("InvalidIdentityToken", 400)
    assert assume("garbage-token")[:2] == ("InvalidIdentityToken", 400)


def test_web_identity_trust_policy_decides(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any
) -> None:
    role = web_role(server, provider, issuer.host, sub="someone-else")
    code, status, message = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="ss",
        WebIdentityToken=issuer.token(),
    )
    assert (code, status, message) == (
        "AccessDenied",
        403,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )
    # A role trusting only the account (not the provider) refuses the web identity.
    iam = server.client("iam")
    name = uid("acct")
    trusts_account = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": [WEB, "sts:AssumeRole"],
            }
        ),
    )["Role"]["Arn"]
    assert fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=trusts_account,
        RoleSessionName="ss",
        WebIdentityToken=issuer.token(),
    )[:2] == ("AccessDenied", 403)
    # A role that does not exist looks the same.
    assert fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/missing-{uuid.uuid4().hex[:6]}",
        RoleSessionName="ss",
        WebIdentityToken=issuer.token(),
    )[:2] == ("AccessDenied", 403)
    # A role in another account: the token's issuer is not registered there.
    code, _, message = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn="arn:aws:iam::111111111111:role/elsewhere",
        RoleSessionName="ss",
        WebIdentityToken=issuer.token(),
    )
    assert code == "InvalidIdentityToken"
    assert "No OpenIDConnect provider found" in message


def test_web_identity_session_tags(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any
) -> None:
    iam = server.client("iam")
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": [WEB],
        "Condition": {"StringEquals": {f"{issuer.host}:aud": "app"}},
    }
    name = uid("tags")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc(statement))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="by-tag",
        PolicyDocument=doc(
            allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "db"}})
        ),
    )
    tagged = issuer.token(
        **{
            "https://aws.amazon.com/tags": {
                "principal_tags": {"team": ["db"]},
                "transitive_tag_keys": ["team"],
            }
        }
    )
    # Session tags need sts:TagSession in the trust policy.
    assert fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="tagged",
        WebIdentityToken=tagged,
    )[:2] == ("AccessDenied", 403)
    statement["Action"] = [WEB, "sts:TagSession"]
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=doc(statement))
    out = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="tagged", WebIdentityToken=tagged
    )
    server.client("iam", **session_creds(out)).list_roles()
    untagged = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="plain", WebIdentityToken=issuer.token()
    )
    assert fails(server.client("iam", **session_creds(untagged)).list_roles)[:2] == (
        "AccessDenied",
        403,
    )
    bad = issuer.token(**{"https://aws.amazon.com/tags": {"principal_tags": {"team": [1, 2]}}})
    assert fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="bad",
        WebIdentityToken=bad,
    )[:2] == ("InvalidIdentityToken", 400)


def test_web_identity_audit_keeps_the_token_out(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any
) -> None:
    role = web_role(server, provider, issuer.host)
    token = issuer.token(sub="user-1", jti=uuid.uuid4().hex)
    out = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="audited", WebIdentityToken=token
    )
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": WEB.split(":")[1]}]
    )["Events"]
    records = [e["CloudTrailEvent"] for e in events]
    assert any(out["Credentials"]["AccessKeyId"] in r for r in records)
    mine = next(json.loads(r) for r in records if out["Credentials"]["AccessKeyId"] in r)
    # Recorded as the identity the token proved, in the role's account.
    assert mine["userIdentity"] == {
        "type": "WebIdentityUser",
        "principalId": mine["userIdentity"]["principalId"],
        "userName": "user-1",
        "identityProvider": issuer.host,
    }
    assert mine["userIdentity"]["principalId"].endswith(":user-1")
    assert mine["recipientAccountId"] == role.split(":")[4]
    for record in records:
        assert token not in record and token.split(".")[2] not in record
        assert out["Credentials"]["SecretAccessKey"] not in record
        assert out["Credentials"]["SessionToken"] not in record


def test_web_identity_tls_is_pinned(
    server: StrongroomServer, tmp_certs: Path, unsigned_sts: Any
) -> None:
    iam = server.client("iam")
    impostor = Issuer(tmp_certs, "impostor")
    try:
        arn = iam.create_open_id_connect_provider(
            Url=impostor.url, ClientIDList=["app"], ThumbprintList=["0" * 40]
        )["OpenIDConnectProviderArn"]
        role = web_role(server, arn, impostor.host)
        code, status, message = fails(
            unsigned_sts.assume_role_with_web_identity,
            RoleArn=role,
            RoleSessionName="ss",
            WebIdentityToken=impostor.token(),
        )
        assert (code, status) == ("InvalidIdentityToken", 400)
        assert "thumbprint" in message
        # Once the thumbprint is right, the same token works.
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=[impostor.thumbprint]
        )
        unsigned_sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ss", WebIdentityToken=impostor.token()
        )
    finally:
        impostor.close()


def test_web_identity_thumbprint_of_the_top_ca(
    server: StrongroomServer, tmp_certs: Path, unsigned_sts: Any
) -> None:
    """AWS asks for the thumbprint of the top intermediate CA the server presents."""
    idp = Issuer(tmp_certs, "chained", with_ca=True)
    try:
        arn = server.client("iam").create_open_id_connect_provider(
            Url=idp.url, ClientIDList=["app"], ThumbprintList=[idp.thumbprint]
        )["OpenIDConnectProviderArn"]
        role = web_role(server, arn, idp.host)
        out = unsigned_sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ca", WebIdentityToken=idp.token()
        )
        assert out["Provider"] == arn
    finally:
        idp.close()


def test_web_identity_unreachable_issuer(
    server: StrongroomServer, tmp_certs: Path, unsigned_sts: Any
) -> None:
    gone = Issuer(tmp_certs, "gone")
    token = gone.token()
    url, host, thumb = gone.url, gone.host, gone.thumbprint
    gone.close()
    with socket.socket() as s:  # nothing listens there any more
        assert s.connect_ex(("127.0.0.1", gone.port)) != 0
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(
        Url=url, ClientIDList=["app"], ThumbprintList=[thumb]
    )["OpenIDConnectProviderArn"]
    role = web_role(server, arn, host)
    code, status, _ = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn=role,
        RoleSessionName="ss",
        WebIdentityToken=token,
    )
    assert (code, status) == ("IDPCommunicationError", 400)


def test_web_identity_input_validation(issuer: Issuer, provider: str, unsigned_sts: Any) -> None:
    code, status, message = fails(
        unsigned_sts.assume_role_with_web_identity,
        RoleArn="arn:aws:iam::000000000000:user/not-a-role",
        RoleSessionName="ss",
        WebIdentityToken=issuer.token(),
    )
    assert (code, status, message) == (
        "ValidationError",
        400,
        "arn:aws:iam::000000000000:user/not-a-role is invalid",
    )
    raw = unsigned_sts.meta.config.merge(Config(parameter_validation=False))
    import boto3

    loose = boto3.Session(region_name="us-east-1").client(
        "sts", endpoint_url=unsigned_sts.meta.endpoint_url, config=raw
    )
    code, status, _ = fails(
        loose.assume_role_with_web_identity, RoleArn="x" * 30, RoleSessionName="ss"
    )
    assert (code, status) == ("ValidationError", 400)
    code, status, _ = fails(
        loose.assume_role_with_web_identity,
        RoleArn="arn:aws:iam::000000000000:role/r",
        RoleSessionName="bad name!",
        WebIdentityToken=issuer.token(),
    )
    assert (code, status) == ("ValidationError", 400)


# -- AssumeRole: validation before authorization, transitive tags -------------------


def new_user(server: StrongroomServer, *policies: dict) -> tuple[str, dict]:
    iam = server.client("iam")
    name = uid("u")
    iam.create_user(UserName=name)
    if policies:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*policies))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def test_malformed_role_arn_is_a_validation_error(server: StrongroomServer) -> None:
    _, creds = new_user(server)  # no policy at all: still a ValidationError, not AccessDenied
    sts = server.client("sts", **creds)
    for bad in (
        "arn:aws:iam::000000000000:rol/x",
        "arn:aws:iam:000000000000:role/x",
        "arn:aws:iam::0000:role/abcdefgh",
        "arn:aws:s3:::bucket/role/abc",
        "definitely-not-an-arn",
    ):
        assert fails(sts.assume_role, RoleArn=bad, RoleSessionName="ss") == (
            "ValidationError",
            400,
            f"{bad} is invalid",
        )


def session_creds(out: dict) -> dict:
    c = out["Credentials"]
    return {
        "access_key_id": c["AccessKeyId"],
        "secret_access_key": c["SecretAccessKey"],
        "session_token": c["SessionToken"],
    }


def test_transitive_session_tags(server: StrongroomServer) -> None:
    iam = server.client("iam")
    trust_account = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    )
    first, second = uid("first"), uid("second")
    first_arn = iam.create_role(RoleName=first, AssumeRolePolicyDocument=trust_account)["Role"][
        "Arn"
    ]
    second_arn = iam.create_role(RoleName=second, AssumeRolePolicyDocument=trust_account)["Role"][
        "Arn"
    ]
    iam.put_role_policy(
        RoleName=first,
        PolicyName="chain",
        PolicyDocument=doc(allow(["sts:AssumeRole", "sts:TagSession"], second_arn)),
    )
    iam.put_role_policy(
        RoleName=second,
        PolicyName="tagged",
        PolicyDocument=doc(
            allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "db"}})
        ),
    )
    _, creds = new_user(server, allow(["sts:AssumeRole", "sts:TagSession"]))
    sts = server.client("sts", **creds)
    code, status, _ = fails(
        sts.assume_role,
        RoleArn=first_arn,
        RoleSessionName="aa",
        Tags=[{"Key": "team", "Value": "db"}],
        TransitiveTagKeys=["project"],
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert fails(
        sts.assume_role,
        RoleArn=first_arn,
        RoleSessionName="aa",
        Tags=[{"Key": "team", "Value": "db"}, {"Key": "TEAM", "Value": "x"}],
    )[:2] == ("InvalidParameterValue", 400)
    out = sts.assume_role(
        RoleArn=first_arn,
        RoleSessionName="aa",
        Tags=[{"Key": "team", "Value": "db"}, {"Key": "tmp", "Value": "1"}],
        TransitiveTagKeys=["team"],
    )
    chained = server.client("sts", **session_creds(out))
    # A transitive key cannot be set again down the chain.
    code, status, _ = fails(
        chained.assume_role,
        RoleArn=second_arn,
        RoleSessionName="bb",
        Tags=[{"Key": "Team", "Value": "web"}],
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    # Without it, the transitive tag carries over (and the non-transitive one does not).
    out2 = chained.assume_role(RoleArn=second_arn, RoleSessionName="bb")
    server.client("iam", **session_creds(out2)).list_roles()
    # A session without the tag is refused by the same policy.
    plain = sts.assume_role(RoleArn=second_arn, RoleSessionName="cc")
    assert fails(server.client("iam", **session_creds(plain)).list_roles)[:2] == (
        "AccessDenied",
        403,
    )


def test_session_tags_need_tag_session(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name = uid("notag")
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]["Arn"]
    _, creds = new_user(server, allow(["sts:AssumeRole", "sts:TagSession"]))
    sts = server.client("sts", **creds)
    sts.assume_role(RoleArn=arn, RoleSessionName="ok")
    assert fails(
        sts.assume_role, RoleArn=arn, RoleSessionName="tt", Tags=[{"Key": "a", "Value": "b"}]
    )[:2] == ("AccessDenied", 403)


# -- GetFederationToken -----------------------------------------------------------------


def test_federation_token_is_the_intersection(server: StrongroomServer) -> None:
    _user, creds = new_user(
        server, allow("sts:GetFederationToken"), allow(["iam:ListUsers", "iam:ListRoles"])
    )
    sts = server.client("sts", **creds)
    out = sts.get_federation_token(
        Name="bob", Policy=doc(allow(["iam:ListUsers", "iam:CreateUser"])), DurationSeconds=900
    )
    fed_arn = f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
    assert out["FederatedUser"] == {"FederatedUserId": f"{ACCOUNT}:bob", "Arn": fed_arn}
    assert 0 < out["PackedPolicySize"] <= 100
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    fed = session_creds(out)
    who = server.client("sts", **fed).get_caller_identity()
    assert who["Arn"] == fed_arn
    assert who["UserId"] == f"{ACCOUNT}:bob"
    as_fed = server.client("iam", **fed)
    as_fed.list_users()  # the user's policy and the session policy both allow
    assert fails(as_fed.list_roles)[:2] == ("AccessDenied", 403)  # session policy does not
    code, status, message = fails(as_fed.create_user, UserName=uid("no"))  # user policy does not
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {fed_arn} is not authorized to perform: iam:CreateUser")
    # Federated credentials are temporary: no GetFederationToken / GetSessionToken with them.
    fed_sts = server.client("sts", **fed)
    assert fails(fed_sts.get_federation_token, Name="again", Policy=doc(allow("*")))[:2] == (
        "AccessDenied",
        403,
    )


def test_federation_token_without_policy_has_no_permissions(server: StrongroomServer) -> None:
    _, creds = new_user(server, allow(["sts:GetFederationToken", "iam:ListUsers"]))
    out = server.client("sts", **creds).get_federation_token(Name="nobody")
    assert "PackedPolicySize" not in out
    as_fed = server.client("iam", **session_creds(out))
    assert fails(as_fed.list_users)[:2] == ("AccessDenied", 403)
    # GetCallerIdentity needs no permission.
    assert (
        server.client("sts", **session_creds(out))
        .get_caller_identity()["Arn"]
        .endswith("federated-user/nobody")
    )


def test_federation_token_refusals(server: StrongroomServer) -> None:
    _, creds = new_user(server)  # no policy
    sts = server.client("sts", **creds)
    code, status, message = fails(sts.get_federation_token, Name="bob")
    assert (code, status) == ("AccessDenied", 403)
    assert "sts:GetFederationToken" in message
    # From role credentials.
    _, powerful = new_user(server, allow(["sts:*"]))
    iam = server.client("iam")
    name = uid("r")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=doc(allow("sts:*")))
    out = server.client("sts", **powerful).assume_role(RoleArn=role, RoleSessionName="ss")
    code, status, message = fails(
        server.client("sts", **session_creds(out)).get_federation_token, Name="bob"
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message == "Cannot call GetFederationToken with session credentials"
    # From GetSessionToken credentials, too.
    st = server.client("sts", **powerful).get_session_token()
    assert fails(server.client("sts", **session_creds(st)).get_federation_token, Name="bob")[
        :2
    ] == ("AccessDenied", 403)
    # GetSessionToken refuses every kind of session credentials the same way.
    fed = server.client("sts", **powerful).get_federation_token(
        Name="fed", Policy=doc(allow("sts:*"))
    )
    for temp in (out, st, fed):
        code, status, message = fails(server.client("sts", **session_creds(temp)).get_session_token)
        assert (code, status, message) == (
            "AccessDenied",
            403,
            "Cannot call GetSessionToken with session credentials",
        )
    # Forged signature.
    forged = server.client("sts", access_key_id=creds["access_key_id"], secret_access_key="x" * 40)
    assert fails(forged.get_federation_token, Name="bob")[:2] == ("SignatureDoesNotMatch", 403)


def test_federation_token_durations_and_root(server: StrongroomServer) -> None:
    root = server.client("sts")
    code, status, _ = fails(root.get_federation_token, Name="admin", DurationSeconds=7200)
    assert (code, status) == ("ValidationError", 400)
    out = root.get_federation_token(Name="admin", Policy=doc(allow("iam:ListUsers")))
    expires = out["Credentials"]["Expiration"]
    assert expires - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=3600 + 60)
    as_fed = server.client("iam", **session_creds(out))
    as_fed.list_users()
    assert fails(as_fed.list_roles)[:2] == ("AccessDenied", 403)
    _, creds = new_user(server, allow("sts:GetFederationToken"))
    sts = server.client("sts", **creds)
    long = sts.get_federation_token(Name="long", DurationSeconds=129600)
    assert long["Credentials"]["Expiration"] - dt.datetime.now(dt.UTC) > dt.timedelta(hours=35)
    loose = server.client(
        "sts",
        **creds,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    assert fails(loose.get_federation_token, Name="x", DurationSeconds=129601)[:2] == (
        "ValidationError",
        400,
    )
    assert fails(loose.get_federation_token, Name="bad name")[:2] == ("ValidationError", 400)
    assert fails(loose.get_federation_token)[:2] == ("ValidationError", 400)


# -- AssumeRoleWithSAML ----------------------------------------------------------------

IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
IDP = "https://idp.example.com/saml"


def metadata(key: rsa.RSAPrivateKey = IDP_KEY) -> str:
    """SAML metadata naming the IdP's one signing certificate."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    body = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{body}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


SIGNATURE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI="#a1"><ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue>DIGEST</ds:DigestValue></ds:Reference></ds:SignedInfo>
<ds:SignatureValue>SIGVALUE</ds:SignatureValue></ds:Signature>"""


def saml_response(
    role: str,
    provider: str,
    *,
    key: rsa.RSAPrivateKey | None = IDP_KEY,
    minutes: int = 5,
    recipient: str = "https://signin.aws.amazon.com/saml",
    subject: str = "alice",
    attributes: str = "",
) -> str:
    """A SAMLResponse whose assertion is signed with `key` (None: unsigned)."""
    from strongroom.auth import xmldsig

    now = dt.datetime.now(dt.UTC)
    later = (now + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0">
  <saml:Issuer>{IDP}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="a1" Version="2.0">
    <saml:Issuer>{IDP}</saml:Issuer>{SIGNATURE if key else ""}
    <saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{subject}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="{later}" Recipient="{recipient}"/>
      </saml:SubjectConfirmation></saml:Subject>
    <saml:Conditions NotOnOrAfter="{later}"><saml:AudienceRestriction>
      <saml:Audience>https://signin.aws.amazon.com/saml</saml:Audience>
    </saml:AudienceRestriction></saml:Conditions>
    <saml:AttributeStatement>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">
        <saml:AttributeValue>{role},{provider}</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">
        <saml:AttributeValue>{subject}</saml:AttributeValue></saml:Attribute>{attributes}
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""
    if key is not None:
        for placeholder in ("DIGEST", "SIGVALUE"):
            doc = xmldsig.parse(xml)
            assertion = doc.root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
            signature = assertion.find(f"{{{xmldsig.DS}}}Signature")
            if placeholder == "DIGEST":
                canonical = xmldsig.exc_c14n(doc, assertion, exclude=signature)
                value = hashlib.sha256(canonical).digest()
            else:
                info = xmldsig.exc_c14n(doc, signature.find(f"{{{xmldsig.DS}}}SignedInfo"))
                value = key.sign(info, padding.PKCS1v15(), hashes.SHA256())
            xml = xml.replace(placeholder, base64.b64encode(value).decode())
    return base64.b64encode(xml.encode()).decode()


@pytest.fixture(scope="module")
def saml_provider(server: StrongroomServer) -> str:
    return server.client("iam").create_saml_provider(
        Name=uid("idp"), SAMLMetadataDocument=metadata()
    )["SAMLProviderArn"]


def saml_role(server: StrongroomServer, provider: str, subject: str = "alice") -> str:
    iam = server.client("iam")
    name = uid("saml")
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {
                    "StringEquals": {
                        "SAML:aud": "https://signin.aws.amazon.com/saml",
                        "SAML:sub": subject,
                    }
                },
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=doc(allow("iam:ListRoles")))
    return arn


def test_saml_happy_path(server: StrongroomServer, saml_provider: str, unsigned_sts: Any) -> None:
    role = saml_role(server, saml_provider)
    out = unsigned_sts.assume_role_with_saml(
        RoleArn=role, PrincipalArn=saml_provider, SAMLAssertion=saml_response(role, saml_provider)
    )
    assert (out["Subject"], out["SubjectType"], out["Issuer"]) == ("alice", "persistent", IDP)
    assert out["Audience"] == "https://signin.aws.amazon.com/saml"
    provider_name = saml_provider.rsplit("/", 1)[1]
    expected = base64.b64encode(
        hashlib.sha1(f"{IDP}{ACCOUNT}/{provider_name}".encode()).digest()
    ).decode()
    assert out["NameQualifier"] == expected
    role_name = role.rsplit("/", 1)[1]
    assert out["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/alice"
    )
    creds = session_creds(out)
    assert (
        server.client("sts", **creds).get_caller_identity()["Arn"]
        == (out["AssumedRoleUser"]["Arn"])
    )
    server.client("iam", **creds).list_roles()


def test_saml_refusals(server: StrongroomServer, saml_provider: str, unsigned_sts: Any) -> None:
    role = saml_role(server, saml_provider)

    def assume(assertion: str, **kw: Any) -> tuple[str, int, str]:
        args = {"RoleArn": role, "PrincipalArn": saml_provider, "SAMLAssertion": assertion}
        args.update(kw)
        return fails(unsigned_sts.assume_role_with_saml, **args)

    # Unsigned, or signed by someone else: never trusted.
    assert assume(saml_response(role, saml_provider, key=None))[:2] == ("InvalidIdentityToken", 400)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert assume(saml_response(role, saml_provider, key=other))[:2] == (
        "InvalidIdentityToken",
        400,
    )
    # Tampered after signing.
    good = base64.b64decode(saml_response(role, saml_provider)).decode()
    tampered = base64.b64encode(good.replace(">alice<", ">admin<").encode()).decode()
    assert assume(tampered)[:2] == ("InvalidIdentityToken", 400)
    assert assume(saml_response(role, saml_provider, minutes=-1))[:2] == (
        "ExpiredTokenException",
        400,
    )
    assert assume(saml_response(role, saml_provider, recipient="https://evil.example.com"))[:2] == (
        "InvalidIdentityToken",
        400,
    )
    # The assertion names another role.
    other_role = saml_role(server, saml_provider)
    assert assume(saml_response(other_role, saml_provider))[:2] == ("InvalidIdentityToken", 400)
    # The trust policy's SAML:sub condition.
    assert assume(saml_response(role, saml_provider, subject="mallory")) == (
        "AccessDenied",
        403,
        "Not authorized to perform sts:AssumeRoleWithSAML",
    )
    assert assume("bm90IHhtbA==" * 2)[:2] == ("InvalidIdentityToken", 400)
    assert assume(
        saml_response(role, saml_provider),
        PrincipalArn=f"arn:aws:iam::{ACCOUNT}:role/not-a-provider",
    ) == ("ValidationError", 400, "Request ARN is invalid")
    assert assume(saml_response(role, saml_provider), RoleArn="arn:aws:iam::000000000000:group/g1")[
        :2
    ] == ("ValidationError", 400)
    missing = f"arn:aws:iam::{ACCOUNT}:saml-provider/missing"
    assert assume(saml_response(role, missing), PrincipalArn=missing)[:2] == (
        "InvalidIdentityToken",
        400,
    )


def test_saml_session_tags(server: StrongroomServer, saml_provider: str, unsigned_sts: Any) -> None:
    iam = server.client("iam")
    name = uid("samltags")
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": saml_provider},
        "Action": ["sts:AssumeRoleWithSAML"],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc(statement))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="by-tag",
        PolicyDocument=doc(
            allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "db"}})
        ),
    )
    tag = (
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/PrincipalTag:team">'
        "<saml:AttributeValue>db</saml:AttributeValue></saml:Attribute>"
    )
    tagged = saml_response(role, saml_provider, attributes=tag)
    assert fails(
        unsigned_sts.assume_role_with_saml,
        RoleArn=role,
        PrincipalArn=saml_provider,
        SAMLAssertion=tagged,
    )[:2] == ("AccessDenied", 403)
    statement["Action"] = ["sts:AssumeRoleWithSAML", "sts:TagSession"]
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=doc(statement))
    out = unsigned_sts.assume_role_with_saml(
        RoleArn=role, PrincipalArn=saml_provider, SAMLAssertion=tagged
    )
    server.client("iam", **session_creds(out)).list_roles()
    plain = unsigned_sts.assume_role_with_saml(
        RoleArn=role, PrincipalArn=saml_provider, SAMLAssertion=saml_response(role, saml_provider)
    )
    assert fails(server.client("iam", **session_creds(plain)).list_roles)[:2] == (
        "AccessDenied",
        403,
    )


# -- MinimumSessionTokenSize (newer botocore models) ---------------------------------


def _has_min_token_size(operation: str) -> bool:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sts")
    return "MinimumSessionTokenSize" in model.operation_model(operation).input_shape.members


def _big_token_works(server: StrongroomServer, out: dict, size: int) -> None:
    token = out["Credentials"]["SessionToken"]
    assert len(token) >= size
    assert out["SessionTokenSize"] == len(token)
    assert out["SessionTokenUtilization"] == min(100, len(token) * 100 // 4096)
    assert (
        server.client("sts", **session_creds(out)).get_caller_identity()["Arn"]
        == out["AssumedRoleUser"]["Arn"]
    )


@pytest.mark.skipif(
    not _has_min_token_size("AssumeRoleWithWebIdentity"),
    reason="the installed botocore has no MinimumSessionTokenSize",
)
def test_web_identity_minimum_token_size(
    server: StrongroomServer, issuer: Issuer, provider: str, unsigned_sts: Any
) -> None:
    role = web_role(server, provider, issuer.host)
    out = unsigned_sts.assume_role_with_web_identity(
        RoleArn=role,
        RoleSessionName="ci",
        WebIdentityToken=issuer.token(),
        MinimumSessionTokenSize=3500,
    )
    _big_token_works(server, out, 3500)


@pytest.mark.skipif(
    not _has_min_token_size("AssumeRoleWithSAML"),
    reason="the installed botocore has no MinimumSessionTokenSize",
)
def test_saml_minimum_token_size(
    server: StrongroomServer, saml_provider: str, unsigned_sts: Any
) -> None:
    role = saml_role(server, saml_provider)
    out = unsigned_sts.assume_role_with_saml(
        RoleArn=role,
        PrincipalArn=saml_provider,
        SAMLAssertion=saml_response(role, saml_provider),
        MinimumSessionTokenSize=4096,
    )
    _big_token_works(server, out, 4096)
    # A refused assertion gets no token, however large it was asked to be.
    code, status, _ = fails(
        unsigned_sts.assume_role_with_saml,
        RoleArn=role,
        PrincipalArn=saml_provider,
        SAMLAssertion=saml_response(role, saml_provider, key=None),
        MinimumSessionTokenSize=4096,
    )
    assert (code, status) == ("InvalidIdentityToken", 400)
