"""What S3 calls a public bucket policy."""

from __future__ import annotations

from typing import Any


def is_public(document: dict[str, Any]) -> bool:
    """An Allow to everyone (``"*"``, ``{"AWS": "*"}``) without a Condition
    narrowing it (AWS's finer reading of fixed-value conditions is not made)."""
    statements = document.get("Statement")
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        principal = st.get("Principal")
        if principal == "*" or (
            isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"])
        ):
            return True
    return False
