"""S3 on both state stores (SQLite and PostgreSQL): keys list in UTF-8 byte
order whatever the database's collation, and the write paths (objects,
multipart, deletes) commit on each."""

from __future__ import annotations

import uuid
from typing import Any

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
