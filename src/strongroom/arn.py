"""ARNs, account ids and resource ids: one helper for every service."""

from __future__ import annotations

import re
import secrets
import string
from functools import lru_cache

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
PARTITION = "aws"

#: Services whose resources have no region in their ARN.
GLOBAL_SERVICES = frozenset({"iam", "s3", "cloudfront", "route53"})

_ID_ALPHABET = string.ascii_uppercase + "234567"


@lru_cache(maxsize=256)
def is_known_region(region: str) -> bool:
    """A Region of this partition: one botocore names, or one its pattern for
    Regions yet to open admits (as the SDKs accept them)."""
    partition = _partition()
    return region in partition["regions"] or bool(re.fullmatch(partition["regionRegex"], region))


def partition_regions() -> list[str]:
    """The Regions botocore names in this partition."""
    return list(_partition()["regions"])


@lru_cache(maxsize=1)
def _partition() -> dict:
    from botocore.loaders import Loader

    for partition in Loader().load_data("endpoints")["partitions"]:
        if partition["partition"] == PARTITION:
            return partition
    raise LookupError(f"botocore knows no partition {PARTITION!r}")


def arn(service: str, region: str, account: str, resource: str) -> str:
    if service in GLOBAL_SERVICES:
        region = ""
    if service == "s3":
        account = ""
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def root_arn(account: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:root"


def parse_arn(value: str) -> dict[str, str] | None:
    """Split an ARN into its parts, or None when it is not one."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return {
        "partition": parts[1],
        "service": parts[2],
        "region": parts[3],
        "account": parts[4],
        "resource": parts[5],
    }


def unique_id(prefix: str, length: int = 21) -> str:
    """An IAM-style unique id: AIDA/AROA/AKIA/ASIA + upper-case base32 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length - len(prefix)))


def secret_access_key() -> str:
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))


def is_account_id(value: str) -> bool:
    return len(value) == 12 and value.isdigit()
