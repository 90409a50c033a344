"""How large and how slow a request may be, decided once at start-up.

The HTTP layer (`server/http.py`) checks every request against these limits
at headers-complete, before it reads a byte of the body: a dict lookup and a
few int compares. What is decided here:

* the header block: at most `MAX_HEADER_BYTES` of names and values in at most
  `MAX_HEADERS` headers (431), and a request target of at most `MAX_URL`
  bytes (414). AWS's front ends draw similar lines (API Gateway 10 KiB of
  headers, CloudFront 20 KiB, S3 8 KiB for a PUT's headers);
* the body: each JSON operation's bound (`by_target`, keyed by the
  `X-Amz-Target` value), the global cap `max_body` for everything else, and
  `max_unsigned` for a request that carries no signature at all;
* `max_buffered`: the body bytes all connections of one process may hold at
  once; a request that would go beyond it, while others hold some, is told
  to slow down (503) instead of growing the process.

A JSON operation's bound is what the most verbose SDK encoding of its
largest valid input takes: each string member at its modelled maximum length
with every character escaped as ``\\uXXXX`` (6 bytes; AWS counts lengths in
UTF-16 units), each blob base64-encoded, each list and map at its maximum
size, plus `SLACK` for whitespace and members a newer model adds. An input
with any unbounded member (a string, blob, list or map without a `max`, a
recursive shape) gets the global cap. KMS Encrypt, for one, is unbounded
(its EncryptionContext map has no modelled size), while most key operations
are bounded: EnableKey at about 28 KiB, DescribeKey at about 500 KiB (ten
grant tokens of 8,192 characters each).

Query-protocol operations (IAM, STS) name themselves in the body, so they
are held to the global cap; REST operations that declare a limit or stream
are matched at headers-complete by the router itself (see
`docs/architecture.md`, "Streaming bodies").

An operation declares its own limit with ``Operation.max_body``: it then
replaces the model's bound and may exceed the global cap (a Lambda
CreateFunction with an inline 50 MB zip). ``Operation.streaming`` marks
bodies that must never be buffered whole (S3's PutObject and UploadPart):
the HTTP layer spools such a body to disk as it arrives (`server.spool`),
counted against the same `max_body` and the same stall timeout but not the
buffered-bytes budget. Only REST operations may stream: `RequestLimits`
refuses to start with a JSON one rather than buffer it silently.
"""

from __future__ import annotations

import weakref
from typing import Any

from botocore.model import Shape

#: Names and values of all headers together, in bytes.
MAX_HEADER_BYTES = 16 * 1024
#: How many header lines a request may carry.
MAX_HEADERS = 100
#: The request target (path and query string), in bytes.
MAX_URL = 16 * 1024
#: Raw bytes of a header block still arriving beyond which the request is
#: refused (the names and values plus their framing and the request line).
MAX_HEAD_RAW = MAX_URL + MAX_HEADER_BYTES + 4 * MAX_HEADERS + 64
#: Added to every modelled bound: whitespace, a newer model's members.
SLACK = 16 * 1024
#: Bytes of one JSON-escaped character (``\\u0000``).
_ESCAPED = 6
#: A number or timestamp as an SDK writes it (``-9223372036854775808``).
_NUMBER = 32
#: Once a body has been arriving for longer than the stall timeout, it must
#: have come at this average rate (bytes a second) or it is cut.
MIN_BODY_RATE = 1024
#: Seconds a refused request's remaining bytes are read and dropped before the
#: connection closes, so the client reads the answer instead of a reset.
LINGER = 3.0


def json_bound(shape: Shape | None, seen: frozenset[str] = frozenset()) -> int | None:
    """The most bytes `shape` takes as compact JSON, or None when unbounded."""
    if shape is None:
        return 2
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if shape.name in seen:
            return None  # recursive
        inner = seen | {shape.name}
        total = 2
        for name, member in shape.members.items():
            size = json_bound(member, inner)
            if size is None:
                return None
            total += len(name) + 4 + size  # "name": value,
        return total
    if kind in ("list", "map"):
        most = meta.get("max")
        if most is None:
            return None
        if kind == "list":
            item = json_bound(shape.member, seen)
        else:
            key, value = json_bound(shape.key, seen), json_bound(shape.value, seen)
            item = None if key is None or value is None else key + 1 + value
        return None if item is None else 2 + most * (item + 1)
    if kind == "string":
        enum = meta.get("enum") or shape.enum
        if enum:
            return 2 + max(len(v) for v in enum) * _ESCAPED
        most = meta.get("max")
        return None if most is None else 2 + most * _ESCAPED
    if kind == "blob":
        most = meta.get("max")
        return None if most is None else 2 + 4 * ((most + 2) // 3)
    if kind == "boolean":
        return 5
    return _NUMBER  # integer, long, float, double, timestamp


def operation_bound(service: Any, op: Any, cap: int) -> int:
    """The body limit of one operation: its declared `max_body`, else the
    model's bound (plus slack), never above `cap`."""
    declared = getattr(op, "max_body", None)
    if declared is not None:
        return declared
    bound = json_bound(service.model.operation_model(op.name).input_shape)
    return cap if bound is None else min(cap, bound + SLACK)


class RequestLimits:
    """One process's request limits and its count of buffered body bytes."""

    _of: weakref.WeakKeyDictionary[Any, RequestLimits] = weakref.WeakKeyDictionary()

    def __init__(self, services: list[Any], config: Any, router: Any = None) -> None:
        self.max_body: int = config.max_body
        self.max_unsigned: int = min(config.max_unsigned_body, config.max_body)
        self.max_buffered: int = config.max_buffered
        self.header_timeout: float = config.request_timeout
        self.body_timeout: float = config.body_timeout
        #: Body bytes all connections hold right now (see `max_buffered`).
        self.buffered = 0
        self.by_target: dict[str, int] = {}
        #: REST operations declaring their own `max_body` (S3's PutObject and
        #: UploadPart), by (service, operation): found at headers-complete by
        #: routing the request line and headers as the router will.
        self.by_rest_op: dict[tuple[str, str], int] = {}
        self._router = router
        #: The REST operations whose bodies are spooled, never buffered.
        self.streaming: set[tuple[str, str]] = set()
        #: REST operations signed in their body (S3's POST Object): held to
        #: their own bound even when no header or query carries a signature.
        self.signed_in_body: set[tuple[str, str]] = set()
        for svc in services:
            md = svc.model.metadata
            protocol = getattr(svc, "protocol", md["protocol"])
            if protocol in ("rest-xml", "rest-json"):
                for op in svc.operations.values():
                    if getattr(op, "max_body", None) is not None:
                        self.by_rest_op[(svc.name, op.name)] = op.max_body
                    if getattr(op, "streaming", False):
                        self.by_rest_op.setdefault((svc.name, op.name), self.max_body)
                        self.streaming.add((svc.name, op.name))
                    if getattr(op, "signed_in_body", False):
                        self.signed_in_body.add((svc.name, op.name))
                continue
            streaming = [op.name for op in svc.operations.values() if getattr(op, "streaming", 0)]
            if streaming:
                raise RuntimeError(
                    f"{svc.name} declares streaming operations {streaming}: only REST "
                    "operations, matched at headers-complete, stream (see strongroom.server.limits)"
                )
            if protocol != "json":
                continue
            prefix = md["targetPrefix"]
            for op in svc.operations.values():
                self.by_target.setdefault(
                    f"{prefix}.{op.name}", operation_bound(svc, op, self.max_body)
                )

    @classmethod
    def of(cls, app: Any) -> RequestLimits:
        """The limits of `app`, built the first time a connection asks."""
        limits = cls._of.get(app)
        if limits is None:
            limits = cls._of[app] = cls(app.services, app.config, getattr(app, "router", None))
        return limits

    def body_limit(self, headers: dict[str, str], url: bytes, method: str = "POST") -> int:
        """The most body bytes this request may send."""
        return self.body_plan(headers, url, method)[0]

    def body_plan(
        self, headers: dict[str, str], url: bytes, method: str = "POST"
    ) -> tuple[int, bool]:
        """The most body bytes this request may send, and whether its body
        streams (is spooled to disk as it arrives instead of buffered)."""
        target = headers.get("x-amz-target")
        limit = self.max_body if target is None else self.by_target.get(target, self.max_body)
        streaming = False
        if target is None and self.by_rest_op and method in ("PUT", "POST"):
            route = self._rest_route(headers, url, method)
            if route is not None:
                declared = self.by_rest_op.get(route)
                if declared is not None:
                    limit = declared
                streaming = route in self.streaming
                if route in self.signed_in_body:
                    return limit, streaming
        if (
            "authorization" not in headers
            and b"X-Amz-Signature=" not in url
            and b"X-Amz-Credential=" not in url
            and b"Signature=" not in url
            and limit > self.max_unsigned
        ):
            return self.max_unsigned, False
        return limit, streaming

    def _rest_route(
        self, headers: dict[str, str], url: bytes, method: str
    ) -> tuple[str, str] | None:
        """(service, operation) of the REST request, routed as the router will."""
        if self._router is None:
            return None
        from strongroom.protocol.http import Request

        path, _, query = url.partition(b"?")
        req = Request(method, path.decode("latin-1"), query.decode("latin-1"), headers, b"")
        auth = headers.get("authorization", "")
        scope = None
        if "Credential=" in auth:
            parts = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            scope = parts[3] if len(parts) >= 4 else None
        try:
            route = self._router.route(req, scope)
        except Exception:
            return None
        return (route.service.name, route.operation)
