"""Account isolation, for every listing operation served (issue 17, item 6).

Account A creates a resource of every kind the server holds (KMS keys,
aliases, grants, key policies, tags; IAM users, groups, roles, policies and
their versions, inline and attached policies, access keys; the CloudTrail
events all that leaves). Account B then calls EVERY served List*, Describe*,
Lookup* operation (and the Get* operations that list), and no answer may name
A's account id or any of A's resources.

The operations come from the server's registry, so a new one is covered or
this test fails: an operation with required members needs a recipe in
`RECIPES` (a few calls, each with what B passes and, for a call naming A's
resources, the errors AWS answers instead of A's data). An operation without
required members is called with none when it has no recipe. A new kind of
resource gets a creator in `CREATORS`, so that A owns one when B looks; a
Get* operation whose answer is a listing goes into `LISTING_GETS`.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name
from trail_helpers import make_trail_bucket

from strongroom.protocol.model import load_service_model
from strongroom.services.registry import served_services
from strongroom.testing import StrongroomServer, add_account

A = "111111111111"  # the account whose resources must stay invisible
B = "000000000000"  # the server's default account: the one that looks
LISTING_PREFIXES = ("List", "Describe", "Lookup")
#: Get* operations whose answer is a listing.
LISTING_GETS = {
    ("iam", "GetAccountAuthorizationDetails"),
    ("iam", "GetGroup"),
    ("logs", "GetLogEvents"),
    ("logs", "GetQueryResults"),
}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
NOT_FOUND = frozenset({"NoSuchEntity", "NotFoundException", "ResourceNotFoundException"})
REFUSED = frozenset({"AccessDenied", "AccessDeniedException"}) | NOT_FOUND
RDS_NOT_FOUND = frozenset({"DBInstanceNotFound", "DBSnapshotNotFound"})


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = doc({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"})


@dataclass
class Resources:
    """What one account created, by the names the recipes need."""

    account: str
    token: str
    user: str = ""
    user_arn: str = ""
    group: str = ""
    role: str = ""
    policy_arn: str = ""
    key_id: str = ""
    key_arn: str = ""
    alias: str = ""
    root: str = ""
    oidc_arn: str = ""
    saml_arn: str = ""
    instance_profile: str = ""
    mfa_serial: str = ""
    secret_name: str = ""
    secret_arn: str = ""
    function: str = ""
    function_arn: str = ""
    bucket: str = ""
    upload_key: str = ""
    upload: str = ""
    db: str = ""
    db_arn: str = ""
    db_dbi: str = ""
    db_snapshot: str = ""
    db_snapshot_arn: str = ""
    db_params: str = ""
    db_cluster: str = ""
    db_cluster_arn: str = ""
    db_cluster_snapshot: str = ""
    db_cluster_params: str = ""
    db_cluster_family: str = ""
    db_cluster_snapshot_arn: str = ""
    log_group: str = ""
    log_group_arn: str = ""
    query_id: str = ""
    trail_arn: str = ""
    export_task: str = ""
    alarm: str = ""
    alarm_arn: str = ""


@dataclass
class Probe:
    """One call B makes: `errors` None means it must answer, and its answer
    is scanned; otherwise it must fail with one of those codes."""

    kwargs: dict[str, Any]
    errors: frozenset[str] | None = None
    #: The request names A's resources (B's own trail then holds A's names,
    #: so these run after every scanned LookupEvents).
    names_other: bool = False


def ok(**kwargs: Any) -> Probe:
    return Probe(kwargs)


def refused(codes: frozenset[str], **kwargs: Any) -> Probe:
    return Probe(kwargs, codes, names_other=True)


def _rds_arn(r: Resources, kind: str, name: str) -> str:
    """The ARN of r's RDS resource of that kind: a field of `r` (parameter
    groups) or ``<token>-<name>`` (the option group, the cluster endpoint)."""
    ident = getattr(r, name, "") or f"{r.token}-{name}"
    return f"arn:aws:rds:us-east-1:{r.account}:{kind}:{ident}"


Recipe = Callable[[Resources, Resources], list[Probe]]


def _by_secret(a: Resources, b: Resources) -> list[Probe]:
    return [
        ok(SecretId=b.secret_name),
        ok(SecretId=b.secret_arn),
        refused(REFUSED, SecretId=a.secret_arn),
        refused(NOT_FOUND | {"ResourceNotFoundException"}, SecretId=a.secret_name),
    ]


def _by_bucket(a: Resources, b: Resources) -> list[Probe]:
    return [ok(Bucket=b.bucket), refused(frozenset({"AccessDenied"}), Bucket=a.bucket)]


def _by_user(op_errors: frozenset[str] = NOT_FOUND) -> Recipe:
    return lambda a, b: [ok(UserName=b.user), refused(op_errors, UserName=a.user)]


def _by_group() -> Recipe:
    return lambda a, b: [ok(GroupName=b.group), refused(NOT_FOUND, GroupName=a.group)]


def _by_role() -> Recipe:
    return lambda a, b: [ok(RoleName=b.role), refused(NOT_FOUND, RoleName=a.role)]


def _by_policy() -> Recipe:
    return lambda a, b: [ok(PolicyArn=b.policy_arn), refused(REFUSED, PolicyArn=a.policy_arn)]


def _by_key() -> Recipe:
    return lambda a, b: [
        ok(KeyId=b.key_id),
        refused(REFUSED, KeyId=a.key_arn),
        refused(NOT_FOUND, KeyId=a.key_id),
    ]


#: (service, operation) → the calls B makes. Add one for each new listing
#: operation with required members (or whose optional members filter by a
#: resource another account could own).
RECIPES: dict[tuple[str, str], Recipe] = {
    # ----------------------------------------------------------------- IAM
    ("iam", "GetGroup"): _by_group(),
    ("iam", "ListAttachedGroupPolicies"): _by_group(),
    ("iam", "ListGroupPolicies"): _by_group(),
    ("iam", "ListAttachedRolePolicies"): _by_role(),
    ("iam", "ListRolePolicies"): _by_role(),
    ("iam", "ListRoleTags"): _by_role(),
    ("iam", "ListAttachedUserPolicies"): _by_user(),
    ("iam", "ListGroupsForUser"): _by_user(),
    ("iam", "ListUserPolicies"): _by_user(),
    ("iam", "ListUserTags"): _by_user(),
    ("iam", "ListAccessKeys"): lambda a, b: [
        ok(),
        ok(UserName=b.user),
        refused(NOT_FOUND, UserName=a.user),
    ],
    ("iam", "ListPolicyTags"): _by_policy(),
    ("iam", "ListPolicyVersions"): _by_policy(),
    ("iam", "ListEntitiesForPolicy"): lambda a, b: [
        ok(PolicyArn=b.policy_arn),
        # A attached this AWS managed policy; B must not see A's entities.
        ok(PolicyArn=READ_ONLY),
        refused(REFUSED, PolicyArn=a.policy_arn),
    ],
    ("iam", "ListPolicies"): lambda a, b: [
        ok(),
        ok(Scope="Local"),
        ok(Scope="All", OnlyAttached=True),
    ],
    ("iam", "GetAccountAuthorizationDetails"): lambda a, b: [ok()],
    ("iam", "ListMFADevices"): _by_user(),
    ("iam", "ListSSHPublicKeys"): _by_user(),
    ("iam", "ListInstanceProfileTags"): lambda a, b: [
        ok(InstanceProfileName=b.instance_profile),
        refused(NOT_FOUND, InstanceProfileName=a.instance_profile),
    ],
    ("iam", "ListInstanceProfilesForRole"): _by_role(),
    ("iam", "ListMFADeviceTags"): lambda a, b: [
        ok(SerialNumber=b.mfa_serial),
        refused(REFUSED, SerialNumber=a.mfa_serial),
    ],
    ("iam", "ListOpenIDConnectProviderTags"): lambda a, b: [
        ok(OpenIDConnectProviderArn=b.oidc_arn),
        refused(REFUSED | NOT_FOUND, OpenIDConnectProviderArn=a.oidc_arn),
    ],
    ("iam", "ListSAMLProviderTags"): lambda a, b: [
        ok(SAMLProviderArn=b.saml_arn),
        refused(REFUSED | NOT_FOUND, SAMLProviderArn=a.saml_arn),
    ],
    # ----------------------------------------------------------------- KMS
    ("kms", "DescribeKey"): lambda a, b: [
        ok(KeyId=b.key_id),
        ok(KeyId=b.alias),
        refused(REFUSED, KeyId=a.key_arn),
        refused(NOT_FOUND, KeyId=a.key_id),
        refused(NOT_FOUND, KeyId=a.alias),
    ],
    ("kms", "ListGrants"): _by_key(),
    ("kms", "ListKeyPolicies"): _by_key(),
    ("kms", "ListKeyRotations"): _by_key(),
    ("kms", "ListResourceTags"): _by_key(),
    ("kms", "ListAliases"): lambda a, b: [
        ok(),
        ok(KeyId=b.key_id),
        # Another account's key: no aliases of it (AWS lists the caller's only).
        Probe({"KeyId": a.key_arn}, names_other=True),
    ],
    ("kms", "ListRetirableGrants"): lambda a, b: [
        ok(RetiringPrincipal=b.root),
        ok(RetiringPrincipal=b.user_arn),
        # A principal of another account: refused, not that account's grants.
        refused(REFUSED, RetiringPrincipal=a.root),
        refused(REFUSED, RetiringPrincipal=a.user_arn),
    ],
    # ------------------------------------------------------ Secrets Manager
    ("secretsmanager", "DescribeSecret"): lambda a, b: _by_secret(a, b),
    ("secretsmanager", "ListSecretVersionIds"): lambda a, b: _by_secret(a, b),
    # -------------------------------------------------------------- Lambda
    ("lambda", "ListFunctions"): lambda a, b: [ok(), ok(FunctionVersion="ALL")],
    ("lambda", "ListAliases"): lambda a, b: [
        ok(FunctionName=b.function),
        refused(REFUSED, FunctionName=a.function_arn),
        refused(NOT_FOUND, FunctionName=a.function),
    ],
    ("lambda", "ListVersionsByFunction"): lambda a, b: [
        ok(FunctionName=b.function),
        refused(REFUSED, FunctionName=a.function_arn),
        refused(NOT_FOUND, FunctionName=a.function),
    ],
    ("lambda", "ListTags"): lambda a, b: [
        ok(Resource=b.function_arn),
        refused(REFUSED, Resource=a.function_arn),
    ],
    # ------------------------------------------------------------------ S3
    ("s3", "ListObjects"): lambda a, b: _by_bucket(a, b),
    ("s3", "ListObjectsV2"): lambda a, b: _by_bucket(a, b),
    ("s3", "ListObjectVersions"): lambda a, b: _by_bucket(a, b),
    ("s3", "ListMultipartUploads"): lambda a, b: _by_bucket(a, b),
    ("s3", "ListParts"): lambda a, b: [
        ok(Bucket=b.bucket, Key=b.upload_key, UploadId=b.upload),
        refused(frozenset({"AccessDenied"}), Bucket=a.bucket, Key=a.upload_key, UploadId=a.upload),
    ],
    # ----------------------------------------------------------------- RDS
    ("rds", "DescribeDBInstances"): lambda a, b: [
        ok(),
        ok(DBInstanceIdentifier=b.db),
        Probe(
            {"Filters": [{"Name": "db-instance-id", "Values": [a.db, a.db_arn]}]}, names_other=True
        ),
        refused(RDS_NOT_FOUND, DBInstanceIdentifier=a.db),
        refused(RDS_NOT_FOUND, DBInstanceIdentifier=a.db_arn),
    ],
    ("rds", "DescribeDBSnapshots"): lambda a, b: [
        ok(),
        ok(DBSnapshotIdentifier=b.db_snapshot),
        Probe({"DBInstanceIdentifier": a.db}, names_other=True),
        refused(RDS_NOT_FOUND, DBSnapshotIdentifier=a.db_snapshot),
        refused(RDS_NOT_FOUND, DBSnapshotIdentifier=a.db_snapshot_arn),
    ],
    ("rds", "DescribeDBClusters"): lambda a, b: [
        ok(),
        ok(DBClusterIdentifier=b.db_cluster),
        Probe(
            {"Filters": [{"Name": "db-cluster-id", "Values": [a.db_cluster, a.db_cluster_arn]}]},
            names_other=True,
        ),
        refused(frozenset({"DBClusterNotFoundFault"}), DBClusterIdentifier=a.db_cluster),
        refused(frozenset({"DBClusterNotFoundFault"}), DBClusterIdentifier=a.db_cluster_arn),
    ],
    ("rds", "DescribeOptionGroupOptions"): lambda a, b: [ok(EngineName="postgres")],
    ("rds", "DescribeOptionGroups"): lambda a, b: [
        ok(),
        ok(EngineName="mysql"),
        refused(frozenset({"OptionGroupNotFoundFault"}), OptionGroupName=f"{a.token}-og"),
    ],
    ("rds", "DescribeDBClusterEndpoints"): lambda a, b: [
        ok(),
        ok(DBClusterIdentifier=b.db_cluster),
        Probe({"DBClusterEndpointIdentifier": f"{a.token}-ep"}, names_other=True),
        refused(frozenset({"DBClusterNotFoundFault"}), DBClusterIdentifier=a.db_cluster),
        refused(frozenset({"DBClusterNotFoundFault"}), DBClusterIdentifier=a.db_cluster_arn),
    ],
    ("rds", "DescribeDBClusterSnapshots"): lambda a, b: [
        ok(),
        ok(DBClusterSnapshotIdentifier=b.db_cluster_snapshot),
        Probe({"DBClusterIdentifier": a.db_cluster}, names_other=True),
        refused(
            frozenset({"DBClusterSnapshotNotFoundFault"}),
            DBClusterSnapshotIdentifier=a.db_cluster_snapshot,
        ),
        refused(
            frozenset({"DBClusterSnapshotNotFoundFault"}),
            DBClusterSnapshotIdentifier=a.db_cluster_snapshot_arn,
        ),
    ],
    ("rds", "DescribeDBClusterParameterGroups"): lambda a, b: [
        ok(),
        ok(DBClusterParameterGroupName=b.db_cluster_params),
        refused(
            frozenset({"DBParameterGroupNotFound"}), DBClusterParameterGroupName=a.db_cluster_params
        ),
    ],
    ("rds", "DescribeDBClusterParameters"): lambda a, b: [
        ok(DBClusterParameterGroupName=b.db_cluster_params),
        refused(
            frozenset({"DBParameterGroupNotFound"}), DBClusterParameterGroupName=a.db_cluster_params
        ),
    ],
    ("rds", "DescribeEngineDefaultClusterParameters"): lambda a, b: [
        ok(DBParameterGroupFamily=b.db_cluster_family),
    ],
    ("rds", "DescribeDBInstanceAutomatedBackups"): lambda a, b: [
        ok(),
        Probe(
            {"Filters": [{"Name": "db-instance-id", "Values": [a.db, a.db_arn]}]}, names_other=True
        ),
        refused(frozenset({"DBInstanceAutomatedBackupNotFound"}), DbiResourceId=a.db_dbi),
        refused(frozenset({"DBInstanceAutomatedBackupNotFound"}), DBInstanceIdentifier=a.db),
    ],
    ("rds", "DescribeDBLogFiles"): lambda a, b: [
        ok(DBInstanceIdentifier=b.db),
        refused(RDS_NOT_FOUND, DBInstanceIdentifier=a.db),
    ],
    ("rds", "DescribeDBSnapshotAttributes"): lambda a, b: [
        ok(DBSnapshotIdentifier=b.db_snapshot),
        refused(RDS_NOT_FOUND, DBSnapshotIdentifier=a.db_snapshot),
    ],
    ("rds", "DescribeDBParameterGroups"): lambda a, b: [
        ok(),
        ok(DBParameterGroupName=b.db_params),
        refused(frozenset({"DBParameterGroupNotFound"}), DBParameterGroupName=a.db_params),
    ],
    ("rds", "DescribeDBParameters"): lambda a, b: [
        ok(DBParameterGroupName=b.db_params),
        refused(frozenset({"DBParameterGroupNotFound"}), DBParameterGroupName=a.db_params),
    ],
    ("rds", "DescribeEngineDefaultParameters"): lambda a, b: [
        ok(DBParameterGroupFamily="mysql8.0"),
    ],
    ("rds", "DescribeEvents"): lambda a, b: [
        ok(),
        Probe({"SourceType": "db-instance", "SourceIdentifier": a.db}, names_other=True),
    ],
    ("rds", "ListTagsForResource"): lambda a, b: [
        ok(ResourceName=b.db_arn),
        ok(ResourceName=b.db_snapshot_arn),
        refused(REFUSED | RDS_NOT_FOUND, ResourceName=a.db_arn),
        refused(REFUSED | RDS_NOT_FOUND, ResourceName=a.db_snapshot_arn),
        ok(ResourceName=b.db_cluster_arn),
        refused(REFUSED | {"DBClusterNotFoundFault"}, ResourceName=a.db_cluster_arn),
        ok(ResourceName=b.db_cluster_snapshot_arn),
        refused(
            REFUSED | {"DBClusterSnapshotNotFoundFault"}, ResourceName=a.db_cluster_snapshot_arn
        ),
        *[
            probe
            for kind, name, missing in (
                ("pg", "db_params", "DBParameterGroupNotFound"),
                ("cluster-pg", "db_cluster_params", "DBParameterGroupNotFound"),
                ("og", "og", "OptionGroupNotFoundFault"),
                ("cluster-endpoint", "ep", "DBClusterEndpointNotFoundFault"),
            )
            for probe in (
                ok(ResourceName=_rds_arn(b, kind, name)),
                refused(REFUSED | {missing}, ResourceName=_rds_arn(a, kind, name)),
            )
        ],
    ],
    # ------------------------------------------------------ CloudWatch Logs
    ("logs", "DescribeLogStreams"): lambda a, b: [
        ok(logGroupName=b.log_group),
        ok(logGroupIdentifier=b.log_group_arn),
        refused(NOT_FOUND, logGroupName=a.log_group),
        refused(REFUSED, logGroupIdentifier=a.log_group_arn),
    ],
    ("logs", "GetLogEvents"): lambda a, b: [
        ok(logGroupName=b.log_group, logStreamName=b.token),
        refused(NOT_FOUND, logGroupName=a.log_group, logStreamName=a.token),
        refused(REFUSED, logGroupIdentifier=a.log_group_arn, logStreamName=a.token),
    ],
    ("logs", "ListTagsLogGroup"): lambda a, b: [
        ok(logGroupName=b.log_group),
        refused(NOT_FOUND, logGroupName=a.log_group),
    ],
    ("logs", "ListTagsForResource"): lambda a, b: [
        ok(resourceArn=b.log_group_arn),
        refused(REFUSED, resourceArn=a.log_group_arn),
    ],
    ("logs", "DescribeMetricFilters"): lambda a, b: [
        ok(),
        ok(logGroupName=b.log_group),
        refused(NOT_FOUND, logGroupName=a.log_group),
    ],
    ("logs", "DescribeSubscriptionFilters"): lambda a, b: [
        ok(logGroupName=b.log_group),
        refused(NOT_FOUND, logGroupName=a.log_group),
    ],
    ("logs", "DescribeResourcePolicies"): lambda a, b: [
        ok(),
        ok(policyScope="RESOURCE"),
        ok(resourceArn=b.log_group_arn),
        refused(REFUSED, resourceArn=a.log_group_arn),
    ],
    ("logs", "DescribeAccountPolicies"): lambda a, b: [
        ok(policyType="DATA_PROTECTION_POLICY"),
        ok(policyType="DATA_PROTECTION_POLICY", accountIdentifiers=[b.account]),
    ],
    ("logs", "DescribeDestinations"): lambda a, b: [
        ok(),
        ok(DestinationNamePrefix=b.token),
    ],
    ("logs", "GetQueryResults"): lambda a, b: [
        ok(queryId=b.query_id),
        refused(NOT_FOUND, queryId=a.query_id),
    ],
    ("logs", "DescribeExportTasks"): lambda a, b: [
        ok(),
        ok(taskId=b.export_task),
        Probe({"taskId": a.export_task}, names_other=True),
    ],
    # ----------------------------------------------------------- CloudWatch
    ("cloudwatch", "DescribeAlarmsForMetric"): lambda a, b: [
        ok(MetricName=b.token, Namespace=b.token),
        Probe({"MetricName": a.token, "Namespace": a.token}, names_other=True),
    ],
    ("cloudwatch", "ListTagsForResource"): lambda a, b: [
        ok(ResourceARN=b.alarm_arn),
        refused(REFUSED, ResourceARN=a.alarm_arn),
    ],
    # ----------------------------------------------------------- CloudTrail
    ("cloudtrail", "ListTags"): lambda a, b: [
        ok(ResourceIdList=[b.trail_arn]),
        refused(NOT_FOUND, ResourceIdList=[a.trail_arn]),
    ],
    ("cloudtrail", "LookupEvents"): lambda a, b: [
        ok(),
        Probe(
            {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": a.user}]},
            names_other=True,
        ),
        Probe(
            {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": a.key_arn}]},
            names_other=True,
        ),
        Probe(
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}
                ]
            }
        ),
    ],
}


def listing_operations() -> list[tuple[str, str]]:
    """Every listing operation the server serves, from its registry."""
    return sorted(
        (svc.name, op)
        for svc in served_services()
        for op in svc.operations
        if op.startswith(LISTING_PREFIXES) or (svc.name, op) in LISTING_GETS
    )


def required_members(service: str, operation: str) -> list[str]:
    shape = load_service_model(service).operation_model(operation).input_shape
    return list(shape.required_members) if shape is not None else []


def probes_for(service: str, operation: str, a: Resources, b: Resources) -> list[Probe] | None:
    recipe = RECIPES.get((service, operation))
    if recipe is not None:
        return recipe(a, b)
    if required_members(service, operation):
        return None
    return [ok()]


# --------------------------------------------------------------------------- setup


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[StrongroomServer, dict[str, str]]]:
    """One data directory, two accounts: a first start with ``--account A``
    creates A's root key, then the server runs with the default account B."""
    with tempfile.TemporaryDirectory(prefix="strongroom-iso-") as data_dir:
        other = add_account(data_dir, A)
        with StrongroomServer(data_dir) as srv:
            yield srv, other


def populate(clients: Callable[[str], Any], account: str, token: str) -> Resources:
    """Create one of everything in `account`, every name carrying `token`."""
    r = Resources(account=account, token=token, root=f"arn:aws:iam::{account}:root")
    iam, kms = clients("iam"), clients("kms")
    tags = [{"Key": token, "Value": token}]
    r.user = f"{token}-user"
    r.user_arn = iam.create_user(UserName=r.user, Tags=tags)["User"]["Arn"]
    iam.create_access_key(UserName=r.user)
    iam.put_user_policy(UserName=r.user, PolicyName=f"{token}-inline", PolicyDocument=ALLOW_ALL)
    r.group = f"{token}-group"
    iam.create_group(GroupName=r.group)
    iam.add_user_to_group(GroupName=r.group, UserName=r.user)
    iam.put_group_policy(GroupName=r.group, PolicyName=f"{token}-inline", PolicyDocument=ALLOW_ALL)
    r.role = f"{token}-role"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": r.root}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=r.role, AssumeRolePolicyDocument=trust, Tags=tags)
    iam.put_role_policy(RoleName=r.role, PolicyName=f"{token}-inline", PolicyDocument=ALLOW_ALL)
    r.policy_arn = iam.create_policy(
        PolicyName=f"{token}-policy", PolicyDocument=ALLOW_ALL, Tags=tags, Description=token
    )["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=r.policy_arn, PolicyDocument=ALLOW_ALL)
    for attach, kw in (
        (iam.attach_user_policy, {"UserName": r.user}),
        (iam.attach_group_policy, {"GroupName": r.group}),
        (iam.attach_role_policy, {"RoleName": r.role}),
    ):
        attach(PolicyArn=r.policy_arn, **kw)
    if account == A:
        iam.attach_user_policy(UserName=r.user, PolicyArn=READ_ONLY)
    policy = doc(
        {"Sid": token, "Effect": "Allow", "Principal": {"AWS": r.root},
         "Action": "kms:*", "Resource": "*"}
    )  # fmt: skip
    key = kms.create_key(
        Description=token, Policy=policy, Tags=[{"TagKey": token, "TagValue": token}]
    )["KeyMetadata"]
    r.key_id, r.key_arn = key["KeyId"], key["Arn"]
    kms.put_key_policy(KeyId=r.key_id, PolicyName="default", Policy=policy)
    kms.enable_key_rotation(KeyId=r.key_id)
    kms.rotate_key_on_demand(KeyId=r.key_id)
    r.alias = f"alias/{token}"
    kms.create_alias(AliasName=r.alias, TargetKeyId=r.key_id)
    for retiring in (r.root, r.user_arn):
        kms.create_grant(
            KeyId=r.key_id,
            GranteePrincipal=r.user_arn,
            RetiringPrincipal=retiring,
            Operations=["Encrypt", "Decrypt"],
            Name=token,
        )
    for create in CREATORS:
        create(clients, r)
    return r


#: More resource kinds: ``create(clients, resources)`` makes one in the
#: account, every name carrying ``resources.token``. A new service or a new
#: kind of resource adds its creator here (and a recipe above when its
#: listing operation has required members), so A owns one when B looks.
def _asymmetric_keys(clients: Callable[[str], Any], r: Resources) -> None:
    kms = clients("kms")
    kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description=r.token)
    kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT", Description=r.token)


def _identity_providers(clients: Callable[[str], Any], r: Resources) -> None:
    from idp import metadata

    iam = clients("iam")
    tags = [{"Key": r.token, "Value": r.token}]
    r.oidc_arn = iam.create_open_id_connect_provider(
        Url=f"https://{r.token}.example.com", ClientIDList=[r.token], ThumbprintList=["a" * 40],
        Tags=tags,
    )["OpenIDConnectProviderArn"]  # fmt: skip
    r.saml_arn = iam.create_saml_provider(
        Name=f"{r.token}-saml", SAMLMetadataDocument=metadata(), Tags=tags
    )["SAMLProviderArn"]


def _user_credentials(clients: Callable[[str], Any], r: Resources) -> None:
    iam = clients("iam")
    tags = [{"Key": r.token, "Value": r.token}]
    r.instance_profile = f"{r.token}-profile"
    iam.create_instance_profile(InstanceProfileName=r.instance_profile, Tags=tags)
    iam.add_role_to_instance_profile(InstanceProfileName=r.instance_profile, RoleName=r.role)
    r.mfa_serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{r.token}-mfa", Tags=tags)[
        "VirtualMFADevice"
    ]["SerialNumber"]
    iam.create_service_specific_credential(UserName=r.user, ServiceName="codecommit.amazonaws.com")
    iam.create_account_alias(AccountAlias=f"{r.token}-alias")
    iam.create_login_profile(UserName=r.user, Password="Aa1!" + r.token)


def _secrets(clients: Callable[[str], Any], r: Resources) -> None:
    sm = clients("secretsmanager")
    tags = [{"Key": r.token, "Value": r.token}]
    r.secret_name = f"{r.token}/secret"
    r.secret_arn = sm.create_secret(
        Name=r.secret_name, SecretString=r.token, Description=r.token, Tags=tags
    )["ARN"]
    sm.put_secret_value(SecretId=r.secret_arn, SecretString=r.token, VersionStages=[r.token])


def _functions(clients: Callable[[str], Any], r: Resources) -> None:
    import io
    import zipfile

    iam, lam = clients("iam"), clients("lambda")
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    role_arn = iam.create_role(RoleName=f"{r.token}-fn-role", AssumeRolePolicyDocument=trust)[
        "Role"
    ]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("lambda_function.py", f"TOKEN = {r.token!r}\n")
    r.function = f"{r.token}-fn"
    r.function_arn = lam.create_function(
        FunctionName=r.function,
        Runtime="python3.11",
        Role=role_arn,
        Handler="lambda_function.handler",
        Code={"ZipFile": buf.getvalue()},
        Description=r.token,
        Environment={"Variables": {"TOKEN": r.token}},
        Tags={r.token: r.token},
        Publish=True,
    )["FunctionArn"].rsplit(":", 1)[0]
    lam.create_alias(FunctionName=r.function, Name=f"{r.token}-alias", FunctionVersion="1")
    lam.add_permission(
        FunctionName=r.function,
        StatementId=r.token,
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    )


def _buckets(clients: Callable[[str], Any], r: Resources) -> None:
    s3 = clients("s3")
    r.bucket = f"{r.token}-bucket"
    s3.create_bucket(Bucket=r.bucket)
    s3.put_bucket_versioning(Bucket=r.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=r.bucket, Key=f"{r.token}/object", Body=r.token.encode())
    r.upload_key = f"{r.token}/upload"
    r.upload = s3.create_multipart_upload(Bucket=r.bucket, Key=r.upload_key)["UploadId"]
    s3.upload_part(Bucket=r.bucket, Key=r.upload_key, UploadId=r.upload, PartNumber=1, Body=b"x")


def _databases(clients: Callable[[str], Any], r: Resources) -> None:
    """A DB instance (a control-plane-only engine: no server to start) and
    a snapshot of it."""
    rds = clients("rds")
    tags = [{"Key": r.token, "Value": r.token}]
    r.db = f"{r.token}-db"
    r.db_arn = rds.create_db_instance(
        DBInstanceIdentifier=r.db, Engine="mysql", DBInstanceClass="db.t3.micro",
        MasterUsername=r.token, MasterUserPassword="Pass-" + r.token, AllocatedStorage=20,
        DBName=r.token, Tags=tags,
    )["DBInstance"]["DBInstanceArn"]  # fmt: skip
    deadline = time.monotonic() + 30
    while (
        rds.describe_db_instances(DBInstanceIdentifier=r.db)["DBInstances"][0]["DBInstanceStatus"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r.db_dbi = rds.describe_db_instances(DBInstanceIdentifier=r.db)["DBInstances"][0][
        "DbiResourceId"
    ]
    r.db_params = f"{r.token}-params"
    rds.create_db_parameter_group(
        DBParameterGroupName=r.db_params, DBParameterGroupFamily="mysql8.0", Description=r.token
    )
    r.db_snapshot = f"{r.token}-snap"
    r.db_snapshot_arn = rds.create_db_snapshot(
        DBInstanceIdentifier=r.db, DBSnapshotIdentifier=r.db_snapshot, Tags=tags
    )["DBSnapshot"]["DBSnapshotArn"]
    r.db_cluster_family = (
        "aurora-postgresql"
        + rds.describe_db_engine_versions(Engine="aurora-postgresql")["DBEngineVersions"][-1][
            "EngineVersion"
        ].split(".")[0]
    )
    r.db_cluster_params = f"{r.token}-cluster-params"
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=r.db_cluster_params,
        DBParameterGroupFamily=r.db_cluster_family,
        Description=r.token,
    )
    # An Aurora cluster with no instances (no engine runs for it).
    r.db_cluster = f"{r.token}-cluster"
    r.db_cluster_arn = rds.create_db_cluster(
        DBClusterIdentifier=r.db_cluster, Engine="aurora-postgresql", MasterUsername=r.token,
        MasterUserPassword="Pass-" + r.token, DatabaseName=r.token, Tags=tags,
    )["DBCluster"]["DBClusterArn"]  # fmt: skip
    # Its snapshot holds a writer's data: a real writer (one engine).
    rds.create_db_instance(
        DBInstanceIdentifier=f"{r.token}-writer", DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql", DBClusterIdentifier=r.db_cluster,
    )  # fmt: skip
    while (
        rds.describe_db_instances(DBInstanceIdentifier=f"{r.token}-writer")["DBInstances"][0][
            "DBInstanceStatus"
        ]
        != "available"
    ):
        assert time.monotonic() < deadline + 60
        time.sleep(0.05)
    rds.create_option_group(
        OptionGroupName=f"{r.token}-og", EngineName="mysql", MajorEngineVersion="8.0",
        OptionGroupDescription=r.token, Tags=tags,
    )  # fmt: skip
    rds.create_db_cluster_endpoint(
        DBClusterIdentifier=r.db_cluster, DBClusterEndpointIdentifier=f"{r.token}-ep",
        EndpointType="ANY",
    )  # fmt: skip
    r.db_cluster_snapshot = f"{r.token}-cluster-snap"
    r.db_cluster_snapshot_arn = rds.create_db_cluster_snapshot(
        DBClusterIdentifier=r.db_cluster, DBClusterSnapshotIdentifier=r.db_cluster_snapshot,
        Tags=tags,
    )["DBClusterSnapshot"]["DBClusterSnapshotArn"]  # fmt: skip


def _log_groups(clients: Callable[[str], Any], r: Resources) -> None:
    logs = clients("logs")
    r.log_group = f"/{r.token}/group"
    logs.create_log_group(logGroupName=r.log_group, tags={r.token: r.token})
    r.log_group_arn = f"arn:aws:logs:us-east-1:{r.account}:log-group:{r.log_group}"
    logs.create_log_stream(logGroupName=r.log_group, logStreamName=r.token)
    now = int(time.time())
    logs.put_log_events(
        logGroupName=r.log_group,
        logStreamName=r.token,
        logEvents=[{"timestamp": now * 1000, "message": r.token}],
    )
    r.query_id = logs.start_query(
        logGroupName=r.log_group,
        startTime=now - 60,
        endTime=now + 60,
        queryString="fields @message",
    )["queryId"]
    logs.put_query_definition(name=r.token, queryString=f"fields {r.token}")
    logs.put_metric_filter(
        logGroupName=r.log_group,
        filterName=r.token,
        filterPattern=r.token,
        metricTransformations=[
            {"metricName": r.token, "metricNamespace": r.token, "metricValue": "1"}
        ],
    )


def _export_tasks(clients: Callable[[str], Any], r: Resources) -> None:
    """An export of the account's log group into a bucket of its own."""
    s3, logs = clients("s3"), clients("logs")
    bucket = f"{r.token}-exports"
    s3.create_bucket(Bucket=bucket)
    logs_principal = {"Service": "logs.us-east-1.amazonaws.com"}
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            {"Effect": "Allow", "Principal": logs_principal, "Action": "s3:GetBucketAcl",
             "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Principal": logs_principal, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"},
        ),
    )  # fmt: skip
    r.export_task = logs.create_export_task(
        taskName=r.token, logGroupName=r.log_group, fromTime=0,
        to=int(time.time() * 1000), destination=bucket, destinationPrefix=r.token,
    )["taskId"]  # fmt: skip


def _log_subscriptions(clients: Callable[[str], Any], r: Resources) -> None:
    lam = clients("lambda")
    lam.get_waiter("function_active_v2").wait(FunctionName=r.function)
    lam.add_permission(
        FunctionName=r.function,
        StatementId=f"{r.token}-logs",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn=f"{r.log_group_arn}:*",
    )
    clients("logs").put_subscription_filter(
        logGroupName=r.log_group, filterName=r.token, filterPattern=r.token,
        destinationArn=r.function_arn,
    )  # fmt: skip
    statement = {"Effect": "Allow", "Principal": {"Service": f"{r.token}.amazonaws.com"},
                 "Action": "logs:PutLogEvents", "Resource": f"{r.log_group_arn}:*"}  # fmt: skip
    clients("logs").put_resource_policy(
        policyName=r.token, policyDocument=json.dumps({"Statement": [statement]})
    )
    clients("logs").put_resource_policy(
        resourceArn=r.log_group_arn, policyDocument=json.dumps({"Statement": [statement]})
    )
    clients("logs").put_destination(
        destinationName=r.token, targetArn=f"arn:aws:kinesis:us-east-1:{r.account}:stream/{r.token}",
        roleArn=f"arn:aws:iam::{r.account}:role/{r.token}",
    )  # fmt: skip
    ident = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
    clients("logs").put_account_policy(
        policyName=r.token, policyType="DATA_PROTECTION_POLICY",
        policyDocument=json.dumps({"Version": "2021-06-01", "Statement": [
            {"DataIdentifier": [ident], "Operation": {"Audit": {"FindingsDestination": {}}}},
            {"DataIdentifier": [ident], "Operation": {"Deidentify": {"MaskConfig": {}}}},
        ]}),
    )  # fmt: skip


def _metrics_and_alarms(clients: Callable[[str], Any], r: Resources) -> None:
    cw = clients("cloudwatch")
    cw.put_metric_data(
        Namespace=r.token,
        MetricData=[{"MetricName": r.token, "Value": 1.0,
                     "Dimensions": [{"Name": r.token, "Value": r.token}]}],
    )  # fmt: skip
    r.alarm = f"{r.token}-alarm"
    r.alarm_arn = f"arn:aws:cloudwatch:us-east-1:{r.account}:alarm:{r.alarm}"
    cw.put_metric_alarm(
        AlarmName=r.alarm, Namespace=r.token, MetricName=r.token, Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[f"arn:aws:sns:us-east-1:{r.account}:{r.token}"],
        Tags=[{"Key": r.token, "Value": r.token}],
    )  # fmt: skip
    cw.set_alarm_state(AlarmName=r.alarm, StateValue="ALARM", StateReason=r.token)


def _trails(clients: Callable[[str], Any], r: Resources) -> None:
    ct = clients("cloudtrail")
    bucket = make_trail_bucket(clients("s3"), f"{r.token}-trail-bucket", r.account)
    r.trail_arn = ct.create_trail(
        Name=f"t{r.token}-trail",
        S3BucketName=bucket,
        S3KeyPrefix=r.token,
        IsMultiRegionTrail=True,
        TagsList=[{"Key": r.token, "Value": r.token}],
    )["TrailARN"]
    ct.put_event_selectors(TrailName=r.trail_arn, EventSelectors=[{"ReadWriteType": "ReadOnly"}])


CREATORS: list[Callable[[Callable[[str], Any], Resources], None]] = [
    _asymmetric_keys,
    _identity_providers,
    _user_credentials,
    _secrets,
    _functions,
    _buckets,
    _databases,
    _log_groups,
    _export_tasks,
    _log_subscriptions,
    _metrics_and_alarms,
    _trails,
]


@dataclass
class World:
    server: StrongroomServer
    other: dict[str, str]
    a: Resources
    b: Resources
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, account: str, service: str) -> Any:
        if (account, service) not in self.clients:
            kw = self.other if account == A else {}
            self.clients[(account, service)] = self.server.client(service, **kw)
        return self.clients[(account, service)]


@pytest.fixture(scope="module")
def world(server) -> World:
    srv, other = server
    w = World(srv, other, Resources(A, ""), Resources(B, ""))
    w.a = populate(lambda s: w.client(A, s), A, "isoa" + uuid.uuid4().hex[:8])
    w.b = populate(lambda s: w.client(B, s), B, "isob" + uuid.uuid4().hex[:8])
    return w


def call(client: Any, operation: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of one call's answer."""
    method = xform_name(operation)
    if client.can_paginate(method):
        return [
            {k: v for k, v in page.items() if k != "ResponseMetadata"}
            for page in client.get_paginator(method).paginate(**kwargs)
        ]
    out = getattr(client, method)(**kwargs)
    out.pop("ResponseMetadata", None)
    return [out]


def leaks(pages: list[dict[str, Any]], a: Resources) -> list[str]:
    text = json.dumps(pages, default=str)
    return [marker for marker in (a.account, a.token) if marker in text]


# --------------------------------------------------------------------------- tests


def test_every_listing_operation_has_coverage() -> None:
    """A listing operation with required members needs a recipe here."""
    dummy = Resources(A, "t")
    uncovered = [
        f"{svc}:{op} (requires {required_members(svc, op)})"
        for svc, op in listing_operations()
        if probes_for(svc, op, dummy, dummy) is None
    ]
    assert not uncovered, "add a recipe to RECIPES for: " + ", ".join(uncovered)
    stale = set(RECIPES) - set(listing_operations())
    assert not stale, f"recipes for operations not served: {sorted(stale)}"


def test_the_markers_are_visible_to_their_own_account(world: World) -> None:
    """The check below means something: A's own listings show A's markers."""
    a = world.a
    users = call(world.client(A, "iam"), "ListUsers", {})
    assert a.token in json.dumps(users, default=str)
    grants = call(world.client(A, "kms"), "ListRetirableGrants", {"RetiringPrincipal": a.root})
    assert a.token in json.dumps(grants, default=str)
    deadline = time.monotonic() + 15
    while True:  # audit events are durable within a fraction of a second
        events = call(world.client(A, "cloudtrail"), "LookupEvents", {})
        if a.token in json.dumps(events, default=str) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert a.token in json.dumps(events, default=str)


def _phase(operation: str, probe: Probe) -> int:
    """Scanned answers first, LookupEvents last of them; then calls naming A's
    resources, which B's own trail records (and may show: B asked)."""
    if probe.errors is not None:
        return 4
    lookup = operation == "LookupEvents"
    if probe.names_other:
        return 2 if lookup else 3
    return 1 if lookup else 0


def test_another_account_sees_nothing(world: World) -> None:
    a, b = world.a, world.b
    planned: list[tuple[str, str, Probe]] = []
    for svc, op in listing_operations():
        for probe in probes_for(svc, op, a, b) or []:
            planned.append((svc, op, probe))
    planned.sort(key=lambda p: _phase(p[1], p[2]))
    failures: list[str] = []
    for svc, op, probe in planned:
        client = world.client(B, svc)
        label = f"{svc}:{op}({probe.kwargs})"
        try:
            pages = call(client, op, probe.kwargs)
        except botocore.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            if probe.errors is None or code not in probe.errors:
                failures.append(f"{label} failed: {code} {exc.response['Error'].get('Message')}")
            continue
        if probe.errors is not None:
            failures.append(f"{label} answered instead of {sorted(probe.errors)}: {pages}")
            continue
        found = leaks(pages, a)
        if found:
            failures.append(f"{label} shows {found}")
    assert not failures, "\n".join(failures)


def test_attachment_counts_stay_in_their_account(world: World) -> None:
    """A attached ReadOnlyAccess; in B it is attached to nothing."""
    iam = world.client(B, "iam")
    attached = [
        p["Arn"]
        for page in call(iam, "ListPolicies", {"Scope": "AWS", "OnlyAttached": True})
        for p in page["Policies"]
    ]
    assert READ_ONLY not in attached
    entities = call(iam, "ListEntitiesForPolicy", {"PolicyArn": READ_ONLY})
    assert all(
        not page[k] for page in entities for k in ("PolicyUsers", "PolicyGroups", "PolicyRoles")
    )
