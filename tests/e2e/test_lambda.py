"""Lambda's control plane end to end with boto3: functions, their states,
code, configuration, versions, aliases, tags, listings and AWS's errors; on
each state store (the `server` fixture of conftest), with one invocation and
one Event invocation there too."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
import uuid
import zipfile
from typing import Any

import botocore.exceptions
import pytest
from lambda_helpers import ECHO, code_of, create, handler_zip, role, zip_of

from strongroom.testing import StrongroomServer


@pytest.fixture(scope="module")
def lam(server: StrongroomServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def role_arn(server: StrongroomServer) -> str:
    return role(server.client("iam"))


def test_create_reports_pending_then_active(lam: Any, role_arn: str) -> None:
    name = "f-" + uuid.uuid4().hex[:8]
    code = handler_zip(ECHO)
    out = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": code},
        Description="echo",
        Timeout=30,
        MemorySize=256,
        Environment={"Variables": {"GREETING": "hello"}},
        Tags={"team": "core"},
    )
    assert out["State"] == "Pending" and out["StateReasonCode"] == "Creating"
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert out["Version"] == "$LATEST" and out["CodeSize"] == len(code)
    import base64
    import hashlib

    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    got = lam.get_function(FunctionName=name)
    conf = got["Configuration"]
    assert conf["State"] == "Active" and conf["LastUpdateStatus"] == "Successful"
    assert conf["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert (conf["Timeout"], conf["MemorySize"], conf["Description"]) == (30, 256, "echo")
    assert got["Tags"] == {"team": "core"}
    # Code.Location really downloads the zip, and only with its token.
    location = got["Code"]["Location"]
    with urllib.request.urlopen(location) as resp:
        assert resp.read() == code
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(location[:-4] + ("0000" if location[-4:] != "0000" else "1111"))
    assert denied.value.code == 403


def test_errors_as_aws_words_them(lam: Any, role_arn: str, server: StrongroomServer) -> None:
    name = create(lam, role_arn)["FunctionName"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        create(lam, role_arn, name=name)
    assert code_of(exc) == "ResourceConflictException"
    assert exc.value.response["Error"]["Message"] == f"Function already exist: {name}"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_function(FunctionName="nope")
    assert exc.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
    )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        create(lam, role_arn, code=b"not a zip")
    assert "Could not unzip" in exc.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        create(lam, role_arn, Timeout=901)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        create(lam, role_arn, Runtime="python3.7")
    assert "no longer supported" in exc.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        create(lam, role_arn, Runtime="nodejs20.x")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        create(lam, role_arn, Environment={"Variables": {"BIG": "x" * 5000}})
    assert "4KB" in exc.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        create(lam, "arn:aws:iam::000000000000:role/does-not-exist")


def test_a_role_that_does_not_trust_lambda_is_refused(lam: Any, server: StrongroomServer) -> None:
    ec2_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = role(server.client("iam"), ec2_only)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        create(lam, arn)
    assert exc.value.response["Error"]["Message"] == (
        "The role defined for the function cannot be assumed by Lambda."
    )
    fine = create(lam, role(server.client("iam")))["FunctionName"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.update_function_configuration(FunctionName=fine, Role=arn)
    assert "cannot be assumed by Lambda" in exc.value.response["Error"]["Message"]


def test_update_code_and_configuration(lam: Any, role_arn: str) -> None:
    first = create(lam, role_arn)
    name = first["FunctionName"]
    new_code = handler_zip("def lambda_handler(e, c):\n    return 2\n")
    out = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert out["LastUpdateStatus"] == "InProgress"
    assert out["CodeSha256"] != first["CodeSha256"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.update_function_configuration(FunctionName=name, Timeout=10)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(FunctionName=name, Timeout=10, RevisionId="stale")
    rev = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    out = lam.update_function_configuration(
        FunctionName=name,
        Timeout=10,
        MemorySize=512,
        Handler="lambda_function.other",
        Environment={"Variables": {"MODE": "two"}},
        RevisionId=rev,
    )
    assert (out["Timeout"], out["MemorySize"], out["Handler"]) == (10, 512, "lambda_function.other")
    assert out["Environment"]["Variables"] == {"MODE": "two"}
    assert out["RevisionId"] != rev
    with urllib.request.urlopen(lam.get_function(FunctionName=name)["Code"]["Location"]) as r:
        assert r.read() == new_code


def test_versions_and_aliases(lam: Any, role_arn: str) -> None:
    name = create(lam, role_arn)["FunctionName"]
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f":function:{name}:1")
    # Nothing changed: the same version again.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.publish_version(FunctionName=name, CodeSha256="wrong")
    lam.update_function_code(FunctionName=name, ZipFile=zip_of({"lambda_function.py": "x=1\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2" and v2["CodeSha256"] != v1["CodeSha256"]
    # Versions do not change.
    assert (
        lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["CodeSha256"]
        == (v1["CodeSha256"])
    )
    assert lam.get_function(FunctionName=f"{name}:1")["Configuration"]["Description"] == "first"
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    alias = lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert alias["AliasArn"].endswith(f":function:{name}:live")
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_alias(FunctionName=name, Name="bad", FunctionVersion="9")
    updated = lam.update_alias(
        FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={}
    )
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    assert lam.get_alias(FunctionName=name, Name="live")["RevisionId"] == updated["RevisionId"]
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName=name, Name="live", RevisionId="old")
    conf = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    assert conf["Version"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.delete_function(FunctionName=name, Qualifier="2")  # an alias points at it
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="2")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="2")
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="1")


def test_listing_pages_and_all_versions(lam: Any, role_arn: str) -> None:
    made = [create(lam, role_arn)["FunctionName"] for _ in range(3)]
    lam.publish_version(FunctionName=made[0])
    names: list[str] = []
    marker = None
    while True:
        page = lam.list_functions(MaxItems=2, **({"Marker": marker} if marker else {}))
        assert len(page["Functions"]) <= 2
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert set(made) <= set(names) and len(names) == len(set(names))
    every = lam.get_paginator("list_functions").paginate(FunctionVersion="ALL").build_full_result()
    pairs = {(f["FunctionName"], f["Version"]) for f in every["Functions"]}
    assert (made[0], "1") in pairs and (made[0], "$LATEST") in pairs
    assert (made[1], "1") not in pairs


def test_tags(lam: Any, role_arn: str) -> None:
    arn = create(lam, role_arn, Tags={"a": "1"})["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"b": "2"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2"}
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}


def test_publish_on_create_and_bundled_modules(lam: Any, role_arn: str) -> None:
    code = zip_of(
        {
            "lambda_function.py": "from helper import value\ndef lambda_handler(e, c):\n"
            "    return value()\n",
            "helper/__init__.py": "def value():\n    return 42\n",
        }
    )
    out = create(lam, role_arn, code=code, Publish=True)
    assert out["Version"] == "1"
    data = io.BytesIO(
        urllib.request.urlopen(
            lam.get_function(FunctionName=out["FunctionName"])["Code"]["Location"]
        ).read()
    )
    assert "helper/__init__.py" in zipfile.ZipFile(data).namelist()


def test_invoke_and_event_on_this_store(lam: Any, role_arn: str) -> None:
    import json
    import os
    import tempfile
    import time
    from pathlib import Path

    code = handler_zip(
        "def lambda_handler(event, context):\n"
        "    if 'path' in event:\n"
        "        open(event['path'], 'w').write(context.function_name)\n"
        "    return {'got': event}\n"
    )
    name = create(lam, role_arn, code=code)["FunctionName"]
    out = lam.invoke(FunctionName=name, Payload=b'{"a": 1}')
    assert json.loads(out["Payload"].read()) == {"got": {"a": 1}}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        marker = Path(tmp) / "ran"
        out = lam.invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"path": str(marker)})
        )
        assert out["StatusCode"] == 202
        deadline = time.time() + 30
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert marker.read_text() == name


def test_the_aws_cli_drives_the_control_plane(server: StrongroomServer, role_arn: str) -> None:
    import json
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    env = {**os.environ, **server.aws_env()}

    def aws(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            ["aws", "lambda", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    name = "cli-" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "fn.zip"
        package.write_bytes(handler_zip(ECHO))
        made = aws(
            "create-function", "--function-name", name, "--runtime", "python3.11",
            "--handler", "lambda_function.lambda_handler", "--role", role_arn,
            "--zip-file", f"fileb://{package}", "--environment", "Variables={GREETING=cli}",
        )  # fmt: skip
    assert made["State"] == "Pending"
    aws("wait", "function-active-v2", "--function-name", name)
    aws(
        "add-permission", "--function-name", name, "--statement-id", "sm",
        "--action", "lambda:InvokeFunction", "--principal", "secretsmanager.amazonaws.com",
    )  # fmt: skip
    policy = json.loads(aws("get-policy", "--function-name", name)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "secretsmanager.amazonaws.com"}
    conf = aws("get-function-configuration", "--function-name", name)
    assert conf["Environment"]["Variables"] == {"GREETING": "cli"}
    assert aws("publish-version", "--function-name", name)["Version"] == "1"
    aws("delete-function", "--function-name", name)
    done = subprocess.run(
        ["aws", "lambda", "get-function", "--function-name", name],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "ResourceNotFoundException" in done.stderr
