"""AWS errors as Python exceptions.

`AwsError` carries what every protocol needs to serialize an error: the code,
the message, the HTTP status and whether the sender is at fault. Each service
gets one exception class per error shape in its botocore model, created once
from the model (`errors_for("kms").NotFoundException`), so the code and the
status always come from the model's traits and never from string matching.
"""

from __future__ import annotations

from functools import cache
from typing import Any


class AwsError(Exception):
    """An error the client is meant to see, serialized by the service's protocol."""

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        sender_fault: bool | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if sender_fault is not None:
            self.sender_fault = sender_fault
        #: Extra members of the error shape (e.g. S3's BucketName), by model name.
        self.fields = fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.status}, {self.message!r})"


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500
    sender_fault = False


class ErrorNamespace:
    """The error classes of one service, one per modelled error shape.

    Attribute access by shape name (``errors.NotFoundException``). Besides
    the modelled shapes, only the errors AWS returns without modelling them
    (`_UNMODELLED`, e.g. ``AccessDeniedException``) exist; any other name is
    an AttributeError, so a misspelt or invented error code fails the tests
    instead of reaching a client.
    """

    def __init__(self, service_name: str, classes: dict[str, type[AwsError]]) -> None:
        self._service_name = service_name
        self._classes = classes

    def __getattr__(self, name: str) -> type[AwsError]:
        if name.startswith("_"):
            raise AttributeError(name)
        cls = self._classes.get(name)
        if cls is None:
            status = _UNMODELLED.get(name)
            if status is None:
                raise AttributeError(
                    f"{self._service_name} has no error {name!r}: neither a shape of its "
                    "model nor an unmodelled AWS error strongroom lists"
                )
            cls = type(name, (AwsError,), {"code": name, "status": status})
            self._classes[name] = cls
        return cls

    def define(self, name: str, status: int) -> type[AwsError]:
        """An unmodelled error this service answers with its own HTTP status
        (Lambda's AccessDeniedException is 403; the JSON services' 400)."""
        if name not in _UNMODELLED:
            raise AttributeError(f"{name!r} is not an unmodelled AWS error strongroom lists")
        cls = type(name, (AwsError,), {"code": name, "status": status})
        self._classes[name] = cls
        return cls

    def by_code(self, code: str) -> type[AwsError]:
        for cls in self._classes.values():
            if cls.code == code:
                return cls
        return getattr(self, code)


#: HTTP status for errors AWS returns that a model does not declare.
_UNMODELLED: dict[str, int] = {
    "AccessDeniedException": 400,
    "AccessDenied": 403,
    # S3's answers to CORS preflight requests (OPTIONS), which no model has.
    "AccessForbidden": 403,
    "BadRequest": 400,
    "UnrecognizedClientException": 400,
    "InvalidSignatureException": 400,
    "IncompleteSignatureException": 400,
    "MissingAuthenticationTokenException": 400,
    "ExpiredTokenException": 400,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "IncompleteSignature": 400,
    "MissingAuthenticationToken": 403,
    "ExpiredToken": 403,
    "InvalidAccessKeyId": 403,
    "RequestTimeTooSkewed": 403,
    "UnknownOperationException": 400,
    "InvalidAction": 400,
    "ValidationException": 400,
    "ValidationError": 400,
    "SerializationException": 400,
    "MissingParameter": 400,
    "InvalidParameterValue": 400,
    "InvalidParameterCombination": 400,
    "ThrottlingException": 400,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "NotImplemented": 501,
    # The protocols' own answers to input no operation could read.
    "MalformedQueryString": 400,
    "InvalidQueryParameter": 400,
    "MalformedXML": 400,
    "InvalidArgument": 400,
    "InvalidRequest": 400,
    # S3's errors its model does not declare (S3 API Reference, "Error codes").
    "NoSuchBucketPolicy": 404,
    "NoSuchTagSet": 404,
    "ServerSideEncryptionConfigurationNotFoundError": 404,
    "BucketNotEmpty": 409,
    "InvalidBucketName": 400,
    "IllegalLocationConstraintException": 400,
    "InvalidLocationConstraint": 400,
    "BadDigest": 400,
    "InvalidDigest": 400,
    "EntityTooSmall": 400,
    "EntityTooLarge": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "PreconditionFailed": 412,
    "NotModified": 304,
    "InvalidRange": 416,
    "MalformedPolicy": 400,
    "InvalidTag": 400,
    "KMS.DisabledException": 400,
    "KMS.NotFoundException": 400,
    "KMS.KMSInvalidStateException": 400,
    "IncompleteBody": 400,
    "KeyTooLongError": 400,
    "MethodNotAllowed": 405,
    "ConditionalRequestConflict": 409,
    "InvalidEncryptionAlgorithmError": 400,
    "MalformedACLError": 400,
    "AccessControlListNotSupported": 400,
    "InvalidBucketState": 409,
    "InvalidBucketAclWithObjectOwnership": 400,
    "InvalidStorageClass": 400,
    "NoSuchVersion": 404,
    "InvalidPartNumber": 416,
    "NoSuchPublicAccessBlockConfiguration": 404,
    "NoSuchCORSConfiguration": 404,
    "ObjectLockConfigurationNotFoundError": 404,
    "NoSuchObjectLockConfiguration": 404,
    "NoSuchLifecycleConfiguration": 404,
    "OwnershipControlsNotFoundError": 404,
    "MissingSecurityHeader": 400,
    # S3's answers to browser-based POST uploads.
    "MalformedPOSTRequest": 400,
    "InvalidPolicyDocument": 400,
    "MaxPostPreDataLengthExceeded": 400,
}


@cache
def errors_for(service_name: str) -> ErrorNamespace:
    """The error classes generated from `service_name`'s botocore model."""
    from strongroom.protocol.model import load_service_model

    return namespace_from_model(load_service_model(service_name))


def namespace_from_model(model: Any) -> ErrorNamespace:
    """Error classes for a `botocore.model.ServiceModel` (``errors_for`` caches these)."""
    classes: dict[str, type[AwsError]] = {}
    for shape in model.error_shapes:
        shape_name = shape.name
        err = shape.metadata.get("error", {})
        attrs = {
            "code": err.get("code", shape_name),
            "status": int(err.get("httpStatusCode", 400)),
            "sender_fault": bool(err.get("senderFault", True))
            if "senderFault" in err
            else int(err.get("httpStatusCode", 400)) < 500,
            "shape_name": shape_name,
        }
        classes[shape_name] = type(shape_name, (AwsError,), attrs)
    return ErrorNamespace(model.service_name, classes)
