"""The core server end to end: identity, signatures, IAM users, the audit trail."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import urllib.request
import uuid

import botocore.exceptions
import pytest

from strongroom.testing import StrongroomServer


def error_of(exc_info: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    err = exc_info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_root_caller_identity(server: StrongroomServer) -> None:
    ident = server.client("sts").get_caller_identity()
    assert ident["Account"] == "000000000000"
    assert ident["Arn"] == "arn:aws:iam::000000000000:root"
    assert ident["UserId"] == "000000000000"


def test_aws_cli_caller_identity(server: StrongroomServer) -> None:
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", "sts", "get-caller-identity", "--output", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["Arn"] == "arn:aws:iam::000000000000:root"


def test_health_lists_services_to_the_root_only(server: StrongroomServer) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_strongroom/health", timeout=5) as resp:
        assert set(json.loads(resp.read())) == {"status", "version"}  # unsigned: nothing more
    health = server.health()
    assert health["status"] == "running"
    assert {"sts", "iam", "cloudtrail"} <= set(health["services"])
    assert "GetCallerIdentity" in health["services"]["sts"]["operations"]


def test_wrong_secret_is_rejected(server: StrongroomServer) -> None:
    sts = server.client("sts", secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.get_caller_identity()
    assert error_of(exc) == ("SignatureDoesNotMatch", 403)
    trail = server.client("cloudtrail", secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        trail.lookup_events(MaxResults=1)
    assert error_of(exc) == ("InvalidSignatureException", 400)


def test_unknown_key_is_rejected(server: StrongroomServer) -> None:
    sts = server.client("sts", access_key_id="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.get_caller_identity()
    assert error_of(exc) == ("InvalidClientTokenId", 403)


def test_unsigned_request_is_rejected(server: StrongroomServer) -> None:
    req = urllib.request.Request(
        server.endpoint + "/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in exc.value.read()


def test_request_outside_clock_skew_is_rejected(server: StrongroomServer) -> None:
    import datetime as dt
    from unittest import mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(server.access_key_id, server.secret_access_key)
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    req = AWSRequest(
        method="POST", url=server.endpoint + "/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        SigV4Auth(creds, "sts", "us-east-1").add_auth(req)
    prepared = req.prepare()
    http = urllib.request.Request(
        prepared.url, data=body.encode(), headers=dict(prepared.headers), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(http)
    text = exc.value.read().decode()
    assert exc.value.code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in text
    assert "Signature expired" in text


def test_presigned_url_works(server: StrongroomServer) -> None:
    url = server.client("sts").generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"
    )
    with urllib.request.urlopen(url) as resp:
        body = resp.read().decode()
    assert "arn:aws:iam::000000000000:root" in body


def test_unknown_operation_and_service(server: StrongroomServer) -> None:
    ddb = server.client("dynamodb")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ddb.list_tables()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    assert "served" in exc.value.response["Error"]["Message"]
    iam = server.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.list_server_certificates()  # not served (SAML providers are)
    assert error_of(exc)[1] == 400


def test_iam_user_key_lifecycle(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name = "alice-" + uuid.uuid4().hex[:6]
    user = iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "db"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::000000000000:user/{name}"
    assert user["UserId"].startswith("AIDA")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.create_user(UserName=name.upper())
    assert error_of(exc) == ("EntityAlreadyExists", 409)
    assert iam.get_user(UserName=name)["User"]["UserId"] == user["UserId"]
    assert name in [u["UserName"] for u in iam.list_users()["Users"]]

    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    as_user = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    ident = server.client("sts", **as_user).get_caller_identity()
    assert ident["Arn"] == user["Arn"] and ident["UserId"] == user["UserId"]

    # A new user has no permissions: IAM calls are denied in AWS's words.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("iam", **as_user).list_users()
    assert error_of(exc) == ("AccessDenied", 403)
    assert f"User: {user['Arn']} is not authorized to perform: iam:ListUsers" in str(exc.value)

    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts", **as_user).get_caller_identity()
    assert error_of(exc) == ("InvalidClientTokenId", 403)
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    server.client("sts", **as_user).get_caller_identity()

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.delete_user(UserName=name)
    assert error_of(exc) == ("DeleteConflict", 409)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts", **as_user).get_caller_identity()
    assert error_of(exc) == ("InvalidClientTokenId", 403)
    iam.delete_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.get_user(UserName=name)
    assert error_of(exc) == ("NoSuchEntity", 404)


def test_access_key_quota(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name = "quota-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    iam.create_access_key(UserName=name)
    iam.create_access_key(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.create_access_key(UserName=name)
    assert error_of(exc) == ("LimitExceeded", 409)


def test_validation_errors_are_aws_shaped(server: StrongroomServer) -> None:
    iam = server.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.create_user(UserName="bad name!")
    code, status = error_of(exc)
    assert code == "ValidationError" and status == 400
    trail = server.client("cloudtrail")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        trail.lookup_events(MaxResults=500)
    assert error_of(exc)[0] in ("InvalidMaxResultsException", "ValidationException")


def test_lookup_events_records_calls_without_secrets(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name = "audited-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(botocore.exceptions.ClientError):
        server.client(
            "sts", access_key_id=key["AccessKeyId"], secret_access_key="y" * 40
        ).get_caller_identity()
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}]
    )["Events"]
    assert events, "CreateAccessKey was not recorded"
    record = json.loads(events[0]["CloudTrailEvent"])
    for field in ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
                  "awsRegion", "sourceIPAddress", "userAgent", "requestParameters",
                  "responseElements", "requestID", "eventID", "readOnly", "eventType",
                  "managementEvent", "recipientAccountId", "eventCategory"):  # fmt: skip
        assert field in record, field
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["userIdentity"]["type"] == "Root"
    assert record["requestParameters"] == {"userName": name}
    assert record["responseElements"]["accessKey"]["accessKeyId"] == key["AccessKeyId"]
    assert "secretAccessKey" not in record["responseElements"]["accessKey"]

    failed = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key["AccessKeyId"]}]
    )["Events"]
    failed_record = json.loads(failed[0]["CloudTrailEvent"])
    assert failed_record["eventName"] == "GetCallerIdentity"
    assert failed_record["errorCode"] == "SignatureDoesNotMatch"

    everything = json.dumps(_all_events(trail), default=str)
    assert key["SecretAccessKey"] not in everything
    assert server.secret_access_key not in everything


def _all_events(trail) -> list:
    out, token = [], None
    while True:
        kwargs = {"MaxResults": 50}
        if token:
            kwargs["NextToken"] = token
        page = trail.lookup_events(**kwargs)
        out += page["Events"]
        token = page.get("NextToken")
        if not token:
            return out


def test_lookup_events_paging_and_filters(server: StrongroomServer) -> None:
    sts = server.client("sts")
    for _ in range(5):
        sts.get_caller_identity()
    trail = server.client("cloudtrail")
    first = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}],
        MaxResults=2,
    )
    assert len(first["Events"]) == 2 and "NextToken" in first
    second = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}],
        MaxResults=2,
        NextToken=first["NextToken"],
    )
    ids = {e["EventId"] for e in first["Events"]} | {e["EventId"] for e in second["Events"]}
    assert len(ids) == 4
    times = [e["EventTime"] for e in first["Events"] + second["Events"]]
    assert times == sorted(times, reverse=True)
    only_read = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}]
    )["Events"]
    assert only_read and all(e["ReadOnly"] == "true" for e in only_read)
    for bad in ("garbage!", "WzFlNDAwLDBd", "WzE4NDQ2NzQ0MDczNzA5NTUxNjE1LDBd", "Wy0xLDBd"):
        # not base64 JSON; [1e400,0]; [2**64-1,0]; [-1,0]
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            trail.lookup_events(NextToken=bad)
        assert error_of(exc)[0] == "InvalidNextTokenException"
    # "A token that was previously used in a request with different parameters."
    for other in (
        {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "GetUser"}]},
        {},
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            trail.lookup_events(MaxResults=2, NextToken=first["NextToken"], **other)
        assert error_of(exc)[0] == "InvalidNextTokenException"


def test_lookup_events_by_id_type_and_time_across_batches(server: StrongroomServer) -> None:
    """Events are stored in batches, one per flush: lookups and paging reach
    across them, and each attribute finds exactly its events."""
    trail, iam = server.client("cloudtrail"), server.client("iam")
    names = []
    for n in range(3):  # each LookupEvents flushes: one batch per round
        names.append(f"batchy-{n}-{uuid.uuid4().hex[:6]}")
        iam.create_user(UserName=names[-1])
        trail.lookup_events(MaxResults=1)

    def user_of(event: dict) -> str | None:
        return (json.loads(event["CloudTrailEvent"])["requestParameters"] or {}).get("userName")

    by_name = {
        f"CreateUser:{user_of(e)}": e
        for e in _all_events(trail)
        if e["EventName"] == "CreateUser" and user_of(e) in names
    }
    assert len(by_name) == 3
    wanted = by_name[f"CreateUser:{names[1]}"]
    found = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": wanted["EventId"]}]
    )["Events"]
    assert [e["EventId"] for e in found] == [wanted["EventId"]]
    assert json.loads(found[0]["CloudTrailEvent"])["eventID"] == wanted["EventId"]
    missing = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": str(uuid.uuid4())}]
    )
    assert missing["Events"] == []

    users = []
    token = None
    while True:  # two at a time, through all three batches
        kwargs = {"MaxResults": 2, "NextToken": token} if token else {"MaxResults": 2}
        page = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceType", "AttributeValue": "AWS::IAM::User"}],
            **kwargs,
        )
        users += [
            e for e in page["Events"] if e["EventId"] in {v["EventId"] for v in by_name.values()}
        ]
        token = page.get("NextToken")
        if not token:
            break
    assert [e["EventId"] for e in users] == [
        by_name[f"CreateUser:{n}"]["EventId"] for n in reversed(names)
    ]
    for e in users:
        assert any(r["ResourceType"] == "AWS::IAM::User" for r in e["Resources"])

    ours = {e["EventId"] for e in by_name.values()}
    when = wanted["EventTime"]
    around = trail.lookup_events(
        StartTime=when - datetime.timedelta(minutes=5), EndTime=when + datetime.timedelta(minutes=5)
    )["Events"]
    assert wanted["EventId"] in {e["EventId"] for e in around}
    later = trail.lookup_events(
        StartTime=when + datetime.timedelta(hours=1), EndTime=when + datetime.timedelta(hours=2)
    )["Events"]
    earlier = trail.lookup_events(EndTime=when - datetime.timedelta(days=1))["Events"]
    assert not ours & {e["EventId"] for e in later + earlier}


def test_aws_cli_lookup_events(server: StrongroomServer) -> None:
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        ["aws", "cloudtrail", "lookup-events", "--max-results", "5", "--output", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    events = json.loads(out.stdout)["Events"]
    assert 1 <= len(events) <= 5
    assert all("CloudTrailEvent" in e for e in events)


def test_no_secret_in_raw_store_or_log(server: StrongroomServer) -> None:
    iam = server.client("iam")
    name = "sealed-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    secret = iam.create_access_key(UserName=name)["AccessKey"]["SecretAccessKey"]
    server.client("cloudtrail").lookup_events(MaxResults=1)  # forces the audit flush
    blobs = b""
    for path in server.data_dir.rglob("*"):
        if path.is_file() and path.name != "root-credentials":
            blobs += path.read_bytes()
    if server.store_url:
        blobs += _dump_postgres(server.store_url)
    for value in (secret, server.secret_access_key):
        assert value.encode() not in blobs
    assert secret not in server.read_log()


def _dump_postgres(url: str) -> bytes:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    out = []
    with psycopg.connect(plain) as conn:
        tables = [r[0] for r in conn.execute(
            "select tablename from pg_tables where schemaname='public'"
        )]  # fmt: skip
        for table in tables:
            for row in conn.execute(f'select * from "{table}"'):
                out.append(repr(row).encode())
    return b"\n".join(out)


def test_cli_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "strongroom", "--help"], capture_output=True, text=True, check=True
    )
    assert "serve" in out.stdout


#: How each service answers a key that is not (or no longer) valid.
REFUSED_KEY = ("InvalidClientTokenId", "InvalidAccessKeyId", "UnrecognizedClientException")


def test_a_revoked_key_is_refused_at_once_after_writes_that_kept_it_cached(
    server: StrongroomServer,
) -> None:
    """A credential stays cached across commits that leave the access keys
    alone (the key's own PutLogEvents and PutObject calls); the commit that
    deactivates or deletes it must still end it for the very next request."""
    iam = server.client("iam")
    name = f"cached-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name, PolicyName="write",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:*", "s3:*"], "Resource": "*"}]}),
    )  # fmt: skip
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    logs, s3, sts = (server.client(s, **as_user) for s in ("logs", "s3", "sts"))
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    s3.create_bucket(Bucket=name)
    now = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)

    def write(i: int) -> None:
        logs.put_log_events(
            logGroupName=name, logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": f"event {i}"}],
        )  # fmt: skip
        s3.put_object(Bucket=name, Key=f"k{i}", Body=b"x")

    for i in range(3):
        write(i)
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    for call in (lambda: write(9), sts.get_caller_identity):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert error_of(exc)[0] in REFUSED_KEY, exc.value
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    write(10)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        write(11)
    assert error_of(exc)[0] in REFUSED_KEY, exc.value
