"""Versions and aliases: PublishVersion, ListVersionsByFunction and the alias operations."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, paging
from strongroom.framework.errorspec import ErrorSpec
from strongroom.services.lambda_ import access, aliases, functions, names
from strongroom.services.lambda_.names import LATEST
from strongroom.services.lambda_.ops_functions import LIST_VERSIONS
from strongroom.services.lambda_.service import errors, service

LIST_ALIASES = paging.Paging(
    paging.Style("Marker", "MaxItems", "NextMarker"),
    ErrorSpec("InvalidParameterValueException", "Invalid marker."),
).listing("Aliases", default=50, maximum=50)


@service.operation(authorize=False)
def publish_version(
    call: Call,
    FunctionName: str,
    CodeSha256: str | None = None,
    Description: str | None = None,
    RevisionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    names.require_unqualified(ref)
    access.authorize(call, "lambda:PublishVersion", ref)
    latest = functions.resolve(call.conn, ref)
    functions.require_revision(RevisionId, latest.revision_id)
    functions.require_ready(call, latest)
    functions.require_not_updating(call, latest)
    if CodeSha256 is not None and CodeSha256 != latest.code_sha256:
        raise errors.InvalidParameterValueException(
            f"CodeSHA256 ({CodeSha256}) is different from current CodeSHA256 in $LATEST "
            f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
        )
    # Nothing changed since the last version: AWS answers with that version.
    for existing in reversed(functions.all_versions(call.conn, ref)):
        if existing.version == LATEST:
            continue
        if (
            existing.code_sha256 == latest.code_sha256
            and existing.last_modified >= latest.last_modified
        ):
            return functions.to_configuration(call, existing)
        break
    published = functions.publish(call, latest, Description)
    functions.touch_latest_revision(call, latest)
    return functions.to_configuration(call, published)


@service.operation(authorize=False)
def list_versions_by_function(
    call: Call, FunctionName: str, Marker: str | None = None, MaxItems: int | None = None
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    access.authorize(call, "lambda:ListVersionsByFunction", ref)
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    found = functions.all_versions(call.conn, ref)
    page = LIST_VERSIONS.slice(call, found, Marker, MaxItems, scope=(ref.name,))
    return LIST_VERSIONS.output(page, [functions.to_configuration(call, v) for v in page.items])


# --------------------------------------------------------------------------- aliases


def _require_version(call: Call, ref: names.Ref, number: str) -> None:
    if number != LATEST and functions.version(call.conn, ref, number) is None:
        raise errors.ResourceNotFoundException(
            f"Function not found: {names.function_arn(ref.account, ref.region, ref.name, number)}"
        )


def _require_routing(call: Call, ref: names.Ref, version: str, routing: Any) -> None:
    weights = (routing or {}).get("AdditionalVersionWeights") or {}
    if len(weights) > 1:
        raise errors.InvalidParameterValueException(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    for number, weight in weights.items():
        if number == version:
            raise errors.InvalidParameterValueException(
                f"Invalid function version {number}. Function version {number} is already "
                "included in routing configuration."
            )
        if not 0.0 <= weight <= 1.0:
            raise errors.InvalidParameterValueException(
                "The weight of an additional version must be between 0.0 and 1.0."
            )
        _require_version(call, ref, number)


def _alias_not_found(ref: names.Ref, name: str) -> Exception:
    arn = names.function_arn(ref.account, ref.region, ref.name, name)
    return errors.ResourceNotFoundException(f"Alias not found: {arn}")


@service.operation(authorize=False)
def create_alias(
    call: Call,
    FunctionName: str,
    Name: str,
    FunctionVersion: str,
    Description: str = "",
    RoutingConfig: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    names.require_unqualified(ref)
    access.authorize(call, "lambda:CreateAlias", ref)
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    _require_version(call, ref, FunctionVersion)
    _require_routing(call, ref, FunctionVersion, RoutingConfig)
    if aliases.get(call.conn, ref, Name) is not None:
        arn = names.function_arn(ref.account, ref.region, ref.name, Name)
        raise errors.ResourceConflictException(f"Alias already exists: {arn}")
    return aliases.create(
        call.conn, ref, Name, FunctionVersion, Description, RoutingConfig
    ).to_alias()


@service.operation(authorize=False)
def get_alias(call: Call, FunctionName: str, Name: str) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    access.authorize(call, "lambda:GetAlias", ref)
    found = aliases.get(call.conn, ref, Name)
    if found is None:
        raise _alias_not_found(ref, Name)
    return found.to_alias()


@service.operation(authorize=False)
def update_alias(
    call: Call,
    FunctionName: str,
    Name: str,
    FunctionVersion: str | None = None,
    Description: str | None = None,
    RoutingConfig: dict[str, Any] | None = None,
    RevisionId: str | None = None,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    access.authorize(call, "lambda:UpdateAlias", ref)
    found = aliases.get(call.conn, ref, Name)
    if found is None:
        raise _alias_not_found(ref, Name)
    functions.require_revision(RevisionId, found.revision_id)
    changes: dict[str, Any] = {}
    version = FunctionVersion or found.function_version
    if FunctionVersion is not None:
        _require_version(call, ref, FunctionVersion)
        changes["function_version"] = FunctionVersion
    if Description is not None:
        changes["description"] = Description
    if RoutingConfig is not None:
        _require_routing(call, ref, version, RoutingConfig)
        changes["routing"] = (
            RoutingConfig if RoutingConfig.get("AdditionalVersionWeights") else None
        )
    return aliases.change(call.conn, found, **changes).to_alias()


@service.operation(authorize=False)
def delete_alias(call: Call, FunctionName: str, Name: str) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    access.authorize(call, "lambda:DeleteAlias", ref)
    if aliases.get(call.conn, ref, Name) is None:
        raise _alias_not_found(ref, Name)
    aliases.remove(call.conn, ref, Name)
    return {}


@service.operation(authorize=False)
def list_aliases(
    call: Call,
    FunctionName: str,
    FunctionVersion: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    access.authorize(call, "lambda:ListAliases", ref)
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    found = [
        a
        for a in aliases.listing(call.conn, ref)
        if FunctionVersion is None or a.function_version == FunctionVersion
    ]
    page = LIST_ALIASES.slice(
        call, found, Marker, MaxItems, scope=(ref.name, FunctionVersion or "")
    )
    return LIST_ALIASES.output(page, [a.to_alias() for a in page.items])
