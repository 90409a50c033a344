"""Where an Aurora cluster's endpoints point (`clusters.reader_of`,
`writer_port`, DBClusterMembers) and what an instance of a cluster refuses."""

from __future__ import annotations

from typing import Any

import pytest

from strongroom.engines.postgres import scram
from strongroom.services.rds import clusters


def _instance(rid: str, status: str = "available", port: int | None = 5000, **attrs: Any):
    return {
        "resource_id": rid,
        "identifier": rid,
        "status": status,
        "port": port,
        "attrs": {"DBClusterIdentifier": "c", **attrs},
    }


def _cluster(writer: str | None, port: int | None = None) -> dict[str, Any]:
    return {
        "account": "000000000000", "region": "us-east-1", "identifier": "c",
        "resource_id": "cluster-X", "arn": "arn:aws:rds:us-east-1:000000000000:cluster:c",
        "engine": "aurora-postgresql", "engine_version": "16.4", "status": "available",
        "master_username": "admin", "master_verifier": scram.verifier("S3cret-pass"),
        "db_name": None, "port": port, "encrypted": False, "kms_key_arn": None,
        "deletion_protection": False, "backup_retention": 1, "created": 0.0, "writer": writer,
        "members": [], "tags": [], "attrs": {},
    }  # fmt: skip


def test_the_reader_endpoint_maps_to_the_first_available_reader() -> None:
    members = [
        _instance("w", port=5001),
        _instance("r1", status="creating", port=None),
        _instance("r2", port=5003),
        _instance("r3", port=5004),
    ]
    assert clusters.reader_of(_cluster("w"), members)["resource_id"] == "r2"
    assert clusters.writer_port(_cluster("w"), members) == 5001


def test_with_no_reader_the_reader_endpoint_is_the_writer() -> None:
    members = [_instance("w", port=5001), _instance("r1", status="rebooting", port=5002)]
    assert clusters.reader_of(_cluster("w"), members)["resource_id"] == "w"


def test_a_cluster_with_no_instances_shows_its_configured_port() -> None:
    assert clusters.writer_port(_cluster(None, port=6000), []) == 6000
    assert clusters.writer_port(_cluster(None), []) == 5432
    out = clusters.to_wire(_cluster(None), [])
    assert out["DBClusterMembers"] == [] and out["MultiAZ"] is False
    assert out["DBClusterParameterGroup"] == "default.aurora-postgresql16"


def test_members_show_which_is_the_writer_and_a_pending_reboot() -> None:
    members = [
        _instance("w"),
        _instance("r", PromotionTier=0, ParameterApplyStatus="pending-reboot"),
    ]
    out = clusters.to_wire(_cluster("w"), members)
    assert out["DBClusterMembers"] == [
        {"DBInstanceIdentifier": "w", "IsClusterWriter": True,
         "DBClusterParameterGroupStatus": "in-sync", "PromotionTier": 1},
        {"DBInstanceIdentifier": "r", "IsClusterWriter": False,
         "DBClusterParameterGroupStatus": "pending-reboot", "PromotionTier": 0},
    ]  # fmt: skip
    assert out["MultiAZ"] is True
    assert "master_verifier" not in str(out) and "SCRAM" not in str(out)


def test_a_cluster_instance_refuses_what_belongs_to_the_cluster() -> None:
    member, alone = _instance("w"), {**_instance("x"), "attrs": {}}
    with pytest.raises(Exception, match="CreateDBClusterSnapshot"):
        clusters.refuse_instance_snapshot(member)
    with pytest.raises(Exception, match="master user password"):
        clusters.refuse_instance_settings(member, {"MasterUserPassword": "x"})
    clusters.refuse_instance_snapshot(alone)
    clusters.refuse_instance_settings(alone, {"MasterUserPassword": "x"})
    clusters.refuse_instance_settings(member, {"MasterUserPassword": None})
