"""DescribeCertificates: the one CA this server's engines' certificates come
from (`engines.postgres.tls`), under AWS's identifier ``rds-ca-rsa2048-g1``,
with its real thumbprint and validity."""

from __future__ import annotations

from typing import Any

from strongroom.arn import arn as make_arn
from strongroom.engines.postgres.tls import CA_IDENTIFIER
from strongroom.framework import Call
from strongroom.services.rds import instances
from strongroom.services.rds.ops_instances import parse_filters
from strongroom.services.rds.service import PAGING, errors, service

CERTIFICATES = PAGING.listing("Certificates", default=100, maximum=100, minimum=20)


@service.operation
def describe_certificates(
    call: Call,
    CertificateIdentifier: str | None = None,
    Filters: list[dict[str, Any]] | None = None,
    MaxRecords: int | None = None,
    Marker: str | None = None,
) -> dict[str, Any]:
    parse_filters(Filters, set())
    ca = instances.supervisor(call).postgres.tls
    items: list[dict[str, Any]] = []
    if ca is not None:
        info = ca.info()
        items.append(
            {
                "CertificateIdentifier": info.identifier,
                "CertificateType": "CA",
                "Thumbprint": info.thumbprint,
                "ValidFrom": info.valid_from,
                "ValidTill": info.valid_till,
                "CertificateArn": make_arn("rds", call.region, "", f"cert:{info.identifier}"),
                "CustomerOverride": False,
            }
        )
    if CertificateIdentifier is not None:
        items = [i for i in items if i["CertificateIdentifier"] == CertificateIdentifier.lower()]
        if not items:
            raise errors.CertificateNotFoundFault(
                f"CertificateIdentifier {CertificateIdentifier} not found"
            )
    page = CERTIFICATES.slice(call, items, Marker, MaxRecords, scope=[CertificateIdentifier])
    out = CERTIFICATES.output(page, page.items)
    out["DefaultCertificateForNewLaunches"] = CA_IDENTIFIER
    return out
