"""KMS operations accept what the newest botocore model sends (issue 17, item 5).

`data/kms_inputs_botocore_1_44_5.json` lists every KMS operation's input
members in botocore 1.44.5, where CreateGrant's GranteePrincipal and
ListRetirableGrants' RetiringPrincipal became optional and CreateGrant,
ListGrants, ListRetirableGrants and ListKeys gained members. A server running
on that botocore passes those members as keyword arguments: an operation that
does not take them answers 500 (TypeError).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.framework import Call
from strongroom.protocol.errors import AwsError
from strongroom.protocol.model import load_service_model
from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare
from strongroom.services.kms import ops_grants, ops_keys
from strongroom.services.kms.service import service

NEWEST = json.loads(
    (Path(__file__).parent / "data" / "kms_inputs_botocore_1_44_5.json").read_text()
)
OPERATIONS = NEWEST["operations"]


def _installed(name: str) -> tuple[set[str], set[str]]:
    shape = load_service_model("kms").operation_model(name).input_shape
    if shape is None:
        return set(), set()
    return set(shape.members), set(shape.required_members)


@pytest.mark.parametrize("name", sorted(service.operations))
def test_signature_takes_both_models(name: str) -> None:
    """Every member of either model is accepted, and only members both models
    require are required by the function."""
    params = inspect.signature(service.operations[name].fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    installed_members, installed_required = _installed(name)
    newest = OPERATIONS.get(name, {"members": [], "required": []})
    members = installed_members | set(newest["members"])
    required = installed_required & set(newest["required"])
    named = {n for n, p in params.items() if n != "call" and p.kind is not p.VAR_KEYWORD}
    missing = members - named
    assert takes_any or not missing, f"{name} does not take {sorted(missing)}"
    needs = {n for n in named if params[n].default is inspect.Parameter.empty}
    assert needs <= required, f"{name} requires {sorted(needs - required)}, optional in a model"


# --------------------------------------------------------------------------- behaviour


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    config = Config(data_dir=Path(tmp_path_factory.mktemp("kms-newer")))
    prepare(config)
    app = App(config)
    yield app
    app.shutdown()


@pytest.fixture
def call(app: App, internal_call) -> Iterator[Call]:
    with app.store.transaction(write=True) as conn:
        yield internal_call(app, conn)


def code(exc: pytest.ExceptionInfo) -> str:
    assert isinstance(exc.value, AwsError)
    return exc.value.code


def _key(call: Call) -> str:
    return ops_keys.create_key(call)["KeyMetadata"]["Arn"]


SOURCE = "arn:aws:rds:us-east-1:000000000000:db:orders"


def test_grant_for_a_service_principal(call: Call) -> None:
    arn = _key(call)
    out = ops_grants.create_grant(
        call,
        KeyId=arn,
        Operations=["Decrypt"],
        GranteeServicePrincipal="rds.amazonaws.com",
        RetiringPrincipal="arn:aws:iam::000000000000:root",
        Constraints={"SourceArn": SOURCE},
    )
    listed = ops_grants.list_grants(call, KeyId=arn, GranteeServicePrincipal="rds.amazonaws.com")
    (entry,) = listed["Grants"]
    assert entry["GrantId"] == out["GrantId"]
    assert entry["GranteeServicePrincipal"] == "rds.amazonaws.com"
    assert entry["Constraints"] == {"SourceArn": SOURCE}


@pytest.mark.parametrize(
    "members",
    [
        {},  # neither grantee
        {"GranteePrincipal": "arn:aws:iam::000000000000:root",
         "GranteeServicePrincipal": "rds.amazonaws.com"},  # both
        {"GranteeServicePrincipal": "rds.amazonaws.com",
         "RetiringPrincipal": "arn:aws:iam::000000000000:root"},  # no SourceArn
        {"GranteeServicePrincipal": "rds.amazonaws.com",
         "Constraints": {"SourceArn": SOURCE}},  # no retiring principal
        {"GranteePrincipal": "arn:aws:iam::000000000000:root",
         "RetiringPrincipal": "arn:aws:iam::000000000000:root",
         "RetiringServicePrincipal": "rds.amazonaws.com"},  # both retiring
    ],
)  # fmt: skip
def test_create_grant_member_rules(call: Call, members: dict[str, Any]) -> None:
    arn = _key(call)
    with pytest.raises(AwsError) as exc:
        ops_grants.create_grant(call, KeyId=arn, Operations=["Decrypt"], **members)
    assert code(exc) == "ValidationException"


def test_list_retirable_grants_needs_a_principal(call: Call) -> None:
    with pytest.raises(AwsError) as exc:
        ops_grants.list_retirable_grants(call)
    assert code(exc) == "ValidationException"
    # The service-principal filter is for callers that are that service.
    with pytest.raises(AwsError) as exc:
        ops_grants.list_retirable_grants(call, RetiringServicePrincipal="rds.amazonaws.com")
    assert code(exc) == "AccessDeniedException"


def test_list_keys_resource_owners(call: Call) -> None:
    arn = _key(call)
    mine = ops_keys.list_keys(call, ResourceOwners=["SELF"], Limit=1000)["Keys"]
    assert arn in {k["KeyArn"] for k in mine}
    shared = ops_keys.list_keys(call, ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"])["Keys"]
    assert shared == []


def test_newer_key_specs_are_unsupported_not_500(call: Call) -> None:
    with pytest.raises(AwsError) as exc:
        ops_keys.create_key(call, KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")
    assert code(exc) == "UnsupportedOperationException"
