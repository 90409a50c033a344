"""AWS managed policies: ``arn:aws:iam::aws:policy/…``, shipped as package data.

`managed_policies.json` holds each policy's published default-version
document and metadata. It is read once, on first use; the policies are the
same in every account, cannot be edited or deleted, and can be attached.
ReadOnlyAccess is shipped as a faithful subset of its published document (its
entries for the services strongroom serves or names), as the file says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

from strongroom.encoding import json_text, json_value

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy"


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    arn: str
    policy_name: str
    policy_id: str
    path: str
    description: str
    default_version: str
    created: float
    updated: float
    #: The default version's document, as IAM shows it.
    document: str


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@cache
def aws_managed_policies() -> dict[str, AwsManagedPolicy]:
    """Every AWS managed policy this server knows, by ARN."""
    raw = json_value(resources.files(__package__).joinpath("managed_policies.json").read_bytes())
    out: dict[str, AwsManagedPolicy] = {}
    for p in raw["Policies"]:
        policy_arn = f"{AWS_POLICY_PREFIX}{p['Path']}{p['PolicyName']}"
        out[policy_arn] = AwsManagedPolicy(
            arn=policy_arn,
            policy_name=p["PolicyName"],
            policy_id=p["PolicyId"],
            path=p["Path"],
            description=p["Description"],
            default_version=p["DefaultVersionId"],
            created=_ts(p["CreateDate"]),
            updated=_ts(p["UpdateDate"]),
            document=json_text(p["Document"], indent=True),
        )
    return out


def find_aws_policy(policy_arn: str) -> AwsManagedPolicy | None:
    return aws_managed_policies().get(policy_arn)


def is_aws_policy_arn(policy_arn: str) -> bool:
    return policy_arn.startswith(AWS_POLICY_PREFIX + "/")
