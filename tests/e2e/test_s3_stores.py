"""S3 on both state stores (SQLite and PostgreSQL): keys list in UTF-8 byte
order whatever the database's collation, and the write paths (objects,
multipart, deletes) commit on each."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import botocore.exceptions
import pytest
import requests

from strongroom.testing import StrongroomServer


def test_listing_order_and_writes(server: StrongroomServer) -> None:
    s3: Any = server.client("s3")
    name = f"store-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    keys = ["B", "a", "a b", "a-b", "a/b", "a_b", "é", "z", "Z", "~", "a%b"]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())
    page = s3.list_objects_v2(Bucket=name, MaxKeys=4)
    rest = s3.list_objects_v2(Bucket=name, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in page["Contents"] + rest["Contents"]] == listed
    uid = s3.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=name, Key="mp", UploadId=uid, PartNumber=1, Body=b"only part")
    s3.complete_multipart_upload(
        Bucket=name,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.get_object(Bucket=name, Key="mp")["Body"].read() == b"only part"
    s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in [*keys, "mp"]]})
    s3.delete_bucket(Bucket=name)


def test_acls_account_settings_and_post_uploads(
    server: StrongroomServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables of Object Ownership, bucket ACLs and account-level Block
    Public Access, and a POST upload's write, on each store."""
    real = socket.getaddrinfo  # boto3 puts the account in front of the host: resolve it
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host.endswith(".localhost") else host, *a, **k),
    )
    s3: Any = server.client("s3")
    name = f"store-acl-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={})
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL", "READ"}
    s3.put_object(Bucket=name, Key="o", Body=b"x", ACL="authenticated-read")
    assert len(s3.get_object_acl(Bucket=name, Key="o")["Grants"]) == 2
    control: Any = server.session().client(
        "s3control", endpoint_url=server.endpoint.replace("127.0.0.1", "localhost")
    )
    control.put_public_access_block(
        AccountId="000000000000", PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object_acl(Bucket=name, Key="o", ACL="public-read")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    control.delete_public_access_block(AccountId="000000000000")
    form = s3.generate_presigned_post(name, "posted")
    resp = requests.post(form["url"], data=form["fields"], files={"file": b"p" * 70000}, timeout=30)
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=name, Key="posted")["Body"].read() == b"p" * 70000
    s3.delete_bucket_ownership_controls(Bucket=name)
    s3.delete_object(Bucket=name, Key="o")
    s3.delete_object(Bucket=name, Key="posted")
    s3.delete_bucket(Bucket=name)
