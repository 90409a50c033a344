"""CloudTrail shapes as data: what an operation's event records of its request
and its response.

By default an event records every member of the request (requestParameters)
and, for an operation that is not read-only, of the response
(responseElements) that the redaction plan lets through
(`strongroom.audit.recorder.build_redactor`: no sensitive member, no blob).
AWS records a fixed selection for many operations instead — KMS Decrypt its
encryption context and algorithm (the default one when the caller named
none), never the blob; KMS management operations that return nothing the key
ARN in ``responseElements.keyId``; STS AssumeRole the new credentials' access
key id and expiration, never the secret or the token. A service declares
those selections as data, per operation (``services/kms/trail.py``)::

    TRAIL = {
        "Decrypt": {
            "request": ["keyId", "encryptionContext", "encryptionAlgorithm"],
            "defaults": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        },
        "EnableKey": {"response": {"keyId": "$resource"}},
        "GetSessionToken": {"response": ["credentials.accessKeyId", "credentials.expiration"]},
    }

``request`` / ``response``
    The members recorded, named as CloudTrail writes them (lowerCamel, dots
    for nesting), in the order they are written. A list copies each from the
    request's (response's) member at the same path; a dict maps each recorded
    path to its source: a path of the request (response), or a reference to
    what the operation resolved — ``$resource``, the ARN of the first
    resource it named for the audit record (`Call.audit_resource`). A member
    whose value is absent is left out. Each declared section replaces the
    default one; an undeclared section keeps it.
``defaults``
    Request paths recorded with this value when the caller left the member
    out (the value the service applied).
``verbatim``
    Request paths recorded as sent: nested member names keep their model
    spelling instead of lowerCamel.
``newer``
    Request or response paths of members a newer botocore model adds: left
    out of the plan, instead of failing the start, when the installed model
    lacks them.

`compile_plans` works each declaration out once, at start-up, against the
service's model: an unknown operation or member, or a path into a sensitive
member or a blob, fails the start; nothing secret can be declared. Each
recorded value still goes through the redaction plan of its own shape, so a
sensitive member nested in a declared structure is dropped as well.

An operation whose record depends on what it decided at run-time sets
`Call.audit_request` / `Call.audit_response` instead, which win over both
(and says why at the site).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from strongroom.audit.recorder import Redactor, build_redactor, records_as_is

if TYPE_CHECKING:
    from strongroom.framework.service import Service

log = logging.getLogger("strongroom.framework.trail")

#: The ARN of the first resource the operation named (`Call.audit_resource`).
RESOURCE = "$resource"
#: The keys a declaration may hold.
SECTIONS = frozenset({"request", "response", "defaults", "verbatim", "newer"})

Resources = Sequence[Mapping[str, str]] | None
Declaration = Mapping[str, Any]


class TrailError(ValueError):
    """A declaration the model does not support (raised at start-up)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """One recorded member: where it goes, where it comes from, how it is copied."""

    target: tuple[str, ...]
    #: Model member names from the request (response) down, or None for `RESOURCE`.
    source: tuple[str, ...] | None
    #: None when the value is recorded as it is (a scalar's: no call needed).
    redact: Redactor | None
    default: Any = None


def _copier(entries: tuple[_Entry, ...]) -> Callable[[Any, Resources], dict[str, Any]]:
    """One declared section as a function of (values, resources), built once.

    The common section names top-level members into top-level keys: its
    function is a single loop over plain tuples (on every request's path)."""
    if all(e.source is not None and len(e.source) == 1 and len(e.target) == 1 for e in entries):
        flat = tuple((e.source[0], e.target[0], e.redact, e.default) for e in entries)  # type: ignore[index]

        def copy_flat(values: Any, resources: Resources) -> dict[str, Any]:
            if type(values) is not dict:
                return _copy(entries, values, resources)
            out: dict[str, Any] = {}
            get = values.get
            for source, target, redact, default in flat:
                value = get(source)
                if value is None:
                    if default is None:
                        continue
                    value = default
                elif redact is not None:
                    value = redact(value)
                    if value is None:
                        continue
                out[target] = value
            return out

        return copy_flat
    return lambda values, resources: _copy(entries, values, resources)


def _copy(entries: tuple[_Entry, ...], values: Any, resources: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flat = type(values) is dict
    for entry in entries:
        source = entry.source
        if source is None:
            value = resources[0].get("ARN") if resources else None
        elif flat and len(source) == 1:
            value = values.get(source[0])
        else:
            value = _dig(values, source)
        if value is None:
            value = entry.default
            if value is None:
                continue
        elif entry.redact is not None:
            value = entry.redact(value)
            if value is None:
                continue
        target = entry.target
        if len(target) == 1:
            out[target[0]] = value
        else:
            _put(out, target, value)
    return out


def _dig(values: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(values, dict):
            return None
        values = values.get(name)
    return values


def _put(out: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        out = out.setdefault(name, {})
    out[path[-1]] = value


@dataclass(frozen=True, slots=True)
class EventPlan:
    """How one operation's events record its request and its response,
    worked out once (`compile_plans`)."""

    #: The default: the redaction plans of the input and output shapes.
    redact_request: Redactor | None
    redact_response: Redactor | None
    read_only: bool = False
    #: The declared sections, or None where the default applies.
    request: tuple[_Entry, ...] | None = None
    response: tuple[_Entry, ...] | None = None
    #: The sections compiled (`_copier`).
    copy_request: Callable[[Any, Resources], dict[str, Any]] | None = None
    copy_response: Callable[[Any, Resources], dict[str, Any]] | None = None

    def request_parameters(
        self, params: dict[str, Any] | None, resources: Resources = None, override: Any = None
    ) -> Any:
        """requestParameters: the operation's run-time `override`, else the
        declared members, else the redacted request."""
        if override is not None:
            return override
        if self.copy_request is not None:
            return self.copy_request(params, resources)
        if params and self.redact_request is not None:
            return self.redact_request(params)
        return None

    def response_elements(
        self, result: dict[str, Any] | None, resources: Resources = None, override: Any = None
    ) -> Any:
        """responseElements of a call that succeeded: the `override`, else the
        declared members (read-only operations too), else the redacted
        response of an operation that is not read-only."""
        if override is not None:
            return override
        if self.copy_response is not None:
            return self.copy_response(result, resources)
        if result and self.redact_response is not None and not self.read_only:
            return self.redact_response(result)
        return None


# -- compiling ---------------------------------------------------------------------


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _hidden(shape: Shape) -> bool:
    return bool(shape.metadata.get("sensitive")) or shape.type_name == "blob"


def _holds_hidden(shape: Shape, depth: int = 0) -> bool:
    """Whether a value of `shape` may carry a sensitive member or a blob."""
    if _hidden(shape):
        return True
    if depth > 12:
        return False
    if isinstance(shape, StructureShape):
        return any(_holds_hidden(m, depth + 1) for m in shape.members.values())
    if isinstance(shape, ListShape):
        return _holds_hidden(shape.member, depth + 1)
    if isinstance(shape, MapShape):
        return _holds_hidden(shape.value, depth + 1)
    return False


def _resolve(shape: Shape | None, path: str, where: str) -> tuple[tuple[str, ...], Shape] | None:
    """The model member names along the lowerCamel `path`, and the shape it
    ends on; None when a member is unknown to the model."""
    names: list[str] = []
    for part in path.split("."):
        if not isinstance(shape, StructureShape):
            return None
        member = next((n for n in shape.members if _lower_camel(n) == part), None)
        if member is None:
            return None
        shape = shape.members[member]
        if _hidden(shape):
            raise TrailError(f"{where}: {path} is sensitive and may never be recorded")
        names.append(member)
    assert shape is not None
    return tuple(names), shape


def _sources(section: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(section, Mapping):
        return [(str(k), str(v)) for k, v in section.items()]
    if isinstance(section, list | tuple):
        return [(str(p), str(p)) for p in section]
    raise TrailError(f"{where}: expected a list or a dict, got {type(section).__name__}")


def _entries(
    section: Any, shape: Shape | None, decl: Declaration, where: str
) -> tuple[_Entry, ...]:
    defaults: Mapping[str, Any] = decl.get("defaults", {})
    verbatim = set(decl.get("verbatim", ()))
    newer = set(decl.get("newer", ()))
    entries: list[_Entry] = []
    for target, source in _sources(section, where):
        if source == RESOURCE:
            entries.append(_Entry(tuple(target.split(".")), None, None))
            continue
        found = _resolve(shape, source, where)
        if found is None:
            if source in newer:
                log.info("%s: %s is not in the installed botocore model", where, source)
                continue
            raise TrailError(f"{where}: the model has no member {source}")
        names, leaf = found
        if source in verbatim:
            if _holds_hidden(leaf):
                raise TrailError(f"{where}: {source} holds sensitive members, not verbatim")
            redact: Redactor | None = _same
        else:
            redact = build_redactor(leaf)
        if redact is None:
            raise TrailError(f"{where}: nothing of {source} may be recorded")
        entries.append(
            _Entry(
                tuple(target.split(".")),
                names,
                None if records_as_is(redact) else redact,
                defaults.get(source),
            )
        )
    return tuple(entries)


def _same(value: Any) -> Any:
    return value


def compile_plan(service: Service, operation: str, decl: Declaration | None) -> EventPlan:
    """The `EventPlan` of one of `service`'s operations."""
    where = f"{service.name}.{operation}"
    model = service.model.operation_model(operation)
    op = service.operations.get(operation)
    read_only = op.read_only if op is not None else False
    plan = EventPlan(
        build_redactor(model.input_shape), build_redactor(model.output_shape), read_only
    )
    if decl is None:
        return plan
    unknown = set(decl) - SECTIONS
    if unknown:
        raise TrailError(f"{where}: unknown declaration keys {sorted(unknown)}")
    request = response = None
    if "request" in decl:
        request = _entries(decl["request"], model.input_shape, decl, f"{where} request")
    if "response" in decl:
        response = _entries(decl["response"], model.output_shape, decl, f"{where} response")
    stray = set(decl.get("defaults", {})) | set(decl.get("verbatim", ()))
    stray -= set(src for _, src in _sources(decl.get("request", []), where))
    if stray:
        raise TrailError(f"{where}: defaults/verbatim for undeclared members {sorted(stray)}")
    return EventPlan(
        plan.redact_request,
        plan.redact_response,
        read_only,
        request,
        response,
        _copier(request) if request is not None else None,
        _copier(response) if response is not None else None,
    )


def compile_plans(service: Service) -> dict[str, EventPlan]:
    """Every served operation's `EventPlan`, from the service's declarations
    (`Service.trail`); a declaration for an operation not served fails."""
    unserved = set(service.trail) - set(service.operations)
    if unserved:
        raise TrailError(f"{service.name}: trail declared for unserved {sorted(unserved)}")
    return {
        name: compile_plan(service, name, service.trail.get(name)) for name in service.operations
    }


__all__ = [
    "RESOURCE",
    "Declaration",
    "EventPlan",
    "TrailError",
    "compile_plan",
    "compile_plans",
]
