"""AWS managed keys: ``alias/aws/<service>``, created on first use.

KeyManager AWS, rotated every year, and not editable: their key policy allows
use only through the owning service (``kms:ViaService``) by principals of the
account, and only Describe/Get/List directly — as AWS writes it.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from strongroom.encoding import json_text
from strongroom.framework import Call
from strongroom.services.kms import alias_store, keys
from strongroom.services.kms.states import KeyManager

#: alias/aws/<name> -> (the service that uses it through kms:ViaService, its description)
MANAGED: dict[str, tuple[str, str]] = {
    "acm": ("acm", "ACM"),
    "backup": ("backup", "AWS Backup"),
    "dynamodb": ("dynamodb", "DynamoDB"),
    "ebs": ("ec2", "EBS"),
    "elasticfilesystem": ("elasticfilesystem", "EFS"),
    "es": ("es", "Elasticsearch"),
    "glue": ("glue", "Glue"),
    "kinesis": ("kinesis", "Kinesis"),
    "lambda": ("lambda", "Lambda"),
    "logs": ("logs", "CloudWatch Logs"),
    "rds": ("rds", "RDS database volumes"),
    "redshift": ("redshift", "Redshift"),
    "s3": ("s3", "S3 objects"),
    "secretsmanager": ("secretsmanager", "Secrets Manager secrets"),
    "sns": ("sns", "SNS"),
    "sqs": ("sqs", "SQS"),
    "ssm": ("ssm", "SSM parameters"),
    "xray": ("xray", "X-Ray"),
    "cloudtrail": ("cloudtrail", "CloudTrail"),
    "dms": ("dms", "DMS"),
    "docdb-elastic": ("docdb-elastic", "DocumentDB"),
}

ROTATION_DAYS = 365


def service_of_alias(alias_name: str) -> str | None:
    if not alias_name.startswith("alias/aws/"):
        return None
    name = alias_name[len("alias/aws/") :]
    return name if name in MANAGED else None


def via_service(service_name: str, region: str) -> str:
    return f"{MANAGED.get(service_name, (service_name, ''))[0]}.{region}.amazonaws.com"


def policy(account: str, region: str, service_name: str) -> str:
    via = via_service(service_name, region)
    label = MANAGED.get(service_name, (service_name, service_name))[1]
    doc = {
        "Version": "2012-10-17",
        "Id": f"auto-{service_name}-2",
        "Statement": [
            {
                "Sid": f"Allow access through {label} for all principals in the account "
                "that are authorized to use it",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account}
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }
    return json_text(doc, indent=True)


def ensure(call: Call, account: str, region: str, service_name: str) -> keys.Key:
    """The AWS managed key of `service_name` in (account, region), created if missing."""
    alias_name = f"alias/aws/{service_name}"
    key = keys.find_by_alias(call.conn, account, region, alias_name)
    if key is not None:
        return key
    try:
        with call.conn.begin_nested():
            return _create(call, account, region, service_name, alias_name)
    except IntegrityError:  # another process created it first
        key = keys.find_by_alias(call.conn, account, region, alias_name)
        if key is None:
            raise
        return key


def _create(call: Call, account: str, region: str, service_name: str, alias_name: str) -> keys.Key:
    now = call.clock.timestamp()
    label = MANAGED.get(service_name, (service_name, service_name))[1]
    key = keys.create_key(
        call.conn,
        call.sealer,
        now,
        account=account,
        region=region,
        policy=policy(account, region, service_name),
        description=f"Default key that protects my {label} when no other key is defined",
        key_manager=KeyManager.AWS,
        rotation_days=ROTATION_DAYS,
    )
    alias_store.create(call.conn, account, region, alias_name, key.key_id, now)
    return key
