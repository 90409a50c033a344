"""botocore service models, loaded once per process, with strongroom's patches.

A patch (``patches/<service>.json``) is data for AWS behaviour the model does
not state — a range the service enforces that the model leaves wider, say —
applied to the model as it loads, so the one generic validator answers it
in AWS's words and no service re-checks what a shape could say. Each patched
field sits beside a ``_why`` naming its source.

A patch may also add operations AWS serves but no SDK calls, so none is in
the model (S3's browser-based ``POST Object`` upload): ``add_operations``
and the ``add_shapes`` they use. Adding one the model already has is an
error, so the day botocore models it, the patch must go.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

_loader = Loader()


@cache
def load_service_model(service_name: str) -> ServiceModel:
    """The newest botocore model of `service_name` (e.g. "kms", "sts")."""
    data = _loader.load_service_model(service_name, "service-2")
    return ServiceModel(apply_patches(data, service_name), service_name=service_name)


_PATCHES = Path(__file__).with_name("patches")


def apply_patches(data: dict[str, Any], service_name: str) -> dict[str, Any]:
    """`data` (a botocore model) with ``patches/<service_name>.json`` merged
    into its shapes; a patch of a shape the model lacks is an error, so a
    patch never silently outlives the model it was written for."""
    path = _PATCHES / f"{service_name}.json"
    if not path.exists():
        return data
    patches = json.loads(path.read_text())
    shapes = data["shapes"]
    for name, fields in patches.get("shapes", {}).items():
        if name not in shapes:
            raise LookupError(f"patches/{service_name}.json patches {name}, not in the model")
        shapes[name] = {
            **shapes[name],
            **{key: value for key, value in fields.items() if not key.startswith("_")},
        }
    for kind, into in (("add_shapes", shapes), ("add_operations", data["operations"])):
        for name, body in patches.get(kind, {}).items():
            if name in into:
                raise LookupError(f"patches/{service_name}.json adds {name}, already in the model")
            into[name] = {key: value for key, value in body.items() if not key.startswith("_")}
    return data


#: The order botocore picks a protocol in, of those a model lists
#: (`botocore.utils.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS`).
_CLIENT_PREFERENCE = ("json", "rest-json", "rest-xml", "smithy-rpc-v2-cbor", "query", "ec2")
#: Protocols served besides the one clients pick, where a model lists several
#: (CloudWatch's CBOR for newer SDKs, its query protocol for older ones).
_ALSO_SERVED = ("smithy-rpc-v2-cbor", "query")


def served_protocols(model: ServiceModel) -> tuple[str, ...]:
    """The wire protocols a service is answered in, first the one botocore
    picks from the model's ``protocols`` (CloudWatch lists
    smithy-rpc-v2-cbor, json and query; botocore sends json), then the
    others served (smithy-rpc-v2-cbor, which other SDKs send, and query,
    which older SDKs send)."""
    md = model.metadata
    listed = md.get("protocols") or [md["protocol"]]
    primary = next((p for p in _CLIENT_PREFERENCE if p in listed), md["protocol"])
    return (primary, *(p for p in _ALSO_SERVED if p in listed and p != primary))


def signing_name(model: ServiceModel) -> str:
    md = model.metadata
    return md.get("signingName") or md.get("endpointPrefix") or model.service_name
