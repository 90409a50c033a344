"""Model patches: AWS behaviour the botocore model does not state, as data."""

from __future__ import annotations

import json

import pytest

from strongroom.protocol import model
from strongroom.protocol.codecs import codec_for
from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request


def test_kms_pending_window_is_seven_to_thirty_days() -> None:
    shape = model.load_service_model("kms").shape_for("PendingWindowInDaysType")
    assert (shape.metadata["min"], shape.metadata["max"]) == (7, 30)
    codec = codec_for(model.load_service_model("kms"))
    for days, bound in ((6, "greater than or equal to 7"), (31, "less than or equal to 30")):
        body = json.dumps({"KeyId": "k", "PendingWindowInDays": days}).encode()
        req = Request("POST", "/", "", {"x-amz-target": "TrentService.ScheduleKeyDeletion"}, body)
        with pytest.raises(AwsError) as exc:
            codec.parse("ScheduleKeyDeletion", req)
        assert exc.value.code == "ValidationException"
        assert exc.value.message == (
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )


def test_every_patch_names_a_shape_of_its_model_and_says_why() -> None:
    for path in sorted(model._PATCHES.glob("*.json")):
        patches = json.loads(path.read_text())
        shapes = model.load_service_model(path.stem)._shape_resolver._shape_map
        for name, fields in patches.get("shapes", {}).items():
            assert name in shapes, f"{path.name}: {name}"
            assert fields.get("_why"), f"{path.name}: {name} says not why"
        served = model.load_service_model(path.stem)
        for name, op in patches.get("add_operations", {}).items():
            assert name in served.operation_names, f"{path.name}: {name}"
            assert op.get("_why"), f"{path.name}: {name} says not why"
        for name in patches.get("add_shapes", {}):
            assert name in shapes, f"{path.name}: {name}"


def test_an_added_operation_the_model_already_has_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "sts.json").write_text(
        json.dumps({"add_operations": {"GetCallerIdentity": {"name": "GetCallerIdentity"}}})
    )
    monkeypatch.setattr(model, "_PATCHES", tmp_path)
    data = {"shapes": {}, "operations": {"GetCallerIdentity": {}}}
    with pytest.raises(LookupError, match="GetCallerIdentity"):
        model.apply_patches(data, "sts")


def test_a_patch_of_a_missing_shape_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "sts.json").write_text(json.dumps({"shapes": {"NoSuchShape": {"max": 1}}}))
    monkeypatch.setattr(model, "_PATCHES", tmp_path)
    with pytest.raises(LookupError, match="NoSuchShape"):
        model.apply_patches({"shapes": {}}, "sts")
