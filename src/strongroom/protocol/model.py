"""botocore service models, loaded once per process."""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader
from botocore.model import ServiceModel

_loader = Loader()


@cache
def load_service_model(service_name: str) -> ServiceModel:
    """The newest botocore model of `service_name` (e.g. "kms", "sts")."""
    data = _loader.load_service_model(service_name, "service-2")
    return ServiceModel(data, service_name=service_name)


def signing_name(model: ServiceModel) -> str:
    md = model.metadata
    return md.get("signingName") or md.get("endpointPrefix") or model.service_name
