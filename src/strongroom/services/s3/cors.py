"""Cross-origin resource sharing from the bucket's CORS configuration, as
S3 applies it: an OPTIONS preflight is answered from the first rule that
matches its Origin, Access-Control-Request-Method and
Access-Control-Request-Headers (403 ``AccessForbidden`` when the bucket has
no configuration or no rule matches), and a request carrying an Origin gets
the Access-Control-* headers of the first rule matching its origin and
method. A rule's origins and headers may hold one ``*`` wildcard."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Runtime
from strongroom.services.s3 import buckets
from strongroom.services.s3.service import bucket_of_host, errors, service

NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
    "of Origin, request method / Access-Control-Request-Method or "
    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)
VARY = ("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
Headers = list[tuple[str, str]]


def _matches(pattern: str, value: str) -> bool:
    """`value` against a rule's entry, which may hold one ``*``."""
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def matching_rule(
    rules: list[dict[str, Any]], origin: str, method: str, requested: list[str]
) -> dict[str, Any] | None:
    for rule in rules:
        if not any(_matches(o, origin) for o in rule.get("AllowedOrigins") or []):
            continue
        if method not in (rule.get("AllowedMethods") or []):
            continue
        allowed = [h.lower() for h in rule.get("AllowedHeaders") or []]
        if all(any(_matches(a, h) for a in allowed) for h in requested):
            return rule
    return None


def rule_headers(rule: dict[str, Any], origin: str, requested: list[str] | None = None) -> Headers:
    """The Access-Control-* headers a matching rule answers with."""
    anyone = "*" in (rule.get("AllowedOrigins") or [])
    out: Headers = [
        ("access-control-allow-origin", "*" if anyone else origin),
        ("access-control-allow-methods", ", ".join(rule.get("AllowedMethods") or [])),
    ]
    if not anyone:
        out.append(("access-control-allow-credentials", "true"))
    if requested:
        out.append(("access-control-allow-headers", ", ".join(requested)))
    if rule.get("ExposeHeaders"):
        out.append(("access-control-expose-headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("access-control-max-age", str(rule["MaxAgeSeconds"])))
    out.append(VARY)
    return out


def _requested_headers(headers: dict[str, str]) -> list[str]:
    text = headers.get("access-control-request-headers", "")
    return [h.strip().lower() for h in text.split(",") if h.strip()]


def _bucket_name(host: str, path: str) -> str:
    named = bucket_of_host(host)
    if named:
        return named
    from urllib.parse import unquote

    return unquote(path.lstrip("/").split("/", 1)[0])


def _rules(runtime: Runtime, name: str) -> list[dict[str, Any]] | None:
    store = runtime.store
    with store.transaction(write=False) as conn:
        bucket = buckets.get(conn, name, store) if name else None
    if bucket is None:
        raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=name)
    return bucket.cors


def preflight(runtime: Runtime, host: str, path: str, headers: dict[str, str]) -> Headers:
    """The answer to an OPTIONS preflight: its headers, or the error raised."""
    origin = headers.get("origin")
    if not origin:
        raise errors.BadRequest("Insufficient information. Origin request header needed.")
    method = headers.get("access-control-request-method")
    if method not in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        raise errors.BadRequest(f"Invalid Access-Control-Request-Method: {method or 'null'}")
    rules = _rules(runtime, _bucket_name(host, path))
    if not rules:
        raise errors.AccessForbidden(NOT_ENABLED)
    requested = _requested_headers(headers)
    rule = matching_rule(rules, origin, method, requested)
    if rule is None:
        raise errors.AccessForbidden(NOT_ALLOWED)
    return rule_headers(rule, origin, requested)


def response_headers(
    runtime: Runtime, params: dict[str, Any], method: str, headers: dict[str, str]
) -> Headers:
    """The Access-Control-* headers of a response to a request with an
    Origin, from the first rule of its bucket matching origin and method."""
    name = params.get("Bucket")
    origin = headers.get("origin")
    if not name or not origin:
        return []
    store = runtime.store
    with store.transaction(write=False) as conn:
        bucket = buckets.get(conn, name, store)
    if bucket is None or not bucket.cors:
        return []
    rule = matching_rule(bucket.cors, origin, method, [])
    return [] if rule is None else rule_headers(rule, origin)


class BucketCors:
    """What the pipeline calls (`Service.cors`)."""

    preflight = staticmethod(preflight)
    headers = staticmethod(response_headers)


service.cors = BucketCors()
