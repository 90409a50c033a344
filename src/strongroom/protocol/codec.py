"""The codec interface every protocol implements (json, query, rest-xml, rest-json).

A codec is built once per served service at start-up; it prepares a parse plan
and a serialize plan per operation so a request costs no model look-ups.

Values crossing the codec boundary are plain Python, named as the model names
members: str, int, float, bool, bytes (blobs), datetime (tz-aware UTC,
timestamps), list, dict (structures and maps). Services return dicts shaped
like the output shape; None values and unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any, Protocol

from strongroom.protocol.errors import AwsError
from strongroom.protocol.http import Request, Response


class ServiceCodec(Protocol):
    #: botocore service name, e.g. "kms".
    service_name: str
    #: The wire protocol, as botocore names it ("json", "smithy-rpc-v2-cbor", ...).
    protocol: str

    def match(self, req: Request) -> str | None:
        """REST protocols: the operation a request's method and URI name, else None.

        RPC protocols (json, query) return None; the router finds their
        operation from X-Amz-Target or Action.
        """

    def parse(self, operation: str, req: Request) -> dict[str, Any]:
        """The operation's validated input, or raise the service's AwsError."""

    def serialize(self, operation: str, result: dict[str, Any], request_id: str) -> Response:
        """The HTTP response for a successful call."""

    def serialize_error(
        self, err: AwsError, request_id: str, operation: str | None = None
    ) -> Response:
        """The HTTP response for an error, in the protocol's error format."""
