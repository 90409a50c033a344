"""The digests and log files delivery writes, checked by awscli's own
``validate-logs`` machinery (its DigestTraverser, public-key provider and
log-file hashing, unmodified) over the memory sink standing in for S3:
valid when untouched; INVALID for a changed log file, a deleted log file,
a changed digest, a moved digest and a broken chain."""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import os
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from awscli.customizations.cloudtrail.validation import create_digest_traverser
from botocore.exceptions import ClientError

from strongroom.audit.recorder import AuditRecorder
from strongroom.auth.principal import root_principal
from strongroom.encoding import b64_text
from strongroom.services.cloudtrail import delivery, trails
from strongroom.services.cloudtrail.delivery import MemorySink
from strongroom.services.cloudtrail.trails import Trail
from strongroom.store.db import Store
from strongroom.store.sealing import Sealer

ACCT = "000000000000"
T0 = 1_796_000_000.0
BUCKET = "trail-bucket"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/org-audit"


class FakeS3:
    """list_objects (through a paginator with .search) and get_object over a MemorySink."""

    def __init__(self, sink: MemorySink) -> None:
        self.sink = sink

    def get_client(self, bucket: str) -> FakeS3:
        return self

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects"
        s3 = self

        class Pages:
            def paginate(self, Bucket: str, Marker: str, Prefix: str) -> Any:
                keys = sorted(k for (b, k) in s3.sink.objects if b == Bucket)
                chosen = [k for k in keys if k > Marker and k.startswith(Prefix)]

                class Search:
                    def search(self, expression: str) -> Any:
                        return iter(chosen)

                return Search()

        return Pages()

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.sink.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "x"}}, "GetObject")
        body, meta, _ = self.sink.objects[(Bucket, Key)]
        return {"Body": io.BytesIO(body), "Metadata": dict(meta)}


class FakeCloudTrail:
    """ListPublicKeys as the aws CLI sees it: the CLI leaves blobs as their
    base64 wire text, which the validator decodes (the operation's Value is
    the DER, base64 once on the wire)."""

    def __init__(self, store: Store, region: str = "us-east-1") -> None:
        self.store = store
        self.region = region

    def list_public_keys(self, StartTime: datetime, EndTime: datetime) -> dict[str, Any]:
        with self.store.transaction(write=False) as conn:
            keys = delivery.public_keys(
                conn, self.region, StartTime.timestamp(), EndTime.timestamp()
            )
        return {
            "PublicKeyList": [
                {"Fingerprint": fp, "Value": b64_text(der).encode()} for fp, der, _, _ in keys
            ]
        }


def log_valid(s3: FakeS3, log: dict[str, Any]) -> str:
    """awscli's CloudTrailValidateLogs._download_log, returning its verdict."""
    try:
        response = s3.get_object(Bucket=log["s3Bucket"], Key=log["s3Object"])
    except ClientError:
        return "missing"
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        digest = hashlib.sha256(inflater.decompress(response["Body"].read()) + inflater.flush())
    except zlib.error:
        return "invalid format"
    return "valid" if digest.hexdigest() == log["hashValue"] else "invalid"


def deliver_hours(
    store: Store, multi_region: bool = False, regions: tuple[str, ...] = ("us-east-1",)
) -> tuple[Store, MemorySink]:
    """Three hours of events (three an hour, in each of `regions` in turn),
    delivered and digested, then an empty fourth hour."""
    sealer = Sealer(os.urandom(32))
    trail = Trail(
        account=ACCT, region="us-east-1", name="org-audit", arn=ARN, s3_bucket=BUCKET,
        created=T0, logging=True, start_logging=T0, validation=True,
        digest_start=T0, digest_due=T0 + 3600, multi_region=multi_region,
    )  # fmt: skip
    with store.transaction() as conn:
        trails.create(conn, trail)
    recorder = AuditRecorder(store)
    sink = MemorySink()
    for hour in range(3):
        for i in range(3):
            recorder.record(
                event_time=T0 + hour * 3600 + 10 + i, account=ACCT,
                region=regions[(hour * 3 + i) % len(regions)],
                event_source="kms.amazonaws.com", event_name="Encrypt",
                principal=root_principal(ACCT), access_key_id=None, source_ip="192.0.2.1",
                user_agent="ua", request_id="r", read_only=False,
            )  # fmt: skip
        recorder.flush()
        with store.transaction() as conn:
            delivery.run_trails(conn, sealer, sink, T0 + hour * 3600 + 60)
    with store.transaction() as conn:  # the third hour's digest, and an empty fourth
        delivery.run_trails(conn, sealer, sink, T0 + 4 * 3600 + 1)
    return store, sink


@pytest.fixture
def delivered(store: Store) -> tuple[Store, MemorySink]:
    return deliver_hours(store)


def validate(store: Store, sink: MemorySink, region: str = "us-east-1") -> dict[str, list[str]]:
    """awscli's traverser as ``validate-logs --region <region>`` runs it: that
    Region's digests, checked with that Region's public keys."""
    s3 = FakeS3(sink)
    out: dict[str, list[str]] = {"invalid": [], "gap": [], "missing": [], "digests": [], "logs": []}
    traverser = create_digest_traverser(
        cloudtrail_client=FakeCloudTrail(store, region),
        organization_client=None,
        s3_client_provider=s3,
        trail_arn=ARN,
        trail_source_region=region,
        bucket=BUCKET,
        prefix=None,
        on_invalid=lambda **kw: out["invalid"].append(kw.get("message", "")),
        on_gap=lambda **kw: out["gap"].append(kw.get("next_key", "")),
        on_missing=lambda **kw: out["missing"].append(kw.get("last_key", "")),
    )
    start = datetime.fromtimestamp(T0, UTC) - timedelta(hours=1)
    end = datetime.fromtimestamp(T0 + 5 * 3600, UTC)
    for digest in traverser.traverse_digests(start, end):
        out["digests"].append(digest["digestS3Object"])
        for log in digest["logFiles"]:
            out["logs"].append(log_valid(s3, log))
    return out


def test_untouched_files_are_all_valid(delivered) -> None:
    result = validate(*delivered)
    assert result["invalid"] == result["gap"] == result["missing"] == []
    assert len(result["digests"]) == 4  # the empty hour is digested too
    assert result["logs"] == ["valid"] * 3


def _logs(sink: MemorySink) -> list[tuple[str, str]]:
    return sorted(k for k in sink.objects if "/CloudTrail/" in k[1])


def _digests(sink: MemorySink) -> list[tuple[str, str]]:
    return sorted(k for k in sink.objects if "/CloudTrail-Digest/" in k[1])


def test_a_changed_log_file_is_invalid(delivered) -> None:
    store, sink = delivered
    key = _logs(sink)[1]
    body, meta, kms = sink.objects[key]
    records = json.loads(gzip.decompress(body))
    records["Records"][0]["eventName"] = "Decrypt"
    sink.objects[key] = (gzip.compress(json.dumps(records).encode()), meta, kms)
    assert sorted(validate(store, sink)["logs"]) == ["invalid", "valid", "valid"]


def test_a_deleted_log_file_is_missing(delivered) -> None:
    store, sink = delivered
    del sink.objects[_logs(sink)[0]]
    assert sorted(validate(store, sink)["logs"]) == ["missing", "valid", "valid"]


def test_a_changed_digest_is_invalid(delivered) -> None:
    store, sink = delivered
    key = _digests(sink)[1]
    body, meta, kms = sink.objects[key]
    doc = json.loads(gzip.decompress(body))
    doc["logFiles"] = []
    sink.objects[key] = (gzip.compress(json.dumps(doc).encode()), meta, kms)
    result = validate(store, sink)
    assert result["invalid"], result


def test_a_moved_digest_is_invalid(delivered) -> None:
    store, sink = delivered
    old = _digests(sink)[-1]
    stamp = old[1].rsplit("_", 1)[1][: len("20261130T015320")]
    later = (datetime.strptime(stamp, "%Y%m%dT%H%M%S") + timedelta(seconds=1)).strftime(
        "%Y%m%dT%H%M%S"
    )
    new = (old[0], old[1].replace(stamp, later))
    sink.objects[new] = sink.objects.pop(old)
    result = validate(store, sink)
    assert any("moved" in m for m in result["invalid"]), result


def test_a_broken_chain_is_reported(delivered) -> None:
    store, sink = delivered
    del sink.objects[_digests(sink)[1]]
    result = validate(store, sink)
    assert result["missing"] or result["invalid"] or result["gap"], result


# -- a multi-region trail: log files and digests per Region -----------------


def test_a_multi_region_trail_is_valid_in_each_region(store: Store) -> None:
    _, sink = deliver_hours(store, multi_region=True, regions=("us-east-1", "eu-west-1"))
    east, west = validate(store, sink, "us-east-1"), validate(store, sink, "eu-west-1")
    for result in (east, west):
        assert result["invalid"] == result["gap"] == result["missing"] == [], result
        assert len(result["digests"]) == 4  # each Region's empty hour too
    # Each Region's digests name its own log files only, 9 events in all.
    assert all("/CloudTrail-Digest/us-east-1/" in k for k in east["digests"])
    assert all("/CloudTrail-Digest/eu-west-1/" in k for k in west["digests"])
    assert all(k.endswith(".json.gz") and "_org-audit_us-east-1_" in k for k in west["digests"])
    assert east["logs"] == ["valid"] * 3 and west["logs"] == ["valid"] * 3
    regions_of_logs = {delivery.log_file_region(k) for _, k in _logs(sink)}
    assert regions_of_logs == {"us-east-1", "eu-west-1"}
    records = [
        r for k in _logs(sink) for r in json.loads(gzip.decompress(sink.objects[k][0]))["Records"]
    ]
    assert len(records) == 9
    for key in _logs(sink):
        for r in json.loads(gzip.decompress(sink.objects[key][0]))["Records"]:
            assert r["awsRegion"] == delivery.log_file_region(key[1])


def test_each_region_signs_with_its_own_key_and_chains_on_its_own(store: Store) -> None:
    _, sink = deliver_hours(store, multi_region=True, regions=("us-east-1", "eu-west-1"))
    docs = {k: json.loads(gzip.decompress(sink.objects[(BUCKET, k)][0])) for _, k in _digests(sink)}
    by_region: dict[str, list[dict[str, Any]]] = {}
    for key, doc in sorted(docs.items()):
        by_region.setdefault(key.split("/CloudTrail-Digest/")[1].split("/")[0], []).append(doc)
    assert sorted(by_region) == ["eu-west-1", "us-east-1"]
    fingerprints = {r: {d["digestPublicKeyFingerprint"] for d in ds} for r, ds in by_region.items()}
    assert len(fingerprints["us-east-1"]) == len(fingerprints["eu-west-1"]) == 1
    assert fingerprints["us-east-1"] != fingerprints["eu-west-1"]
    for docs_of_region in by_region.values():
        assert docs_of_region[0]["previousDigestS3Object"] is None  # each chain's first
        for before, after in itertools.pairwise(docs_of_region):
            assert after["previousDigestS3Object"] == before["digestS3Object"]
    # The other Region's keys do not verify a Region's digests.
    crossed = FakeCloudTrail(store, "eu-west-1")
    with store.transaction(write=False) as conn:
        east_keys = delivery.public_keys(conn, "us-east-1", T0 - 10, T0 + 5 * 3600)
    assert {fp for fp, *_ in east_keys} == fingerprints["us-east-1"]
    listed = crossed.list_public_keys(
        datetime.fromtimestamp(T0 - 10, UTC), datetime.fromtimestamp(T0 + 5 * 3600, UTC)
    )
    assert {k["Fingerprint"] for k in listed["PublicKeyList"]} == fingerprints["eu-west-1"]


def test_a_tampered_log_file_in_another_region_is_invalid_there_only(store: Store) -> None:
    _, sink = deliver_hours(store, multi_region=True, regions=("us-east-1", "eu-west-1"))
    key = next(k for k in _logs(sink) if "/CloudTrail/eu-west-1/" in k[1])
    body, meta, kms = sink.objects[key]
    records = json.loads(gzip.decompress(body))
    records["Records"][0]["eventName"] = "Decrypt"
    sink.objects[key] = (gzip.compress(json.dumps(records).encode()), meta, kms)
    assert validate(store, sink, "us-east-1")["logs"] == ["valid"] * 3
    assert sorted(validate(store, sink, "eu-west-1")["logs"]) == ["invalid", "valid", "valid"]


def test_a_single_region_trail_digests_its_home_region_only(store: Store) -> None:
    _, sink = deliver_hours(store, multi_region=False, regions=("us-east-1", "eu-west-1"))
    assert {k.split("/CloudTrail-Digest/")[1][:9] for _, k in _digests(sink)} == {"us-east-1"}
    assert validate(store, sink, "us-east-1")["logs"] == ["valid"] * 3  # its Region's events


def test_digests_of_a_store_before_per_region_chains_continue_the_home_chain() -> None:
    trail = Trail(
        account=ACCT, region="us-east-1", name="org-audit", arn=ARN, s3_bucket=BUCKET,
        multi_region=True,
        digest_previous={"bucket": BUCKET, "object": "k", "hash": "h", "signature": "s"},
    )  # fmt: skip
    assert delivery.digest_chains(trail) == {
        "us-east-1": {"bucket": BUCKET, "object": "k", "hash": "h", "signature": "s"}
    }
    assert delivery.digest_regions(trail, []) == ["us-east-1"]
