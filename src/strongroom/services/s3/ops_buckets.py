"""Bucket operations: create, delete, list, head, location, tags,
encryption and policies."""

from __future__ import annotations

from typing import Any

from strongroom.arn import DEFAULT_REGION, is_known_region
from strongroom.encoding import json_text, json_value
from strongroom.framework import Call
from strongroom.services.s3 import access, acls, buckets, names, notifications, public_access
from strongroom.services.s3.policies import is_public
from strongroom.services.s3.service import errors, service


@service.operation(authorize=False)
def create_bucket(
    call: Call,
    Bucket: str,
    CreateBucketConfiguration: dict[str, Any] | None = None,
    ACL: str | None = None,
    ObjectOwnership: str | None = None,
    ObjectLockEnabledForBucket: bool | None = None,
    **params: Any,
) -> dict[str, Any]:
    names.validate_bucket(Bucket)
    call.authorize("s3:CreateBucket", names.bucket_arn(Bucket))
    location = (CreateBucketConfiguration or {}).get("LocationConstraint")
    region = call.region
    if location is None:
        if region != DEFAULT_REGION:
            raise errors.IllegalLocationConstraintException(
                "The unspecified location constraint is incompatible for the region specific "
                "endpoint this request was sent to."
            )
    elif location == "EU":
        location = "eu-west-1"
    if location is not None:
        if location == DEFAULT_REGION or not is_known_region(location):
            raise errors.InvalidLocationConstraint(
                "The specified location-constraint is not valid", LocationConstraint=location
            )
        if location != region:
            raise errors.IllegalLocationConstraintException(
                f"The {location} location constraint is incompatible for the region specific "
                "endpoint this request was sent to."
            )
    if ACL not in (None, "private", "bucket-owner-full-control") and ObjectOwnership in (
        None,
        "BucketOwnerEnforced",
    ):
        raise errors.InvalidBucketAclWithObjectOwnership(
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        )
    existing = buckets.get(call.conn, Bucket)
    if existing is not None:
        if existing.account != call.account:
            raise errors.BucketAlreadyExists(
                "The requested bucket name is not available. The bucket namespace is shared "
                "by all users of the system. Please select a different name and try again.",
                BucketName=Bucket,
            )
        if region == DEFAULT_REGION and existing.region == DEFAULT_REGION:
            return {"Location": f"/{Bucket}", "BucketArn": names.bucket_arn(Bucket)}
        raise errors.BucketAlreadyOwnedByYou(
            "Your previous request to create the named bucket succeeded and you already own it.",
            BucketName=Bucket,
        )
    buckets.create(call.conn, Bucket, call.account, region, call.clock.timestamp())
    if ObjectOwnership is not None and ObjectOwnership != acls.ENFORCED:
        acls.set_ownership(call.conn, Bucket, ObjectOwnership)
        grants = acls.requested(ACL, None, params, call.account, call.account, for_object=False)
        if grants is not None:
            acls.set_bucket_grants(call.conn, Bucket, grants)
    if ObjectLockEnabledForBucket:
        # Object Lock comes with versioning, which can then not be suspended.
        buckets.set_fields(call.conn, Bucket, versioning="Enabled", object_lock={})
    call.audit_resource(names.bucket_arn(Bucket), access.BUCKET_TYPE, call.account)
    return {"Location": f"/{Bucket}", "BucketArn": names.bucket_arn(Bucket)}


@service.operation(authorize=False)
def delete_bucket(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:DeleteBucket", bucket)
    if not buckets.is_empty(call.conn, Bucket):
        raise errors.BucketNotEmpty(
            "The bucket you tried to delete is not empty", BucketName=Bucket
        )
    buckets.remove(call.conn, Bucket)
    acls.remove(call.conn, Bucket)
    return {}


@service.operation(authorize="s3:ListAllMyBuckets")
def list_buckets(
    call: Call,
    MaxBuckets: int | None = None,
    ContinuationToken: str | None = None,
    Prefix: str | None = None,
    BucketRegion: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    found = [
        b
        for b in buckets.of_account(call.conn, call.account)
        if (not Prefix or b.name.startswith(Prefix))
        and (not BucketRegion or b.region == BucketRegion)
        and (not ContinuationToken or b.name > ContinuationToken)
    ]
    out: dict[str, Any] = {"Owner": names.owner(call.account)}
    if MaxBuckets is not None and len(found) > MaxBuckets:
        found = found[:MaxBuckets]
        out["ContinuationToken"] = found[-1].name
    out["Buckets"] = [
        {
            "Name": b.name,
            "CreationDate": b.created,
            "BucketRegion": b.region,
            "BucketArn": names.bucket_arn(b.name),
        }
        for b in found
    ]
    if Prefix:
        out["Prefix"] = Prefix
    return out


@service.operation(authorize=False)
def head_bucket(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:ListBucket", bucket)
    return {"BucketRegion": bucket.region, "BucketArn": names.bucket_arn(Bucket)}


@service.operation(authorize=False)
def get_bucket_location(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketLocation", bucket)
    return {"LocationConstraint": None if bucket.region == DEFAULT_REGION else bucket.region}


# -- tags ---------------------------------------------------------------------


def _tag_set(tagging: dict[str, Any] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in (tagging or {}).get("TagSet") or []:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if key in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
        if not key or len(key) > 128 or len(value) > 256 or key.startswith("aws:"):
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        tags[key] = value
    if len(tags) > 50:
        raise errors.InvalidTag("Bucket tag count cannot be greater than 50")
    return tags


@service.operation(authorize=False)
def put_bucket_tagging(call: Call, Bucket: str, Tagging: dict[str, Any], **_: Any) -> dict:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketTagging", bucket)
    buckets.set_fields(call.conn, Bucket, tags=_tag_set(Tagging))
    return {}


@service.operation(authorize=False)
def get_bucket_tagging(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketTagging", bucket)
    if not bucket.tags:
        raise errors.NoSuchTagSet("The TagSet does not exist", BucketName=Bucket)
    return {"TagSet": [{"Key": k, "Value": v} for k, v in bucket.tags.items()]}


@service.operation(authorize=False)
def delete_bucket_tagging(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketTagging", bucket)
    buckets.set_fields(call.conn, Bucket, tags={})
    return {}


# -- default encryption -----------------------------------------------------------


@service.operation(authorize=False)
def put_bucket_encryption(
    call: Call, Bucket: str, ServerSideEncryptionConfiguration: dict[str, Any], **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutEncryptionConfiguration", bucket)
    rules = ServerSideEncryptionConfiguration.get("Rules") or []
    if len(rules) != 1:
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = default.get("SSEAlgorithm")
    if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    if default.get("KMSMasterKeyID") and algorithm == "AES256":
        raise errors.InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms "
            "or aws:kms:dsse"
        )
    buckets.set_fields(
        call.conn,
        Bucket,
        encryption={"Rules": [rules[0]]},
        bucket_key=None,
        bucket_key_arn=None,
        bucket_key_until=None,
    )
    return {}


@service.operation(authorize=False)
def get_bucket_encryption(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetEncryptionConfiguration", bucket)
    config = bucket.encryption or {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": False,
            }
        ]
    }
    return {"ServerSideEncryptionConfiguration": config}


@service.operation(authorize=False)
def delete_bucket_encryption(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutEncryptionConfiguration", bucket)
    buckets.set_fields(call.conn, Bucket, encryption=None)
    return {}


# -- policies -----------------------------------------------------------------------


@service.operation(authorize=False)
def put_bucket_policy(call: Call, Bucket: str, Policy: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketPolicy", bucket)
    try:
        document = json_value(Policy)
    except ValueError:
        raise errors.MalformedPolicy(
            "Policies must be valid JSON and the first byte must be '{'"
        ) from None
    if not isinstance(document, dict) or not document.get("Statement"):
        raise errors.MalformedPolicy("Missing required field Statement")
    statements = document["Statement"]
    for st in statements if isinstance(statements, list) else [statements]:
        resources = st.get("Resource") if isinstance(st, dict) else None
        for res in [resources] if isinstance(resources, str) else resources or []:
            if not (
                res == names.bucket_arn(Bucket) or res.startswith(names.bucket_arn(Bucket) + "/")
            ):
                raise errors.MalformedPolicy("Policy has invalid resource")
    if is_public(document) and public_access.blocks(call.conn, bucket, "BlockPublicPolicy"):
        raise errors.AccessDenied(
            f"User: {call.principal.arn} is not authorized to perform: s3:PutBucketPolicy on "
            f'resource: "{names.bucket_arn(Bucket)}" because public policies are blocked by '
            "the BlockPublicPolicy block public access setting."
        )
    buckets.set_fields(call.conn, Bucket, policy=json_text(document))
    return {}


@service.operation(authorize=False)
def get_bucket_policy(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketPolicy", bucket)
    if bucket.policy is None:
        raise errors.NoSuchBucketPolicy("The bucket policy does not exist", BucketName=Bucket)
    return {"Policy": bucket.policy}


@service.operation(authorize=False)
def delete_bucket_policy(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:DeleteBucketPolicy", bucket)
    buckets.set_fields(call.conn, Bucket, policy=None)
    return {}


@service.operation(authorize=False)
def get_bucket_policy_status(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketPolicyStatus", bucket)
    if bucket.policy is None:
        raise errors.NoSuchBucketPolicy("The bucket policy does not exist", BucketName=Bucket)
    return {"PolicyStatus": {"IsPublic": is_public(json_value(bucket.policy))}}


# -- Block Public Access, CORS -----------------------------------------------------


@service.operation(authorize=False)
def put_public_access_block(
    call: Call, Bucket: str, PublicAccessBlockConfiguration: dict[str, Any], **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketPublicAccessBlock", bucket)
    config = {k: bool(PublicAccessBlockConfiguration.get(k, False)) for k in buckets.ALL_BLOCKED}
    buckets.set_fields(call.conn, Bucket, public_access_block=config)
    return {}


@service.operation(authorize=False)
def get_public_access_block(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketPublicAccessBlock", bucket)
    if bucket.public_access_block is None:
        raise errors.NoSuchPublicAccessBlockConfiguration(
            "The public access block configuration was not found", BucketName=Bucket
        )
    return {"PublicAccessBlockConfiguration": bucket.public_access_block}


@service.operation(authorize=False)
def delete_public_access_block(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketPublicAccessBlock", bucket)
    buckets.set_fields(call.conn, Bucket, public_access_block=None)
    return {}


_CORS_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})


@service.operation(authorize=False)
def put_bucket_cors(
    call: Call, Bucket: str, CORSConfiguration: dict[str, Any], **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketCORS", bucket)
    rules = CORSConfiguration.get("CORSRules") or []
    if not rules or len(rules) > 100:
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    for rule in rules:
        for method in rule.get("AllowedMethods") or []:
            if method not in _CORS_METHODS:
                raise errors.InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
    buckets.set_fields(call.conn, Bucket, cors=rules)
    return {}


@service.operation(authorize=False)
def get_bucket_cors(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketCORS", bucket)
    if not bucket.cors:
        raise errors.NoSuchCORSConfiguration(
            "The CORS configuration does not exist", BucketName=Bucket
        )
    return {"CORSRules": bucket.cors}


@service.operation(authorize=False)
def delete_bucket_cors(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketCORS", bucket)
    buckets.set_fields(call.conn, Bucket, cors=None)
    return {}


# -- notifications ---------------------------------------------------------------


@service.operation(authorize=False)
def put_bucket_notification_configuration(
    call: Call, Bucket: str, NotificationConfiguration: dict[str, Any], **_: Any
) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:PutBucketNotification", bucket)
    notifications.validate(NotificationConfiguration)
    config = {k: v for k, v in NotificationConfiguration.items() if v}
    buckets.set_fields(call.conn, Bucket, notifications=config or None)
    return {}


@service.operation(authorize=False)
def get_bucket_notification_configuration(call: Call, Bucket: str, **_: Any) -> dict[str, Any]:
    bucket = buckets.require(call.conn, Bucket)
    access.authorize(call, "s3:GetBucketNotification", bucket)
    return dict(bucket.notifications or {})
