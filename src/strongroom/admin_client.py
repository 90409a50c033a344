"""A client for the server's own admin endpoints (``/_strongroom/...``).

Endpoints that change state (moving a ``--time-travel`` clock) take only
requests signed with SigV4 by the default account's root, scoped to the
service name ``strongroom``: the CLI and the test harness sign here.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

#: The credential scope's service for admin requests.
ADMIN_SIGNING_NAME = "strongroom"


def signed_request(
    url: str,
    method: str,
    body: dict[str, Any] | None,
    credentials: Credentials,
    region: str = "us-east-1",
) -> urllib.request.Request:
    """`method url` with a JSON body, signed for the admin endpoints."""
    data = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(
        method=method, url=url, data=data, headers={"content-type": "application/json"}
    )
    SigV4Auth(credentials, ADMIN_SIGNING_NAME, region).add_auth(request)
    prepared = request.prepare()
    return urllib.request.Request(
        url, data=data or None, method=method, headers=dict(prepared.headers.items())
    )
