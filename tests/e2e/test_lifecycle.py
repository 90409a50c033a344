"""Processes come and go; state stays: restarts, kill -9, several workers,
permissive mode and the time-travel clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer


def test_state_survives_restart_and_kill(tmp_path) -> None:
    server = StrongroomServer(tmp_path / "data").start()
    try:
        iam = server.client("iam")
        iam.create_user(UserName="survivor")
        key = iam.create_access_key(UserName="survivor")["AccessKey"]
        server.stop()  # SIGTERM
        server.start()
        ident = server.client(
            "sts", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
        ).get_caller_identity()
        assert ident["Arn"].endswith(":user/survivor")
        server.client("iam").create_user(UserName="acknowledged")
        server.kill()  # SIGKILL right after the acknowledged write
        server.start()
        assert server.client("iam").get_user(UserName="acknowledged")["User"]["UserName"]
        names = {e["EventName"] for e in server.client("cloudtrail").lookup_events()["Events"]}
        assert {"CreateUser", "CreateAccessKey", "GetCallerIdentity"} <= names
    finally:
        server.close()


def test_root_credentials_file_is_private(tmp_path) -> None:
    server = StrongroomServer(tmp_path / "d", env={}).start()
    try:
        for name in ("root.key", "root-credentials"):
            mode = (tmp_path / "d" / name).stat().st_mode & 0o777
            assert mode == 0o600, (name, oct(mode))
        text = (tmp_path / "d" / "root-credentials").read_text()
        assert server.access_key_id in text
    finally:
        server.close()


def test_state_files_are_private_in_a_private_data_dir(tmp_path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)  # an existing, world-readable dir: tightened at start
    server = StrongroomServer(data_dir, workers=2).start()
    try:
        server.client("iam").create_user(UserName="private")  # the WAL is in use
        modes = {p.name: p.stat().st_mode & 0o777 for p in data_dir.iterdir()}
        assert data_dir.stat().st_mode & 0o777 == 0o700
    finally:
        server.close()
    names = {"state.db", "state.db-wal", "state.db-shm", "state.db-generation", "root.key"}
    assert names | {"root-credentials", "server.log"} <= set(modes)
    # Files 0600; the directories services keep there (blobs, Lambda's engine) 0700.
    dirs = {p.name for p in data_dir.iterdir() if p.is_dir()}
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if name in dirs else 0o600)
    }
    assert wrong == {}


def test_generated_root_key_is_printed(tmp_path) -> None:
    # Without the environment variables the server makes its own root key.
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    port = __import__("strongroom.testing", fromlist=["free_port"]).free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "f")],
        env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        line = ""
        for _ in range(20):
            line += proc.stdout.readline()
            if "credentials in" in line:
                break
        assert "root access key AKIA" in line
        assert str(tmp_path / "f" / "root-credentials") in line
    finally:
        proc.terminate()
        proc.wait(20)
    assert (tmp_path / "f" / "root-credentials").read_text().count("aws_secret_access_key") == 1


def test_permissive_mode_maps_accounts(strongroom_factory: Callable[..., StrongroomServer]) -> None:
    server = strongroom_factory(auth="permissive")
    anyone = server.client("sts", access_key_id="whatever", secret_access_key="nonsense")
    assert anyone.get_caller_identity()["Account"] == "000000000000"
    other = server.client("sts", access_key_id="000000000002", secret_access_key="x")
    ident = other.get_caller_identity()
    assert ident["Account"] == "000000000002"
    assert ident["Arn"] == "arn:aws:iam::000000000002:root"
    iam2 = server.client("iam", access_key_id="000000000002", secret_access_key="x")
    iam2.create_user(UserName="cross")
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("iam", access_key_id="abc", secret_access_key="x").get_user(UserName="cross")


def test_time_travel_clock(strongroom_factory: Callable[..., StrongroomServer]) -> None:
    plain = strongroom_factory()
    with pytest.raises(Exception) as exc:
        plain.advance_clock("1d")
    assert "404" in str(exc.value)

    server = strongroom_factory(time_travel=True)
    before = server.client("sts").get_caller_identity()
    assert before
    moved = server.advance_clock("8d")
    assert moved["offset_seconds"] == pytest.approx(8 * 86400)
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        [sys.executable, "-m", "strongroom", "clock", "advance", "2d"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "offset 864000s" in out.stdout
    # Reading the clock is open; moving it takes the default account root's signature.
    assert "offset 864000s" in subprocess.run(
        [sys.executable, "-m", "strongroom", "clock", "show", "--endpoint", server.endpoint],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # Signatures are checked against the real time, events carry the moved clock.
    server.client("sts").get_caller_identity()
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    )["Events"]
    assert events


def test_only_the_root_moves_the_clock(strongroom_factory: Callable[..., StrongroomServer]) -> None:
    from botocore.credentials import Credentials

    from strongroom.admin_client import signed_request

    server = strongroom_factory(time_travel=True)
    url = f"{server.endpoint}/_strongroom/clock"

    def refusal(req: urllib.request.Request) -> str:
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=30)
        assert exc.value.code == 403
        return json.loads(exc.value.read())["error"]

    unsigned = urllib.request.Request(
        url, data=b'{"advance": "8d"}', method="POST", headers={"content-type": "application/json"}
    )
    assert refusal(unsigned) == "Missing Authentication Token"
    iam = server.client("iam")
    iam.create_user(UserName="clock-mover")
    iam.attach_user_policy(
        UserName="clock-mover", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    key = iam.create_access_key(UserName="clock-mover")["AccessKey"]
    user = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    assert "may not use the admin endpoints" in refusal(
        signed_request(url, "POST", {"advance": "8d"}, user)
    )
    forged = Credentials(server.access_key_id, "not-the-secret")
    assert "signature" in refusal(signed_request(url, "POST", {"advance": "8d"}, forged)).lower()
    root = Credentials(server.access_key_id, server.secret_access_key)
    with urllib.request.urlopen(signed_request(url, "GET", None, root), timeout=30) as resp:
        assert json.loads(resp.read())["offset_seconds"] == 0
    assert server.advance_clock("1d")["offset_seconds"] == pytest.approx(86400)


def test_several_workers_share_state(strongroom_factory: Callable[..., StrongroomServer]) -> None:
    server = strongroom_factory(workers=2)
    iam = server.client("iam")
    name = "shared-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    for _ in range(6):  # fresh connections land on either worker
        assert server.client("sts", **creds).get_caller_identity()["Arn"].endswith(name)
    # A policy change made through one worker binds every worker at once.
    policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}}'
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=policy)
    for _ in range(6):
        server.client("iam", **creds).list_users()
    iam.delete_user_policy(UserName=name, PolicyName="list")
    for _ in range(6):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            server.client("iam", **creds).list_users()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for _ in range(6):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            server.client("sts", **creds).get_caller_identity()
        assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_audit_is_durable_within_a_second(tmp_path) -> None:
    import time

    server = StrongroomServer(tmp_path / "data").start()
    try:
        marker = "durable-" + uuid.uuid4().hex[:6]
        server.client("iam").create_user(UserName=marker)
        time.sleep(1.0)
        server.kill()
        server.start()
        events = server.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}]
        )["Events"]
        assert any(marker in e["CloudTrailEvent"] for e in events)
    finally:
        server.close()


def test_two_servers_share_one_postgres_store(postgres, tmp_path) -> None:
    import base64

    url = postgres.create_database("shared" + uuid.uuid4().hex[:8])
    root_key = base64.b64encode(os.urandom(32)).decode()
    a = StrongroomServer(tmp_path / "a", store_url=url, env={"STRONGROOM_ROOT_KEY": root_key})
    b = StrongroomServer(tmp_path / "b", store_url=url, env={"STRONGROOM_ROOT_KEY": root_key})
    b.access_key_id, b.secret_access_key = a.access_key_id, a.secret_access_key
    a.start()
    b.start()
    try:
        name = "both-" + uuid.uuid4().hex[:6]
        a.client("iam").create_user(UserName=name)
        key = a.client("iam").create_access_key(UserName=name)["AccessKey"]
        creds = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
        assert b.client("sts", **creds).get_caller_identity()["Arn"].endswith(name)
        b.client("iam").update_access_key(
            UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive"
        )
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            a.client("sts", **creds).get_caller_identity()
        assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
        names = {e["EventName"] for e in b.client("cloudtrail").lookup_events()["Events"]}
        assert "CreateUser" in names  # made through a, seen through b
    finally:
        a.close()
        b.close()
