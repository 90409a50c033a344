"""Operation signatures against their input shapes.

The installed botocore is whatever pip gave the user within our range, so an
operation's function must take every member its model has (by name or with
``**_``) and require only members the model requires. Registration plans
around a model newer than the code (`SignaturePlan`); these tests keep the
code matched to the model it runs on, and CI runs them on the oldest
supported and the newest botocore (`.ci/botocore-matrix`).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import ServiceModel

from strongroom.framework import SignaturePlan
from strongroom.protocol.codecs import codec_for
from strongroom.services.registry import served_services

OPERATIONS = [
    (svc, name, op) for svc in served_services() for name, op in sorted(svc.operations.items())
]


@pytest.mark.parametrize(
    ("svc", "name", "op"), OPERATIONS, ids=[f"{s.name}.{n}" for s, n, _ in OPERATIONS]
)
def test_the_function_matches_the_installed_model(svc: Any, name: str, op: Any) -> None:
    shape = svc.model.operation_model(name).input_shape
    plan = SignaturePlan.of(op.fn, shape, f"{svc.name}.{name}")
    assert plan.ignored == (), f"{svc.name}.{name} does not take {plan.ignored}"
    assert plan.needed == (), f"{svc.name}.{name} requires optional {plan.needed}"
    assert op.plan is None


def _model(members: dict[str, Any], required: list[str]) -> ServiceModel:
    return ServiceModel(
        {
            "metadata": {
                "apiVersion": "2020-01-01",
                "protocol": "json",
                "jsonVersion": "1.1",
                "targetPrefix": "Test",
                "endpointPrefix": "test",
                "serviceId": "Test",
                "signatureVersion": "v4",
            },
            "operations": {
                "Do": {
                    "name": "Do",
                    "http": {"method": "POST", "requestUri": "/"},
                    "input": {"shape": "DoRequest"},
                }
            },
            "shapes": {
                "DoRequest": {"type": "structure", "members": members, "required": required},
                "S": {"type": "string"},
            },
        },
        "test",
    )


def do(call: Any, KeyId: str, Grantee: str, Name: str | None = None) -> dict[str, Any]:
    return {}


def test_a_newer_model_is_planned_around() -> None:
    model = _model(
        {
            "KeyId": {"shape": "S"},
            "Grantee": {"shape": "S"},
            "Name": {"shape": "S"},
            "New": {"shape": "S"},
        },
        ["KeyId"],  # Grantee became optional; New is a member the code has never seen
    )
    plan = SignaturePlan.of(do, model.operation_model("Do").input_shape, "test.Do")
    assert plan.ignored == ("New",)
    assert plan.needed == ("Grantee",)
    codec = codec_for(model)
    taken = plan.adapt({"KeyId": "k", "Grantee": "g", "New": "x"}, codec.missing_member)
    assert taken == {"KeyId": "k", "Grantee": "g"}
    do(None, **taken)
    with pytest.raises(Exception) as exc:
        plan.adapt({"KeyId": "k"}, codec.missing_member)
    assert exc.value.code == "ValidationException"
    assert str(exc.value.message) == (
        "1 validation error detected: Value null at 'grantee' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_an_older_model_is_fine_while_the_function_defaults_what_it_lacks() -> None:
    model = _model({"KeyId": {"shape": "S"}, "Grantee": {"shape": "S"}}, ["KeyId", "Grantee"])
    plan = SignaturePlan.of(do, model.operation_model("Do").input_shape, "test.Do")
    assert (plan.accepted, plan.needed, plan.ignored) == (None, (), ())
    lacking = _model({"KeyId": {"shape": "S"}}, ["KeyId"])
    with pytest.raises(TypeError, match="Grantee"):
        SignaturePlan.of(do, lacking.operation_model("Do").input_shape, "test.Do")
