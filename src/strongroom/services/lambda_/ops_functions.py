"""Lambda functions: create, read, list, update, delete, and their tags."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, paging
from strongroom.framework.errorspec import ErrorSpec
from strongroom.services.lambda_ import access, code, functions, invocations, names, roles, s3code
from strongroom.services.lambda_.functions import EXTRA_MEMBERS, LATEST
from strongroom.services.lambda_.locations import code_location
from strongroom.services.lambda_.service import errors, service

#: ListFunctions: ``Marker``/``MaxItems``, ``NextMarker`` (50 a page by default).
LISTING = paging.Paging(
    paging.Style("Marker", "MaxItems", "NextMarker"),
    ErrorSpec("InvalidParameterValueException", "Invalid marker: {marker}"),
)
LIST_FUNCTIONS = LISTING.listing("Functions", default=50, maximum=50)
LIST_VERSIONS = LISTING.listing("Versions", default=50, maximum=50)

MAX_TAGS = 50
#: Python runtimes AWS no longer lets functions be created or updated with.
DEPRECATED_RUNTIMES = frozenset({"python2.7", "python3.6", "python3.7", "python3.8"})


def _require_runtime(runtime: str | None) -> str:
    if runtime is None:
        raise errors.InvalidParameterValueException(
            "The runtime parameter is required for functions of package type Zip."
        )
    if runtime in DEPRECATED_RUNTIMES:
        raise errors.InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions."
        )
    if not runtime.startswith("python3."):
        raise errors.InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported by this server: "
            "only python3.x functions run here."
        )
    return runtime


def _require_limits(timeout: int | None, memory: int | None) -> None:
    if timeout is not None and not 1 <= timeout <= 900:
        raise errors.InvalidParameterValueException(
            f"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy "
            "constraint: Member must have value less than or equal to 900"
        )
    if memory is not None and not 128 <= memory <= 10240:
        raise errors.InvalidParameterValueException(
            "'MemorySize' value failed to satisfy constraint: Member must have value less than "
            "or equal to 10240"
        )


def _require_tags(tags: dict[str, str] | None) -> dict[str, str]:
    tags = dict(tags or {})
    if len(tags) > MAX_TAGS:
        raise errors.InvalidParameterValueException(
            f"Number of tags exceeds resource tag limit ({MAX_TAGS})."
        )
    for key in tags:
        if key.lower().startswith("aws:"):
            raise errors.InvalidParameterValueException(
                "Tag keys starting with 'aws:' are reserved for AWS use."
            )
    return tags


def _package(call: Call, data: bytes, *, from_s3: bool = False) -> code.Package:
    try:
        package = code.inspect(data, from_s3=from_s3)
    except code.BadPackage as bad:
        raise errors.InvalidParameterValueException(str(bad)) from None
    call.resource("lambda_code").put(package)
    return package


def _retire(call: Call, prefix: str) -> None:
    """Stop the warm environments of a version that changed or went away
    (a busy one finishes its invocation first)."""
    if call.runtime.resources is not None and call.runtime.resources.built("lambda_engine"):
        call.resource("lambda_engine").retire(prefix)


def _extra(given: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in given.items() if k in EXTRA_MEMBERS and v is not None}


@service.operation(authorize=False)
def create_function(
    call: Call,
    FunctionName: str,
    Role: str,
    Code: dict[str, Any],
    Runtime: str | None = None,
    Handler: str | None = None,
    Description: str = "",
    Timeout: int = 3,
    MemorySize: int = 128,
    Publish: bool = False,
    Environment: dict[str, Any] | None = None,
    Tags: dict[str, str] | None = None,
    **given: Any,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    names.require_unqualified(ref)
    tags = _require_tags(Tags)
    access.authorize_create(
        call,
        ref,
        {"aws:RequestTag/" + k: v for k, v in tags.items()}
        | ({"aws:TagKeys": list(tags)} if tags else {}),
    )
    access.require_own_account(call, ref, "lambda:CreateFunction")
    if given.get("PackageType") == "Image":
        raise errors.InvalidParameterValueException(
            "Container image functions are not supported by this server."
        )
    runtime = _require_runtime(Runtime)
    if not Handler:
        raise errors.InvalidParameterValueException(
            "The handler parameter is required for functions of package type Zip."
        )
    _require_limits(Timeout, MemorySize)
    variables = (Environment or {}).get("Variables")
    functions.require_environment_size(variables)
    from_s3 = "ZipFile" not in Code
    if from_s3 and not (Code.get("S3Bucket") or Code.get("S3Key")):
        raise errors.InvalidParameterValueException("Please provide a source for function code.")
    roles.require_usable(call, Role)
    if functions.exists(call.conn, ref):
        raise errors.ResourceConflictException(f"Function already exist: {ref.name}")
    if from_s3:
        data = s3code.fetch(
            call, Code.get("S3Bucket"), Code.get("S3Key"), Code.get("S3ObjectVersion")
        )
    else:
        data = Code["ZipFile"]
    package = _package(call, data, from_s3=from_s3)
    latest = functions.create(
        call,
        ref,
        runtime=runtime,
        role=Role,
        handler=Handler,
        description=Description,
        timeout=Timeout,
        memory=MemorySize,
        code_sha256=package.code_sha256,
        code_size=package.size,
        environment=variables,
        config=_extra(given),
        tags_=tags,
    )
    if Publish:
        published = functions.publish(call, latest, None)
        functions.touch_latest_revision(call, latest)
        return functions.to_configuration(call, published)
    return functions.to_configuration(call, latest)


@service.operation(authorize=False)
def get_function(call: Call, FunctionName: str, Qualifier: str | None = None) -> dict[str, Any]:
    ref = names.parse(call, FunctionName, Qualifier)
    access.authorize(call, "lambda:GetFunction", ref)
    v = functions.resolve(call.conn, ref)
    out: dict[str, Any] = {
        "Configuration": functions.to_configuration(call, v),
        "Code": {"RepositoryType": "S3", "Location": code_location(call, v)},
    }
    tags = functions.tags(call.conn, ref)
    if tags:
        out["Tags"] = tags
    reserved = functions.reserved_concurrency(call.conn, ref)
    if reserved is not None:
        out["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
    return out


@service.operation(authorize=False)
def get_function_configuration(
    call: Call, FunctionName: str, Qualifier: str | None = None
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName, Qualifier)
    access.authorize(call, "lambda:GetFunctionConfiguration", ref)
    return functions.to_configuration(call, functions.resolve(call.conn, ref))


@service.operation(authorize="lambda:ListFunctions")
def list_functions(
    call: Call,
    MasterRegion: str | None = None,
    FunctionVersion: str | None = None,
    Marker: str | None = None,
    MaxItems: int | None = None,
) -> dict[str, Any]:
    if MasterRegion is not None:
        raise errors.InvalidParameterValueException(
            "MasterRegion is for Lambda@Edge replicas, which this server does not make."
        )
    ref_all = FunctionVersion == "ALL"
    found: list[functions.Version] = []
    for latest in functions.latest_in(call.conn, call.account, call.region):
        if ref_all:
            found.extend(
                functions.all_versions(
                    call.conn, names.Ref(latest.account, latest.region, latest.name, None)
                )
            )
        else:
            found.append(latest)
    page = LIST_FUNCTIONS.slice(call, found, Marker, MaxItems, scope=(FunctionVersion or "",))
    return LIST_FUNCTIONS.output(page, [functions.to_configuration(call, v) for v in page.items])


@service.operation(authorize=False)
def update_function_code(
    call: Call,
    FunctionName: str,
    ZipFile: bytes | None = None,
    S3Bucket: str | None = None,
    S3Key: str | None = None,
    S3ObjectVersion: str | None = None,
    Publish: bool = False,
    DryRun: bool = False,
    RevisionId: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    names.require_unqualified(ref)
    access.authorize(call, "lambda:UpdateFunctionCode", ref)
    latest = functions.resolve(call.conn, ref)
    if ZipFile is None and not (S3Bucket or S3Key):
        raise errors.InvalidParameterValueException("Please provide a source for function code.")
    functions.require_revision(RevisionId, latest.revision_id)
    functions.require_ready(call, latest)
    functions.require_not_updating(call, latest)
    from_s3 = ZipFile is None
    if from_s3:
        ZipFile = s3code.fetch(call, S3Bucket, S3Key, S3ObjectVersion)
    try:
        package = code.inspect(ZipFile, from_s3=from_s3)
    except code.BadPackage as bad:
        raise errors.InvalidParameterValueException(str(bad)) from None
    if DryRun:
        return functions.to_configuration(call, latest)
    call.resource("lambda_code").put(package)
    updated = functions.update_latest(
        call, latest, code_sha256=package.code_sha256, code_size=package.size
    )
    _retire(call, invocations.image_key(latest))
    if Publish:
        published = functions.publish(call, updated, None)
        return functions.to_configuration(call, published)
    return functions.to_configuration(call, updated)


@service.operation(authorize=False)
def update_function_configuration(
    call: Call,
    FunctionName: str,
    Role: str | None = None,
    Handler: str | None = None,
    Description: str | None = None,
    Timeout: int | None = None,
    MemorySize: int | None = None,
    Environment: dict[str, Any] | None = None,
    Runtime: str | None = None,
    RevisionId: str | None = None,
    **given: Any,
) -> dict[str, Any]:
    ref = names.parse(call, FunctionName)
    names.require_unqualified(ref)
    access.authorize(call, "lambda:UpdateFunctionConfiguration", ref)
    latest = functions.resolve(call.conn, ref)
    functions.require_revision(RevisionId, latest.revision_id)
    functions.require_ready(call, latest)
    functions.require_not_updating(call, latest)
    _require_limits(Timeout, MemorySize)
    changes: dict[str, Any] = {}
    if Runtime is not None:
        changes["runtime"] = _require_runtime(Runtime)
    if Handler is not None:
        changes["handler"] = Handler
    if Description is not None:
        changes["description"] = Description
    if Timeout is not None:
        changes["timeout"] = Timeout
    if MemorySize is not None:
        changes["memory"] = MemorySize
    if Environment is not None:
        variables = Environment.get("Variables") or {}
        functions.require_environment_size(variables)
        changes["environment"] = variables
    if Role is not None:  # checked whenever given
        roles.require_usable(call, Role)
        changes["role"] = Role
    extra = _extra(given)
    if extra:
        changes["config"] = {**latest.config, **extra}
    updated = functions.update_latest(call, latest, **changes)
    _retire(call, invocations.image_key(latest))
    return functions.to_configuration(call, updated)


@service.operation(authorize=False)
def delete_function(call: Call, FunctionName: str, Qualifier: str | None = None) -> dict[str, Any]:
    ref = names.parse(call, FunctionName, Qualifier)
    access.authorize(call, "lambda:DeleteFunction", ref)
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    store = call.resource("lambda_code")
    if ref.qualifier is None or ref.qualifier == LATEST:
        if ref.qualifier == LATEST:
            raise errors.InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        used = functions.delete_function(call.conn, ref)
    else:
        if not names.is_version_number(ref.qualifier):
            raise errors.InvalidParameterValueException(
                "Deletion of aliases is not currently supported."
            )
        on = functions.aliases_on(call.conn, ref, ref.qualifier)
        if on:
            raise errors.ResourceConflictException(
                f"Unable to delete version because the following aliases reference it: {on}"
            )
        sha = functions.delete_version(call.conn, ref, ref.qualifier)
        if sha is None:
            raise names.not_found(ref)
        used = [sha]
    if ref.qualifier is None:
        _retire(call, invocations.image_prefix(ref.account, ref.region, ref.name))
    else:
        _retire(
            call, invocations.image_prefix(ref.account, ref.region, ref.name) + ref.qualifier + ":"
        )
    for sha in set(used):
        if not functions.code_in_use(call.conn, sha):
            store.forget(code.hex_of(sha))
    return {}


# --------------------------------------------------------------------------- tags


def _tagged(call: Call, resource: str, action: str) -> names.Ref:
    ref = names.parse(call, resource)
    if ref.qualifier is not None:
        raise errors.InvalidParameterValueException(
            "Tags are not supported on function versions or aliases."
        )
    access.authorize(call, action, ref)
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    return ref


@service.operation(authorize=False)
def list_tags(call: Call, Resource: str) -> dict[str, Any]:
    ref = _tagged(call, Resource, "lambda:ListTags")
    return {"Tags": functions.tags(call.conn, ref)}


@service.operation(authorize=False)
def tag_resource(call: Call, Resource: str, Tags: dict[str, str]) -> dict[str, Any]:
    ref = _tagged(call, Resource, "lambda:TagResource")
    merged = {**functions.tags(call.conn, ref), **_require_tags(Tags)}
    functions.set_tags(call.conn, ref, _require_tags(merged))
    return {}


@service.operation(authorize=False)
def untag_resource(call: Call, Resource: str, TagKeys: list[str]) -> dict[str, Any]:
    ref = _tagged(call, Resource, "lambda:UntagResource")
    current = functions.tags(call.conn, ref)
    functions.set_tags(call.conn, ref, {k: v for k, v in current.items() if k not in TagKeys})
    return {}


service.operations["CreateFunction"].max_body = code.MAX_REQUEST
service.operations["UpdateFunctionCode"].max_body = code.MAX_REQUEST
