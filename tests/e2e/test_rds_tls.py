"""RDS TLS on real PostgreSQL servers: every instance offers TLS with a
certificate of the server's CA (``rds-ca-rsa2048-g1``), and ``rds.force_ssl``
in the instance's parameter group makes the engine refuse plain connections:
at create, when the group changes (dynamic, as on AWS) and when
ModifyDBInstance moves the instance to such a group (at the reboot)."""

from __future__ import annotations

import hashlib
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography import x509

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret-pass"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strongroom-rds-tls-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[StrongroomServer]:
    srv = StrongroomServer(data_dir)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def rds(server: StrongroomServer) -> Any:
    return server.client("rds")


def wait_available(rds: Any, ident: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        inst = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        if inst["DBInstanceStatus"] == "available":
            return inst
        assert inst["DBInstanceStatus"] in ("creating", "rebooting", "modifying"), inst
        assert time.monotonic() < deadline, f"{ident} still {inst['DBInstanceStatus']}"
        time.sleep(0.05)


def connect(inst: dict[str, Any], sslmode: str, **extra: Any) -> Any:
    return psycopg.connect(
        host=inst["Endpoint"]["Address"], port=inst["Endpoint"]["Port"],
        user=inst["MasterUsername"], password=PASSWORD, dbname="postgres",
        sslmode=sslmode, autocommit=True, connect_timeout=5, **extra,
    )  # fmt: skip


def plain_allowed(inst: dict[str, Any]) -> bool:
    try:
        with connect(inst, "disable") as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError as e:
        assert "no encryption" in str(e), e
        return False


def encrypted(inst: dict[str, Any], **extra: Any) -> bool:
    sslmode = extra.pop("sslmode", "require")
    with connect(inst, sslmode, **extra) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        return bool(row[0])


def eventually(check: Any, expected: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while check() != expected:
        assert time.monotonic() < deadline, f"still {not expected}"
        time.sleep(0.05)


def set_force_ssl(rds: Any, group: str, value: str) -> None:
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": value,
         "ApplyMethod": "immediate"}])  # fmt: skip


def _has_tls(bin_dir: Path) -> bool:
    return b"SSL_CTX_new" in (bin_dir / "postgres").read_bytes()


def _majors(with_tls: bool) -> list[str]:
    from strongroom.engines.postgres.binaries import Catalogue

    return [str(v.major) for v in Catalogue([]).versions() if _has_tls(v.bin_dir) == with_tls]


@pytest.fixture(scope="module")
def major() -> str:
    found = _majors(True)
    if not found:
        pytest.skip("no PostgreSQL built with OpenSSL on this machine")
    return found[-1]


@pytest.fixture(scope="module")
def family(major: str) -> str:
    return f"postgres{major}"


def test_force_ssl_at_create_and_as_the_group_changes(
    rds: Any, family: str, data_dir: Path
) -> None:
    rds.create_db_parameter_group(DBParameterGroupName="tls-on", DBParameterGroupFamily=family,
                                  Description="TLS required")  # fmt: skip
    set_force_ssl(rds, "tls-on", "1")
    rds.create_db_instance(
        DBInstanceIdentifier="locked", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        DBParameterGroupName="tls-on", EngineVersion=family.removeprefix("postgres"),
    )  # fmt: skip
    inst = wait_available(rds, "locked")
    assert inst["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    assert not plain_allowed(inst)
    assert encrypted(inst)
    # The server's CA verifies the instance's certificate (name 127.0.0.1).
    ca = data_dir / "engines" / "postgres" / "tls" / "ca.pem"
    assert encrypted(inst, sslmode="verify-full", sslrootcert=str(ca))
    cert = x509.load_pem_x509_certificate(ca.read_bytes())
    assert "rds-ca-rsa2048-g1" in cert.subject.rfc4514_string()
    # Dynamic, as on AWS: the group's change reaches the running instance.
    set_force_ssl(rds, "tls-on", "0")
    eventually(lambda: plain_allowed(inst), True)
    assert encrypted(inst)  # TLS is still offered
    set_force_ssl(rds, "tls-on", "1")
    eventually(lambda: plain_allowed(inst), False)
    rds.reset_db_parameter_group(DBParameterGroupName="tls-on", Parameters=[
        {"ParameterName": "rds.force_ssl", "ApplyMethod": "immediate"}])  # fmt: skip
    eventually(lambda: plain_allowed(inst), True)
    set_force_ssl(rds, "tls-on", "1")
    eventually(lambda: plain_allowed(inst), False)
    # It survives a reboot (pg_hba.conf is written at every start).
    rds.reboot_db_instance(DBInstanceIdentifier="locked")
    inst = wait_available(rds, "locked")
    assert not plain_allowed(inst)


def test_moving_an_instance_to_a_forcing_group(rds: Any, family: str) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier="open", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        EngineVersion=family.removeprefix("postgres"),
    )  # fmt: skip
    inst = wait_available(rds, "open")
    assert plain_allowed(inst)
    assert encrypted(inst)  # offered, not required (default rds.force_ssl 0)
    if not any(g["DBParameterGroupName"] == "tls-on" for g in
               rds.describe_db_parameter_groups()["DBParameterGroups"]):  # fmt: skip
        rds.create_db_parameter_group(DBParameterGroupName="tls-on",
                                      DBParameterGroupFamily=family, Description="TLS")  # fmt: skip
        set_force_ssl(rds, "tls-on", "1")
    out = rds.modify_db_instance(DBInstanceIdentifier="open", DBParameterGroupName="tls-on")
    assert out["DBInstance"]["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    assert plain_allowed(inst)
    rds.reboot_db_instance(DBInstanceIdentifier="open")
    inst = wait_available(rds, "open")
    assert not plain_allowed(inst)
    # And back to the default group: plain allowed again after the reboot.
    rds.modify_db_instance(DBInstanceIdentifier="open", DBParameterGroupName=f"default.{family}")
    rds.reboot_db_instance(DBInstanceIdentifier="open")
    inst = wait_available(rds, "open")
    assert plain_allowed(inst)


def test_an_aurora_cluster_parameter_group_forces_ssl(rds: Any, major: str) -> None:
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="aurora-tls", DBParameterGroupFamily=f"aurora-postgresql{major}",
        Description="TLS required",
    )  # fmt: skip
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="aurora-tls", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "1",
         "ApplyMethod": "immediate"}])  # fmt: skip
    rds.create_db_cluster(
        DBClusterIdentifier="vault", Engine="aurora-postgresql", EngineVersion=major,
        MasterUsername="admin", MasterUserPassword=PASSWORD,
        DBClusterParameterGroupName="aurora-tls",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while (
        rds.describe_db_clusters(DBClusterIdentifier="vault")["DBClusters"][0]["Status"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for ident in ("vault-1", "vault-2"):
        rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.r6g.large",
                               Engine="aurora-postgresql", DBClusterIdentifier="vault")  # fmt: skip
    for ident in ("vault-1", "vault-2"):
        inst = wait_available(rds, ident)
        assert not plain_allowed(inst)
        assert encrypted(inst)
    # Turned off in the cluster's group: plain again on every member.
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="aurora-tls", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "0",
         "ApplyMethod": "immediate"}])  # fmt: skip
    for ident in ("vault-1", "vault-2"):
        inst = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        eventually(lambda i=inst: plain_allowed(i), True)


def test_a_server_without_tls_fails_closed(rds: Any) -> None:
    """A PostgreSQL built without OpenSSL can't offer TLS: with
    rds.force_ssl on, every TCP connection is refused (never plaintext)."""
    found = _majors(False)
    if not found:
        pytest.skip("every PostgreSQL here has TLS")
    rds.create_db_parameter_group(DBParameterGroupName="tls-none",
                                  DBParameterGroupFamily=f"postgres{found[-1]}",
                                  Description="no TLS build")  # fmt: skip
    rds.create_db_instance(
        DBInstanceIdentifier="bare", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword=PASSWORD, AllocatedStorage=20,
        EngineVersion=found[-1], DBParameterGroupName="tls-none",
    )  # fmt: skip
    inst = wait_available(rds, "bare")
    assert plain_allowed(inst)
    set_force_ssl(rds, "tls-none", "1")
    eventually(lambda: plain_allowed(inst), False)
    with pytest.raises(psycopg.OperationalError):
        connect(inst, "require")
    rds.delete_db_instance(DBInstanceIdentifier="bare", SkipFinalSnapshot=True)


def test_describe_certificates_is_the_servers_ca(rds: Any, data_dir: Path) -> None:
    import botocore.exceptions

    out = rds.describe_certificates()
    assert out["DefaultCertificateForNewLaunches"] == "rds-ca-rsa2048-g1"
    (cert,) = out["Certificates"]
    pem = x509.load_pem_x509_certificate(
        (data_dir / "engines" / "postgres" / "tls" / "ca.pem").read_bytes()
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    assert cert["Thumbprint"] == hashlib.sha1(pem.public_bytes(Encoding.DER)).hexdigest()
    assert cert["ValidTill"] == pem.not_valid_after_utc
    assert cert["ValidFrom"] == pem.not_valid_before_utc
    assert (cert["CertificateIdentifier"], cert["CertificateType"]) == ("rds-ca-rsa2048-g1", "CA")
    assert cert["CertificateArn"] == "arn:aws:rds:us-east-1::cert:rds-ca-rsa2048-g1"
    assert rds.describe_certificates(CertificateIdentifier="RDS-CA-RSA2048-G1")["Certificates"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        rds.describe_certificates(CertificateIdentifier="rds-ca-2019")
    assert exc.value.response["Error"]["Code"] == "CertificateNotFound"


def test_the_ca_key_is_sealed_and_the_files_private(data_dir: Path) -> None:
    tls = data_dir / "engines" / "postgres" / "tls"
    assert stat.S_IMODE(tls.stat().st_mode) == 0o700
    bundle = (tls / "ca.bundle").read_bytes()
    assert stat.S_IMODE((tls / "ca.bundle").stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in bundle and b"BEGIN CERTIFICATE" in bundle
    keys = list((data_dir / "engines" / "postgres" / "instances").glob("*/tls/server.key"))
    assert keys
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    # Never inside a data directory (so never in a snapshot).
    assert not list((data_dir / "engines" / "postgres" / "instances").glob("*/data/**/server.key"))
