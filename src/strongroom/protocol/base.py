"""What every protocol codec shares: plan caching, validation and error plumbing."""

from __future__ import annotations

import logging
import threading
import zlib
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from strongroom.protocol.errors import AwsError, ErrorNamespace, errors_for, namespace_from_model
from strongroom.protocol.http import Request, Response
from strongroom.protocol.validation import (
    Check,
    ValidatorCompiler,
    failure,
    lower_camel,
    validation_message,
)
from strongroom.protocol.values import Malformed

log = logging.getLogger(__name__)


_UNSET = object()

#: The most a compressed request body may inflate to (a bound against
#: decompression bombs; AWS's largest gzip-able input, PutMetricData, is 1 MB).
MAX_INFLATED = 8 * 1024 * 1024


def request_body(req: Request) -> bytes:
    """The request's body, inflated when the SDK compressed it
    (``Content-Encoding: gzip``, botocore's ``requestcompression`` trait:
    CloudWatch's PutMetricData over 10 KB). The signature was checked over
    the bytes as sent; this is only what they say."""
    encoding = req.headers.get("content-encoding", "")
    if not req.body or "gzip" not in encoding.lower():
        return req.body
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(req.body, MAX_INFLATED)
    except zlib.error:
        raise Malformed("The request body is not valid gzip") from None
    if inflater.unconsumed_tail:
        raise Malformed("The request body inflates past the largest request accepted")
    return out


class UnknownOperation(AwsError):
    code = "UnknownOperationException"
    status = 400


class BaseCodec:
    """Shared parts of the four protocol codecs.

    Subclasses implement `_compile_parse(op)` and `_compile_serialize(op)`;
    each result is built once per operation (at first use, or all at once by
    `prepare()`) and kept.
    """

    protocol = ""
    default_validation_code = "ValidationException"
    default_malformed_code = "SerializationException"

    def __init__(
        self,
        model: ServiceModel,
        validation_error_code: str | None = None,
        malformed_error_code: str | None = None,
    ) -> None:
        self.model = model
        self.service_name: str = model.service_name
        self.errors: ErrorNamespace = _errors(model)
        self.validation_error: type[AwsError] = getattr(
            self.errors, validation_error_code or self.default_validation_code
        )
        self.malformed_error: type[AwsError] = getattr(
            self.errors, malformed_error_code or self.default_malformed_code
        )
        self._validators = ValidatorCompiler()
        self._parse_plans: dict[str, Any] = {}
        self._input_checks: dict[str, Any] = {}
        self._serialize_plans: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._operation_names = frozenset(model.operation_names)
        self._error_shapes: dict[str, Shape] = {}
        for shape in model.error_shapes:
            code = shape.metadata.get("error", {}).get("code", shape.name)
            self._error_shapes.setdefault(code, shape)
            self._error_shapes.setdefault(shape.name, shape)

    # ----------------------------------------------------------------- plans

    def prepare(self) -> None:
        """Compile the plans of every operation now rather than on first use."""
        for name in self.model.operation_names:
            self._parse_plan(name)
            self._serialize_plan(name)

    def operation_model(self, operation: str) -> OperationModel:
        if operation not in self._operation_names:
            raise UnknownOperation(f"Unknown operation {operation}")
        return self.model.operation_model(operation)

    def _parse_plan(self, operation: str) -> Any:
        plan = self._parse_plans.get(operation)
        if plan is None:
            op = self.operation_model(operation)
            with self._lock:
                plan = self._parse_plans.get(operation)
                if plan is None:
                    plan = self._compile_parse(op)
                    self._parse_plans[operation] = plan
        return plan

    def _serialize_plan(self, operation: str) -> Any:
        plan = self._serialize_plans.get(operation)
        if plan is None:
            op = self.operation_model(operation)
            with self._lock:
                plan = self._serialize_plans.get(operation)
                if plan is None:
                    plan = self._compile_serialize(op)
                    self._serialize_plans[operation] = plan
        return plan

    def _compile_parse(self, op: OperationModel) -> Any:
        raise NotImplementedError

    def _compile_serialize(self, op: OperationModel) -> Any:
        raise NotImplementedError

    def validate_input(self, operation: str, params: dict[str, Any]) -> None:
        """Check `params` (Python values, as a parse would give) against the
        operation's input shape, as a request from the wire is checked: for
        calls one service makes to another in-process."""
        check = self._input_checks.get(operation, _UNSET)
        if check is _UNSET:
            check = self._input_checks[operation] = self.validator(
                self.operation_model(operation).input_shape
            )
        if check is not None:
            errors: list[str] = []
            check(params, "", errors)
            if errors:
                self.raise_validation(errors)

    def validator(self, shape: Shape | None) -> Check | None:
        if shape is None:
            return None
        return self._validators.validator(shape)

    # ----------------------------------------------------------------- errors

    def raise_validation(self, errors: list[str]) -> None:
        raise self.validation_error(validation_message(errors))

    def missing_member(self, name: str) -> AwsError:
        """The validation error for a required member the request left out."""
        return self.validation_error(
            validation_message([failure(None, lower_camel(name), "Member must not be null", False)])
        )

    def malformed(self, exc: Malformed) -> AwsError:
        return self.malformed_error(exc.message)

    def type_failure(self, value: Any, path: str, exc: Malformed, sensitive: bool) -> str:
        """A validation sentence for a text value that is not of its declared type."""
        what = exc.expected or "a valid value"
        return failure(value, path, f"Member must be {what}", sensitive)

    def unparseable(self, operation: str, exc: Exception) -> AwsError:
        """The 400 for a request that broke a reader in a way nobody foresaw.

        A crafted request must never become a 500, so anything that is not
        an AwsError ends here.
        """
        if isinstance(exc, Malformed):
            return self.malformed(exc)
        log.debug("unparseable %s.%s request", self.service_name, operation, exc_info=exc)
        return self.malformed_error("The request could not be parsed.")

    def error_shape(self, err: AwsError) -> Shape | None:
        name = getattr(err, "shape_name", None)
        if name and name in self._error_shapes:
            return self._error_shapes[name]
        return self._error_shapes.get(err.code)

    # ----------------------------------------------------------------- interface

    def match(self, req: Request) -> str | None:
        return None

    def parse(self, operation: str, req: Request) -> dict[str, Any]:
        raise NotImplementedError

    def serialize(self, operation: str, result: dict[str, Any], request_id: str) -> Response:
        raise NotImplementedError

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        raise NotImplementedError


def _errors(model: ServiceModel) -> ErrorNamespace:
    """The service's error classes: the shared ones when `model` is botocore's own."""
    try:
        shared = errors_for(model.service_name)
    except Exception:  # a model botocore does not ship (tests, extensions)
        return namespace_from_model(model)
    return shared


def message_member(shape: Shape | None, default: str = "message") -> str:
    """The key under which an error shape carries its message ("message" or "Message")."""
    if shape is not None:
        for name, member in shape.members.items():
            if name.lower() == "message":
                return member.serialization.get("name", name)
    return default
