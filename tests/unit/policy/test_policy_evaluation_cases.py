"""Evaluation cases taken from AWS's documentation.

Each case names, in a comment, the page its policy and its expected outcome
come from. Policies are the documented ones (account ids and names filled
in); where a page describes an outcome in words, the case encodes that
sentence. Pages are abbreviated:

IAM User Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/<page>.html
KMS Developer Guide, https://docs.aws.amazon.com/kms/latest/developerguide/<page>.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from strongroom.auth.policy import (
    AuthzRequest,
    PolicySet,
    denial_message,
    evaluate,
    parse_policy,
)

IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/"

ACCT = "111122223333"
OTHER = "444455556666"
ROOT = f"arn:aws:iam::{ACCT}:root"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
ROLE = f"arn:aws:iam::{ACCT}:role/examplerole"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/examplerole/examplerolesessionname"
FED = f"arn:aws:sts::{ACCT}:federated-user/exampleuser"
FED_USER = f"arn:aws:iam::{ACCT}:user/exampleuser"
V12 = "2012-10-17"

ALLOWED = ("allowed", None)


def explicit(kind: str) -> tuple[str, str]:
    return ("explicit_deny", kind)


def implicit(kind: str) -> tuple[str, str]:
    return ("implicit_deny", kind)


def policy(*statements: dict[str, Any], version: str = V12) -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


ALLOW_ALL = policy({"Effect": "Allow", "Action": "*", "Resource": "*"})


@dataclass
class Case:
    name: str
    action: str
    resource: str = "*"
    identity: list[dict[str, Any]] = field(default_factory=list)
    resource_policy: dict[str, Any] | None = None
    boundary: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    scp: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    principal: str = BOB
    account: str = ACCT
    is_root: bool = False
    aliases: tuple[str, ...] | None = None
    resource_account: str | None = None
    kms: bool = False
    expect: tuple[str, str | None] = ALLOWED

    def run(self):
        aliases = self.aliases
        if aliases is None:
            aliases = () if self.is_root else (f"arn:aws:iam::{self.account}:root",)
        req = AuthzRequest(
            action=self.action,
            resource=self.resource,
            principal_arn=self.principal,
            principal_account=self.account,
            principal_is_root=self.is_root,
            resource_account=self.resource_account,
            context=self.context,
            principal_aliases=aliases,
        )

        def pset(kind: str, doc_kind: str, docs: list[dict[str, Any]]) -> PolicySet:
            return PolicySet(
                kind, tuple((f"{kind}{i}", parse_policy(d, doc_kind)) for i, d in enumerate(docs))
            )

        one = lambda d: [d] if d is not None else []  # noqa: E731
        resource_set = None
        if self.resource_policy is not None:
            # A role trust policy names no Resource: parse it as one.
            stmts = self.resource_policy["Statement"]
            trust = not any("Resource" in st or "NotResource" in st for st in stmts)
            resource_set = pset(
                "resource", "trust" if trust else "resource", [self.resource_policy]
            )
        return req, evaluate(
            req,
            pset("identity", "identity", self.identity),
            resource_set,
            pset("boundary", "boundary", one(self.boundary)),
            pset("session", "session", one(self.session)),
            scp=pset("scp", "identity", one(self.scp)),
            resource_policy_required=self.kms,
        )


CASES: list[Case] = []


def case(*args: Any, **kwargs: Any) -> None:
    CASES.append(Case(*args, **kwargs))


# ===========================================================================
# Policy evaluation logic (reference_policies_evaluation-logic)
# ===========================================================================

# IAM reference_policies_evaluation-logic ("Example identity-based and
# resource-based policy evaluation"): Carlos's user policy and bucket policy.
CARLOS_IDENTITY = policy(
    {
        "Sid": "AllowS3ListRead",
        "Effect": "Allow",
        "Action": [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Sid": "AllowS3Self",
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)
CARLOS = f"arn:aws:iam::{ACCT}:user/carlossalazar"
CARLOS_BUCKET = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": CARLOS},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    }
)
# IAM reference_policies_evaluation-logic: the identity policy explicitly
# denies Carlos access to any bucket with "log" in its name.
case(
    "carlos-logs-bucket-denied",
    "s3:PutObject",
    "arn:aws:s3:::carlossalazar-logs",
    identity=[CARLOS_IDENTITY],
    principal=CARLOS,
    expect=explicit("identity"),
)
# IAM reference_policies_evaluation-logic: both policies allow the request.
case(
    "carlos-own-bucket-allowed",
    "s3:PutObject",
    "arn:aws:s3:::carlossalazar/notes.txt",
    identity=[CARLOS_IDENTITY],
    resource_policy=CARLOS_BUCKET,
    principal=CARLOS,
)
# IAM reference_policies_evaluation-logic: "If one of the policy types allows
# the request and the other doesn't, the request is still allowed."
case(
    "carlos-bucket-policy-alone-allows",
    "s3:PutObject",
    "arn:aws:s3:::carlossalazar/notes.txt",
    resource_policy=CARLOS_BUCKET,
    principal=CARLOS,
)
# IAM reference_policies_evaluation-logic: same, identity policy alone.
case(
    "carlos-identity-policy-alone-allows",
    "s3:GetObject",
    "arn:aws:s3:::carlossalazar/notes.txt",
    identity=[CARLOS_IDENTITY],
    principal=CARLOS,
)
# IAM reference_policies_evaluation-logic: an explicit deny in either policy
# overrides the allow.
case(
    "carlos-bucket-deny-overrides-identity-allow",
    "s3:DeleteObject",
    "arn:aws:s3:::carlossalazar/notes.txt",
    identity=[CARLOS_IDENTITY],
    resource_policy=policy(
        {
            "Effect": "Deny",
            "Principal": {"AWS": CARLOS},
            "Action": "s3:DeleteObject",
            "Resource": "arn:aws:s3:::carlossalazar/*",
        }
    ),
    principal=CARLOS,
    expect=explicit("resource"),
)

# IAM reference_policies_evaluation-logic ("The difference between explicit
# and implicit denies"): AllowGetList / DenyReports.
GET_LIST = policy(
    {
        "Sid": "AllowGetList",
        "Effect": "Allow",
        "Action": ["iam:Get*", "iam:List*"],
        "Resource": "*",
    },
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
)
case("get-list-allows-get", "iam:GetUser", identity=[GET_LIST])
case("get-list-allows-list", "iam:ListRoles", identity=[GET_LIST])
# "All other actions in IAM, such as iam:CreatePolicy are implicitly denied."
case(
    "get-list-create-policy-implicit",
    "iam:CreatePolicy",
    identity=[GET_LIST],
    expect=implicit("identity"),
)
# "actions that include the Report suffix, such as iam:GetOrganizationsAccessReport"
case(
    "get-list-report-explicit",
    "iam:GetOrganizationsAccessReport",
    identity=[GET_LIST],
    expect=explicit("identity"),
)
# "If someone adds another policy ... such as iam:GenerateCredentialReport,
# report-related requests are still denied because of this explicit deny."
case(
    "get-list-report-still-denied-with-allow",
    "iam:GenerateCredentialReport",
    identity=[
        GET_LIST,
        policy({"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}),
    ],
    expect=explicit("identity"),
)
# IAM reference_policies_evaluation-logic: "By default, all requests are
# implicitly denied with the exception of the AWS account root user, which
# has full access."
case("default-implicit-deny", "s3:ListAllMyBuckets", expect=implicit("identity"))
case("root-has-full-access", "s3:ListAllMyBuckets", principal=ROOT, is_root=True)
# IAM reference_policies_evaluation-logic: "An explicit deny in any policy
# overrides any allows" (the root included).
case(
    "root-explicit-deny-in-resource-policy",
    "s3:DeleteBucket",
    "arn:aws:s3:::carlossalazar",
    resource_policy=policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteBucket",
            "Resource": "arn:aws:s3:::carlossalazar",
        }
    ),
    principal=ROOT,
    is_root=True,
    expect=explicit("resource"),
)

# IAM reference_policies_evaluation-logic ("Resource-based policies and
# implicit denies in other policy types (same account)").
BUCKET = "arn:aws:s3:::example-bucket/report.csv"


def grant(principal: str) -> dict[str, Any]:
    return policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::example-bucket/*",
        }
    )


ONLY_EC2 = policy({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
# "IAM role session - ... Permissions granted directly to a session are not
# limited by an implicit deny in an identity-based policy, a permissions
# boundary, or session policy."
case(
    "rbp-role-session-arn-ignores-session-policy",
    "s3:GetObject",
    BUCKET,
    resource_policy=grant(SESSION),
    session=ONLY_EC2,
    boundary=ONLY_EC2,
    principal=SESSION,
    aliases=(ROLE, ROOT),
)
# "IAM role - Resource-based policies that grant permissions to an IAM role
# ARN are limited by an implicit deny in a permissions boundary or session
# policy."
case(
    "rbp-role-arn-limited-by-boundary",
    "s3:GetObject",
    BUCKET,
    resource_policy=grant(ROLE),
    boundary=ONLY_EC2,
    principal=SESSION,
    aliases=(ROLE, ROOT),
    expect=implicit("boundary"),
)
case(
    "rbp-role-arn-limited-by-session-policy",
    "s3:GetObject",
    BUCKET,
    resource_policy=grant(ROLE),
    session=ONLY_EC2,
    principal=SESSION,
    aliases=(ROLE, ROOT),
    expect=implicit("session"),
)
# ... but not by an implicit deny in the identity-based policies.
case(
    "rbp-role-arn-not-limited-by-identity",
    "s3:GetObject",
    BUCKET,
    identity=[ONLY_EC2],
    resource_policy=grant(ROLE),
    principal=SESSION,
    aliases=(ROLE, ROOT),
)
# "IAM user - ... not limited by an implicit deny in an identity-based policy
# or permissions boundary."
case(
    "rbp-user-arn-ignores-boundary",
    "s3:GetObject",
    BUCKET,
    identity=[ONLY_EC2],
    resource_policy=grant(BOB),
    boundary=ONLY_EC2,
)
# "IAM federated user sessions - ... resource-based policies that grant
# permissions to a federated user ARN grant permissions directly to the
# session."
case(
    "rbp-federated-session-arn-ignores-session-policy",
    "s3:GetObject",
    BUCKET,
    resource_policy=grant(FED),
    session=ONLY_EC2,
    principal=FED,
    aliases=(FED_USER, ROOT),
)
# "However, if a resource-based policy grants permission to the ARN of the
# IAM user who federated, then requests made by the federated user during
# the session are limited by an implicit deny in a permission boundary or
# session policy."
case(
    "rbp-federating-user-arn-limited-by-session-policy",
    "s3:GetObject",
    BUCKET,
    resource_policy=grant(FED_USER),
    session=ONLY_EC2,
    principal=FED,
    aliases=(FED_USER, ROOT),
    expect=implicit("session"),
)
# "An explicit deny in any of these policies overrides the allow."
case(
    "rbp-role-session-grant-vs-identity-deny",
    "s3:GetObject",
    BUCKET,
    identity=[policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})],
    resource_policy=grant(SESSION),
    principal=SESSION,
    aliases=(ROLE, ROOT),
    expect=explicit("identity"),
)

# ===========================================================================
# Cross-account evaluation (reference_policies_evaluation-logic-cross-account)
# ===========================================================================
A, B = "111111111111", "222222222222"
CARLOS_A = f"arn:aws:iam::{A}:user/carlossalazar"
CARLOS_XACCT_IDENTITY = policy(
    {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {
        "Sid": "AllowS3ProductionObjectActions",
        "Effect": "Allow",
        "Action": "s3:*Object*",
        "Resource": "arn:aws:s3:::Production/*",
    },
    {
        "Sid": "DenyS3Logs",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"],
    },
)
PRODUCTION_BUCKET = policy(
    {
        "Effect": "Allow",
        "Action": ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
        "Principal": {"AWS": CARLOS_A},
        "Resource": "arn:aws:s3:::Production/*",
    }
)
XACCT = {"principal": CARLOS_A, "account": A, "resource_account": B}
# IAM reference_policies_evaluation-logic-cross-account: the request to the
# Production-logs bucket is explicitly denied in account 111111111111.
case(
    "xacct-production-logs-denied",
    "s3:PutObject",
    "arn:aws:s3:::Production-logs/app.log",
    identity=[CARLOS_XACCT_IDENTITY],
    expect=explicit("identity"),
    **XACCT,
)
# "Because both accounts allow the request, the final decision is to allow".
case(
    "xacct-production-allowed",
    "s3:PutObject",
    "arn:aws:s3:::Production/app.txt",
    identity=[CARLOS_XACCT_IDENTITY],
    resource_policy=PRODUCTION_BUCKET,
    **XACCT,
)
# "He can create and edit, but not delete the objects in the bucket."
case(
    "xacct-production-delete-not-allowed-by-bucket",
    "s3:DeleteObject",
    "arn:aws:s3:::Production/app.txt",
    identity=[CARLOS_XACCT_IDENTITY],
    resource_policy=PRODUCTION_BUCKET,
    expect=implicit("resource"),
    **XACCT,
)
# "For cross-account requests, the requester in the trusted AccountA must
# have an identity-based policy."
case(
    "xacct-bucket-policy-without-identity-policy",
    "s3:PutObject",
    "arn:aws:s3:::Production/app.txt",
    resource_policy=PRODUCTION_BUCKET,
    expect=implicit("identity"),
    **XACCT,
)
# IAM reference_policies_elements_principal ("AWS account principals"): the
# account ARN and the bare account id both delegate to the account.
for _i, _who in enumerate((A, f"arn:aws:iam::{A}:root")):
    case(
        f"xacct-account-principal-delegates-{_i}",
        "s3:GetObject",
        "arn:aws:s3:::Production/app.txt",
        identity=[CARLOS_XACCT_IDENTITY],
        resource_policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": _who},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::Production/*",
            }
        ),
        **XACCT,
    )
# IAM reference_policies_elements_principal ("All principals"): "For
# principals in other accounts, they must also have identity-based
# permissions in their account that allow them to access your resource."
PUBLIC_READ = policy(
    {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::Production/*",
    }
)
case(
    "xacct-wildcard-principal-with-identity",
    "s3:GetObject",
    "arn:aws:s3:::Production/app.txt",
    identity=[CARLOS_XACCT_IDENTITY],
    resource_policy=PUBLIC_READ,
    **XACCT,
)
case(
    "xacct-wildcard-principal-without-identity",
    "s3:GetObject",
    "arn:aws:s3:::Production/app.txt",
    resource_policy=PUBLIC_READ,
    expect=implicit("identity"),
    **XACCT,
)
# ... "For IAM users and role principals within your account, no other
# permissions are required."
case(
    "same-account-wildcard-principal-needs-nothing-else",
    "s3:GetObject",
    "arn:aws:s3:::Production/app.txt",
    resource_policy=PUBLIC_READ,
)
# "For anonymous users, the following elements are equivalent:
# "Principal": "*" and "Principal" : { "AWS" : "*" }"
case(
    "same-account-aws-wildcard-principal",
    "s3:GetObject",
    "arn:aws:s3:::Production/app.txt",
    resource_policy=policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::Production/*",
        }
    ),
)
# IAM reference_policies_elements_principal ("All principals"): deny every
# principal except one, with aws:PrincipalArn instead of NotPrincipal.
PRINCIPAL_ARN_DENY = policy(
    {
        "Sid": "UsePrincipalArnInsteadOfNotPrincipalWithDeny",
        "Effect": "Deny",
        "Action": "s3:*",
        "Principal": "*",
        "Resource": ["arn:aws:s3:::BUCKETNAME/*", "arn:aws:s3:::BUCKETNAME"],
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:user/user-name"}},
    }
)
case(
    "principal-arn-deny-excepted-user",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/x",
    identity=[ALLOW_ALL],
    resource_policy=PRINCIPAL_ARN_DENY,
    principal=f"arn:aws:iam::{OTHER}:user/user-name",
    account=OTHER,
    resource_account=ACCT,
    context={"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:user/user-name"},
    expect=implicit("resource"),
)
case(
    "principal-arn-deny-other-user",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/x",
    identity=[ALLOW_ALL],
    resource_policy=PRINCIPAL_ARN_DENY,
    context={"aws:PrincipalArn": BOB},
    expect=explicit("resource"),
)
# IAM reference_policies_elements_principal ("AWS service principals").
SERVICE_TRUST = policy(
    {
        "Effect": "Allow",
        "Principal": {"Service": ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"]},
        "Action": "sts:AssumeRole",
    }
)
case(
    "service-principal-allowed",
    "sts:AssumeRole",
    ROLE,
    resource_policy=SERVICE_TRUST,
    principal="ecs.amazonaws.com",
    aliases=(),
    kms=True,
)
case(
    "service-principal-other-service",
    "sts:AssumeRole",
    ROLE,
    resource_policy=SERVICE_TRUST,
    principal="lambda.amazonaws.com",
    aliases=(),
    kms=True,
    expect=implicit("resource"),
)

# ===========================================================================
# NotPrincipal (reference_policies_elements_notprincipal)
# ===========================================================================
BOB_OTHER = f"arn:aws:iam::{OTHER}:user/Bob"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"


def bucket_with_deny(not_principals: list[str], allow: str) -> dict[str, Any]:
    return policy(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": not_principals},
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"],
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": allow},
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"],
        },
    )


NOTP_X = {"account": OTHER, "resource_account": ACCT, "aliases": (OTHER_ROOT,)}
# "all principals except the user named Bob in AWS account 444455556666 are
# explicitly denied access to a resource" (Bob allowed by another statement).
case(
    "notprincipal-bob-excepted",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/file",
    identity=[ALLOW_ALL],
    resource_policy=bucket_with_deny([BOB_OTHER, OTHER_ROOT], OTHER),
    principal=BOB_OTHER,
    **NOTP_X,
)
case(
    "notprincipal-alice-denied",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/file",
    identity=[ALLOW_ALL],
    resource_policy=bucket_with_deny([BOB_OTHER, OTHER_ROOT], OTHER),
    principal=f"arn:aws:iam::{OTHER}:user/Alice",
    expect=explicit("resource"),
    **NOTP_X,
)
# "If the NotPrincipal element contained only Bob's ARN, the effect of the
# policy might be to explicitly deny access to the AWS account that contains
# the user Bob."
case(
    "notprincipal-without-account-denies-bob",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/file",
    identity=[ALLOW_ALL],
    resource_policy=bucket_with_deny([BOB_OTHER], OTHER),
    principal=BOB_OTHER,
    expect=explicit("resource"),
    **NOTP_X,
)
AUDIT_SESSION = (
    f"arn:aws:sts::{OTHER}:assumed-role/cross-account-read-only-role/cross-account-audit-app"
)
AUDIT_ROLE = f"arn:aws:iam::{OTHER}:role/cross-account-read-only-role"
NOTP_ROLE = {"account": OTHER, "resource_account": ACCT, "aliases": (AUDIT_ROLE, OTHER_ROOT)}
# "all principals except the assumed-role user named cross-account-audit-app
# in AWS account 444455556666 are explicitly denied access"
case(
    "notprincipal-assumed-role-excepted",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/file",
    identity=[ALLOW_ALL],
    resource_policy=bucket_with_deny([AUDIT_SESSION, AUDIT_ROLE, OTHER_ROOT], AUDIT_ROLE),
    principal=AUDIT_SESSION,
    **NOTP_ROLE,
)
case(
    "notprincipal-other-session-of-role-denied",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/file",
    identity=[ALLOW_ALL],
    resource_policy=bucket_with_deny([AUDIT_SESSION, AUDIT_ROLE, OTHER_ROOT], AUDIT_ROLE),
    principal=f"arn:aws:sts::{OTHER}:assumed-role/cross-account-read-only-role/other-app",
    expect=explicit("resource"),
    **NOTP_ROLE,
)
# "If the NotPrincipal element was missing the ARN of the role, the effect of
# the policy might be to explicitly deny access to the role."
case(
    "notprincipal-missing-role-denies-session",
    "s3:GetObject",
    "arn:aws:s3:::BUCKETNAME/file",
    identity=[ALLOW_ALL],
    resource_policy=bucket_with_deny([AUDIT_SESSION, OTHER_ROOT], AUDIT_ROLE),
    principal=AUDIT_SESSION,
    expect=explicit("resource"),
    **NOTP_ROLE,
)

# ===========================================================================
# NotAction / NotResource
# ===========================================================================
# IAM reference_policies_examples_s3_deny-except-bucket.
S3_ONLY_BUCKET = policy(
    {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::bucket-name", "arn:aws:s3:::bucket-name/*"],
    },
    {
        "Effect": "Deny",
        "NotAction": "s3:*",
        "NotResource": ["arn:aws:s3:::bucket-name", "arn:aws:s3:::bucket-name/*"],
    },
)
case(
    "deny-except-bucket-s3-on-bucket",
    "s3:PutObject",
    "arn:aws:s3:::bucket-name/x",
    identity=[S3_ONLY_BUCKET],
)
# "explicitly denying access to every AWS service except Amazon S3" — even
# with AmazonEC2FullAccess-like policies attached.
case(
    "deny-except-bucket-other-service",
    "ec2:RunInstances",
    "*",
    identity=[S3_ONLY_BUCKET, policy({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})],
    expect=explicit("identity"),
)
# "This policy also denies access to actions that can't be performed on an S3
# bucket, such as s3:ListAllMyBuckets or s3:GetObject" (not allowed).
case(
    "deny-except-bucket-list-all-buckets",
    "s3:ListAllMyBuckets",
    "*",
    identity=[S3_ONLY_BUCKET],
    expect=implicit("identity"),
)
case(
    "deny-except-bucket-other-bucket",
    "s3:GetObject",
    "arn:aws:s3:::other-bucket/x",
    identity=[S3_ONLY_BUCKET],
    expect=implicit("identity"),
)
# IAM reference_policies_elements_notaction: "Allow all services except IAM"
# ("Effect": "Allow", "NotAction": "iam:*", "Resource": "*").
ALL_BUT_IAM = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
case("notaction-allow-other-service", "ec2:DescribeInstances", identity=[ALL_BUT_IAM])
case(
    "notaction-allow-excludes-iam",
    "iam:CreateUser",
    identity=[ALL_BUT_IAM],
    expect=implicit("identity"),
)
# IAM reference_policies_elements_notaction: "Deny all services except IAM
# for users not signed in with MFA" (BoolIfExists on MultiFactorAuthPresent).
DENY_NO_MFA = policy(
    {
        "Sid": "DenyAllUsersNotUsingMFA",
        "Effect": "Deny",
        "NotAction": "iam:*",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
)
case(
    "notaction-mfa-long-term-keys-denied",
    "ec2:DescribeInstances",
    identity=[ALLOW_ALL, DENY_NO_MFA],
    expect=explicit("identity"),
)
case(
    "notaction-mfa-false-denied",
    "ec2:DescribeInstances",
    identity=[ALLOW_ALL, DENY_NO_MFA],
    context={"aws:MultiFactorAuthPresent": "false"},
    expect=explicit("identity"),
)
case(
    "notaction-mfa-true-allowed",
    "ec2:DescribeInstances",
    identity=[ALLOW_ALL, DENY_NO_MFA],
    context={"aws:MultiFactorAuthPresent": True},
)
case("notaction-mfa-iam-not-denied", "iam:ListUsers", identity=[ALLOW_ALL, DENY_NO_MFA])
# IAM reference_policies_elements_notresource: allow everything in S3 but the
# HR payroll folder.
NOT_PAYROLL = policy(
    {
        "Effect": "Allow",
        "Action": "s3:*",
        "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
    }
)
case(
    "notresource-payroll-excluded",
    "s3:GetObject",
    "arn:aws:s3:::HRBucket/Payroll/2024.csv",
    identity=[NOT_PAYROLL],
    expect=implicit("identity"),
)
case(
    "notresource-other-object",
    "s3:GetObject",
    "arn:aws:s3:::HRBucket/Handbook.pdf",
    identity=[NOT_PAYROLL],
)

# ===========================================================================
# Action and Resource wildcards
# ===========================================================================
# IAM reference_policies_examples_ec2-start-stop-match-tags writes
# "ec2:startInstances": action names are not case-sensitive.
case(
    "action-case-insensitive",
    "ec2:StartInstances",
    identity=[policy({"Effect": "Allow", "Action": "ec2:startInstances", "Resource": "*"})],
)
# IAM reference_policies_elements_condition_operators: "iam:*AccessKey*".
ACCESS_KEYS = policy(
    {"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": f"arn:aws:iam::{ACCT}:user/*"}
)
case(
    "action-infix-wildcard",
    "iam:CreateAccessKey",
    f"arn:aws:iam::{ACCT}:user/bob",
    identity=[ACCESS_KEYS],
)
case(
    "action-infix-wildcard-no-match",
    "iam:CreateUser",
    f"arn:aws:iam::{ACCT}:user/bob",
    identity=[ACCESS_KEYS],
    expect=implicit("identity"),
)
# IAM reference_policies_elements_resource: "all IAM users whose path is
# /accounting".
ACCOUNTING = policy(
    {
        "Effect": "Allow",
        "Action": "iam:GetUser",
        "Resource": f"arn:aws:iam::{ACCT}:user/accounting/*",
    }
)
case(
    "resource-path-wildcard",
    "iam:GetUser",
    f"arn:aws:iam::{ACCT}:user/accounting/alice",
    identity=[ACCOUNTING],
)
case(
    "resource-path-wildcard-other-path",
    "iam:GetUser",
    f"arn:aws:iam::{ACCT}:user/finance/bob",
    identity=[ACCOUNTING],
    expect=implicit("identity"),
)
# IAM reference_policies_elements_resource: "?" is any single character.
ONE_CHAR = policy(
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket-?"}
)
case("resource-question-mark", "s3:ListBucket", "arn:aws:s3:::bucket-a", identity=[ONE_CHAR])
case(
    "resource-question-mark-two-chars",
    "s3:ListBucket",
    "arn:aws:s3:::bucket-ab",
    identity=[ONE_CHAR],
    expect=implicit("identity"),
)
# IAM reference_policies_elements_principal: resource ARNs are matched as
# written (a user name is case sensitive).
case(
    "resource-case-sensitive",
    "s3:GetObject",
    "arn:aws:s3:::CarlosSalazar/notes.txt",
    identity=[CARLOS_IDENTITY],
    principal=CARLOS,
    expect=implicit("identity"),
)
# IAM reference_policies_elements_resource: wildcards work within any ARN
# segment (the XCompanyBoundaries DenyEC2Production statement of
# access_policies_boundaries).
case(
    "resource-region-account-wildcards",
    "ec2:TerminateInstances",
    f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-1234567890abcdef0",
    identity=[ALLOW_ALL],
    boundary=policy(
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {
            "Sid": "DenyEC2Production",
            "Effect": "Deny",
            "Action": "ec2:*",
            "Resource": "arn:aws:ec2:*:*:instance/i-1234567890abcdef0",
        },
    ),
    expect=explicit("boundary"),
)

# ===========================================================================
# String condition operators (reference_policies_elements_condition_operators)
# ===========================================================================
JOB_CATEGORY = policy(
    {
        "Effect": "Allow",
        "Action": "iam:*AccessKey*",
        "Resource": f"arn:aws:iam::{ACCT}:user/*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
    }
)
KEY_RES = f"arn:aws:iam::{ACCT}:user/alice"
case(
    "string-equals-tag",
    "iam:ListAccessKeys",
    KEY_RES,
    identity=[JOB_CATEGORY],
    context={"aws:PrincipalTag/job-category": "iamuser-admin"},
)
# "If a user without the tag attempts to view or edit an access key, the
# condition returns false and the request is implicitly denied"
case(
    "string-equals-tag-missing",
    "iam:ListAccessKeys",
    KEY_RES,
    identity=[JOB_CATEGORY],
    expect=implicit("identity"),
)
case(
    "string-equals-case-sensitive",
    "iam:ListAccessKeys",
    KEY_RES,
    identity=[JOB_CATEGORY],
    context={"aws:PrincipalTag/job-category": "IAMUser-Admin"},
    expect=implicit("identity"),
)


# IAM reference_policies_elements_condition: "Users named JohnDoe are denied
# access" with StringEquals; StringEqualsIgnoreCase matches johndoe or JohnDoe.
def _username(op: str) -> dict[str, Any]:
    return policy(
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "*",
            "Condition": {op: {"aws:username": "johndoe"}},
        }
    )


case(
    "string-equals-johndoe",
    "s3:ListBucket",
    identity=[_username("StringEquals")],
    context={"aws:username": "johndoe"},
)
case(
    "string-equals-JohnDoe-denied",
    "s3:ListBucket",
    identity=[_username("StringEquals")],
    context={"aws:username": "JohnDoe"},
    expect=implicit("identity"),
)
case(
    "string-equals-ignore-case-JohnDoe",
    "s3:ListBucket",
    identity=[_username("StringEqualsIgnoreCase")],
    context={"aws:username": "JohnDoe"},
)
case(
    "string-not-equals-ignore-case-JohnDoe",
    "s3:ListBucket",
    identity=[
        ALLOW_ALL,
        policy(
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringNotEqualsIgnoreCase": {"aws:username": "johndoe"}},
            }
        ),
    ],
    context={"aws:username": "JohnDoe"},
)
# IAM reference_policies_elements_condition: condition key names are not
# case-sensitive ("aws:SourceIP" is equivalent to "AWS:SourceIp").
case(
    "condition-key-name-case-insensitive",
    "s3:ListBucket",
    identity=[
        policy(
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIP": "203.0.113.0/24"}},
            }
        )
    ],
    context={"AWS:SourceIp": "203.0.113.9"},
)
# IAM reference_policies_elements_condition_operators: StringLike with a
# policy variable for the S3 console "home directory".
HOME = policy(
    {
        "Effect": "Allow",
        "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::BUCKET-NAME",
        "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
    },
    {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": [
            "arn:aws:s3:::BUCKET-NAME/home/${aws:username}",
            "arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*",
        ],
    },
)
BOB_CTX = {"aws:username": "bob"}
case(
    "string-like-own-home-prefix",
    "s3:ListBucket",
    "arn:aws:s3:::BUCKET-NAME",
    identity=[HOME],
    context={**BOB_CTX, "s3:prefix": "home/bob/"},
)
case(
    "string-like-empty-prefix",
    "s3:ListBucket",
    "arn:aws:s3:::BUCKET-NAME",
    identity=[HOME],
    context={**BOB_CTX, "s3:prefix": ""},
)
case(
    "string-like-other-home-prefix",
    "s3:ListBucket",
    "arn:aws:s3:::BUCKET-NAME",
    identity=[HOME],
    context={**BOB_CTX, "s3:prefix": "home/alice/"},
    expect=implicit("identity"),
)
case(
    "variable-own-home-object",
    "s3:PutObject",
    "arn:aws:s3:::BUCKET-NAME/home/bob/cv.pdf",
    identity=[HOME],
    context=BOB_CTX,
)
case(
    "variable-other-home-object",
    "s3:PutObject",
    "arn:aws:s3:::BUCKET-NAME/home/alice/cv.pdf",
    identity=[HOME],
    context=BOB_CTX,
    expect=implicit("identity"),
)
# IAM reference_policies_condition-logic-multiple-context-keys-or-values:
# "If a single negated matching condition operator includes multiple values
# for a context key, those values are evaluated using a logical NOR."
REGIONS = policy(
    {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}},
    }
)
case(
    "string-not-equals-nor-listed",
    "ec2:RunInstances",
    identity=[ALLOW_ALL, REGIONS],
    context={"aws:RequestedRegion": "us-west-2"},
)
case(
    "string-not-equals-nor-unlisted",
    "ec2:RunInstances",
    identity=[ALLOW_ALL, REGIONS],
    context={"aws:RequestedRegion": "eu-west-1"},
    expect=explicit("identity"),
)
# IAM reference_policies_elements_condition_operators ("Important"): "If the
# policy condition requires that the key is not matched, such as
# StringNotLike or ArnNotLike, and the right key is not present, the
# condition is true."
case(
    "string-not-like-missing-key-true",
    "s3:GetObject",
    identity=[
        ALLOW_ALL,
        policy(
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringNotLike": {"aws:userid": "AIDA*"}},
            }
        ),
    ],
    expect=explicit("identity"),
)
case(
    "string-not-like-matching-value",
    "s3:GetObject",
    identity=[
        ALLOW_ALL,
        policy(
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringNotLike": {"aws:userid": "AIDA*"}},
            }
        ),
    ],
    context={"aws:userid": "AIDAEXAMPLE"},
)
# IAM reference_policies_elements_condition_operators ("…IfExists"): "If you
# are using an "Effect": "Deny" element with a negated condition operator
# like StringNotEqualsIfExists, the request is still denied even if the tag
# is missing."
IFEXISTS_DENY = policy(
    {
        "Effect": "Deny",
        "Action": "ec2:*",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:ResourceTag/env": "dev"}},
    }
)
case(
    "not-equals-if-exists-missing-tag-denied",
    "ec2:StopInstances",
    identity=[ALLOW_ALL, IFEXISTS_DENY],
    expect=explicit("identity"),
)
case(
    "not-equals-if-exists-dev-allowed",
    "ec2:StopInstances",
    identity=[ALLOW_ALL, IFEXISTS_DENY],
    context={"aws:ResourceTag/env": "dev"},
)

# ===========================================================================
# ARN condition operators
# ===========================================================================
# IAM reference_policies_elements_condition_operators: "With a StringLike
# condition, the match succeeds ... With an ArnLike condition, which matches
# elements between colons, the match fails."
TRICKY = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"


def _source_arn(op: str) -> dict[str, Any]:
    return policy(
        {
            "Effect": "Allow",
            "Action": "someservice:Read",
            "Resource": "*",
            "Condition": {op: {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        }
    )


case(
    "string-like-spans-arn-components",
    "someservice:Read",
    identity=[_source_arn("StringLike")],
    context={"aws:SourceArn": TRICKY},
)
case(
    "arn-like-stays-in-component",
    "someservice:Read",
    identity=[_source_arn("ArnLike")],
    context={"aws:SourceArn": TRICKY},
    expect=implicit("identity"),
)
case(
    "arn-like-matches",
    "someservice:Read",
    identity=[_source_arn("ArnLike")],
    context={"aws:SourceArn": "arn:aws:someservice:us-east-2:111122223333:finance/q3.txt"},
)
# IAM reference_policies_elements_condition_operators: the SQS queue policy
# that lets Amazon SNS send messages on behalf of one topic (ArnEquals).
SQS_FROM_TOPIC = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": OTHER},
        "Action": "SQS:SendMessage",
        "Resource": f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID",
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-2:{ACCT}:TOPIC-ID"}},
    }
)
SQS_X = {
    "principal": f"arn:aws:iam::{OTHER}:role/publisher",
    "account": OTHER,
    "resource_account": ACCT,
    "identity": [ALLOW_ALL],
}
case(
    "arn-equals-source-topic",
    "sqs:SendMessage",
    f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID",
    resource_policy=SQS_FROM_TOPIC,
    context={"aws:SourceArn": f"arn:aws:sns:us-east-2:{ACCT}:TOPIC-ID"},
    **SQS_X,
)
case(
    "arn-equals-other-topic",
    "sqs:SendMessage",
    f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID",
    resource_policy=SQS_FROM_TOPIC,
    context={"aws:SourceArn": f"arn:aws:sns:us-east-2:{ACCT}:OTHER"},
    expect=implicit("resource"),
    **SQS_X,
)
# "If an IAM user attempts to perform this operation directly, the condition
# returns false and the request is implicitly denied by this statement."
case(
    "arn-equals-no-source-arn",
    "sqs:SendMessage",
    f"arn:aws:sqs:us-east-2:{ACCT}:QUEUE-ID",
    resource_policy=SQS_FROM_TOPIC,
    expect=implicit("resource"),
    **SQS_X,
)

# ===========================================================================
# Numeric, Date, Bool, Binary, IP address operators
# ===========================================================================
# IAM reference_policies_elements_condition_operators: s3:max-keys.
MAX_KEYS = policy(
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::example_bucket",
        "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}},
    }
)
_EB = "arn:aws:s3:::example_bucket"
case("numeric-le-equal", "s3:ListBucket", _EB, identity=[MAX_KEYS], context={"s3:max-keys": "10"})
case(
    "numeric-le-less-decimal",
    "s3:ListBucket",
    _EB,
    identity=[MAX_KEYS],
    context={"s3:max-keys": "9.5"},
)
case(
    "numeric-le-greater",
    "s3:ListBucket",
    _EB,
    identity=[MAX_KEYS],
    context={"s3:max-keys": "11"},
    expect=implicit("identity"),
)
case("numeric-le-missing", "s3:ListBucket", _EB, identity=[MAX_KEYS], expect=implicit("identity"))
# IAM reference_policies_condition-keys (aws:MultiFactorAuthAge): "NumericLessThan"
# 3600 allows MFA authentication in the last hour.
MFA_AGE = policy(
    {
        "Effect": "Allow",
        "Action": "ec2:StopInstances",
        "Resource": "*",
        "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    }
)
case(
    "numeric-lt-recent-mfa",
    "ec2:StopInstances",
    identity=[MFA_AGE],
    context={"aws:MultiFactorAuthAge": 1200},
)
case(
    "numeric-lt-old-mfa",
    "ec2:StopInstances",
    identity=[MFA_AGE],
    context={"aws:MultiFactorAuthAge": "7200"},
    expect=implicit("identity"),
)
# IAM reference_policies_elements_condition_operators: DateGreaterThan on
# aws:TokenIssueTime.
TOKEN_2020 = policy(
    {
        "Effect": "Allow",
        "Action": "iam:*AccessKey*",
        "Resource": f"arn:aws:iam::{ACCT}:user/*",
        "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
    }
)
case(
    "date-gt-fresh-token",
    "iam:ListAccessKeys",
    KEY_RES,
    identity=[TOKEN_2020],
    context={"aws:TokenIssueTime": "2020-06-01T08:00:00Z"},
)
case(
    "date-gt-old-token",
    "iam:ListAccessKeys",
    KEY_RES,
    identity=[TOKEN_2020],
    context={"aws:TokenIssueTime": "2019-12-31T23:00:00Z"},
    expect=implicit("identity"),
)
# "In this example, if an IAM user attempts to view or edit an access key,
# the request is denied" (long-term keys carry no aws:TokenIssueTime).
case(
    "date-gt-no-token",
    "iam:ListAccessKeys",
    KEY_RES,
    identity=[TOKEN_2020],
    expect=implicit("identity"),
)
# IAM reference_policies_examples_aws-dates: allows access within dates.
DATES = policy(
    {
        "Effect": "Allow",
        "Action": "service-prefix:action-name",
        "Resource": "*",
        "Condition": {
            "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
        },
    }
)
case(
    "dates-within-range",
    "service-prefix:action-name",
    identity=[DATES],
    context={"aws:CurrentTime": "2020-05-15T10:00:00Z"},
)
case(
    "dates-after-range",
    "service-prefix:action-name",
    identity=[DATES],
    context={"aws:CurrentTime": "2020-07-01T00:00:00Z"},
    expect=implicit("identity"),
)
# IAM reference_policies_elements_condition_operators: date values may be
# "W3C implementations of the ISO 8601 date formats or in epoch (UNIX) time".
EPOCH_DEADLINE = policy(
    {
        "Effect": "Allow",
        "Action": "service-prefix:action-name",
        "Resource": "*",
        "Condition": {"DateLessThanEquals": {"aws:EpochTime": "1593561599"}},
    }
)
case(
    "date-epoch-policy-iso-request",
    "service-prefix:action-name",
    identity=[EPOCH_DEADLINE],
    context={"aws:EpochTime": "2020-06-30T23:59:59Z"},
)
case(
    "date-epoch-after",
    "service-prefix:action-name",
    identity=[EPOCH_DEADLINE],
    context={"aws:EpochTime": 1593561600},
    expect=implicit("identity"),
)
case(
    "date-w3c-date-only",
    "service-prefix:action-name",
    identity=[
        policy(
            {
                "Effect": "Allow",
                "Action": "service-prefix:*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:CurrentTime": "2020-07"}},
            }
        )
    ],
    context={"aws:CurrentTime": "2020-06-30T23:59:59Z"},
)
# IAM reference_policies_examples_aws_mfa-dates: Bool + two Date operators
# AND together.
MFA_DATES = policy(
    {
        "Effect": "Allow",
        "Action": [
            "service-prefix-1:*",
            "service-prefix-2:action-name-a",
            "service-prefix-2:action-name-b",
        ],
        "Resource": "*",
        "Condition": {
            "Bool": {"aws:MultiFactorAuthPresent": True},
            "DateGreaterThan": {"aws:CurrentTime": "2017-07-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2017-12-31T23:59:59Z"},
        },
    }
)
case(
    "mfa-dates-all-hold",
    "service-prefix-2:action-name-a",
    identity=[MFA_DATES],
    context={"aws:MultiFactorAuthPresent": "true", "aws:CurrentTime": "2017-09-01T12:00:00Z"},
)
case(
    "mfa-dates-no-mfa",
    "service-prefix-1:anything",
    identity=[MFA_DATES],
    context={"aws:MultiFactorAuthPresent": "false", "aws:CurrentTime": "2017-09-01T12:00:00Z"},
    expect=implicit("identity"),
)
case(
    "mfa-dates-too-late",
    "service-prefix-1:anything",
    identity=[MFA_DATES],
    context={"aws:MultiFactorAuthPresent": "true", "aws:CurrentTime": "2018-01-01T00:00:00Z"},
    expect=implicit("identity"),
)
case(
    "mfa-dates-action-c-not-listed",
    "service-prefix-2:action-name-c",
    identity=[MFA_DATES],
    context={"aws:MultiFactorAuthPresent": "true", "aws:CurrentTime": "2017-09-01T12:00:00Z"},
    expect=implicit("identity"),
)
# IAM reference_policies_elements_condition_operators ("Boolean"): deny S3
# requests not sent over SSL.
SSL_ONLY = policy(
    {
        "Sid": "BooleanExample",
        "Action": "s3:*",
        "Effect": "Deny",
        "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)
case(
    "bool-no-ssl-denied",
    "s3:GetObject",
    "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a",
    identity=[ALLOW_ALL, SSL_ONLY],
    context={"aws:SecureTransport": "false"},
    expect=explicit("identity"),
)
case(
    "bool-ssl-allowed",
    "s3:GetObject",
    "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a",
    identity=[ALLOW_ALL, SSL_ONLY],
    context={"aws:SecureTransport": True},
)
# IAM reference_policies_elements_condition_operators ("Binary"): compares
# byte for byte against the base-64 value in the policy.
BINARY = policy(
    {
        "Effect": "Allow",
        "Action": "example:Read",
        "Resource": "*",
        "Condition": {"BinaryEquals": {"example:key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
    }
)
case(
    "binary-equals-bytes",
    "example:Read",
    identity=[BINARY],
    context={"example:key": b"BinaryValueInBase64"},
)
case(
    "binary-equals-base64-text",
    "example:Read",
    identity=[BINARY],
    context={"example:key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
)
case(
    "binary-equals-different",
    "example:Read",
    identity=[BINARY],
    context={"example:key": b"other"},
    expect=implicit("identity"),
)
# IAM reference_policies_elements_condition_operators ("IP address").
IP_RANGE = policy(
    {
        "Effect": "Allow",
        "Action": "iam:*AccessKey*",
        "Resource": f"arn:aws:iam::{ACCT}:user/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    }
)
case(
    "ip-in-range",
    "iam:CreateAccessKey",
    KEY_RES,
    identity=[IP_RANGE],
    context={"aws:SourceIp": "203.0.113.77"},
)
case(
    "ip-out-of-range",
    "iam:CreateAccessKey",
    KEY_RES,
    identity=[IP_RANGE],
    context={"aws:SourceIp": "198.51.100.1"},
    expect=implicit("identity"),
)
# "The aws:SourceIp key is always present in the request context, except when
# the requester uses a VPC endpoint ... the condition returns false"
case(
    "ip-missing-vpc-endpoint",
    "iam:CreateAccessKey",
    KEY_RES,
    identity=[IP_RANGE],
    expect=implicit("identity"),
)
# "If you specify an IP address without the associated routing prefix, IAM
# uses the default prefix value of /32."
ONE_IP = policy(
    {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.5"}},
    }
)
case(
    "ip-bare-address-is-32",
    "s3:GetObject",
    identity=[ONE_IP],
    context={"aws:SourceIp": "203.0.113.5"},
)
case(
    "ip-bare-address-neighbour",
    "s3:GetObject",
    identity=[ONE_IP],
    context={"aws:SourceIp": "203.0.113.6"},
    expect=implicit("identity"),
)
# "how to mix IPv4 and IPv6 addresses"
MIXED_IP = policy(
    {
        "Effect": "Allow",
        "Action": "someservice:*",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
    }
)
case(
    "ipv6-in-range",
    "someservice:Get",
    identity=[MIXED_IP],
    context={"aws:SourceIp": "2001:db8:1234:5678::abcd"},
)
case(
    "ipv6-out-of-range",
    "someservice:Get",
    identity=[MIXED_IP],
    context={"aws:SourceIp": "2001:db8:1234:5679::1"},
    expect=implicit("identity"),
)
case(
    "ipv4-in-mixed-range",
    "someservice:Get",
    identity=[MIXED_IP],
    context={"aws:SourceIp": "203.0.113.200"},
)
# IAM reference_policies_examples_aws_deny-ip: deny everything from outside
# the company ranges (NotIpAddress, values NOR).
DENY_IP = policy(
    {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
    }
)
case(
    "deny-ip-outside",
    "ec2:DescribeInstances",
    identity=[ALLOW_ALL, DENY_IP],
    context={"aws:SourceIp": "198.51.100.5"},
    expect=explicit("identity"),
)
case(
    "deny-ip-inside-second-range",
    "ec2:DescribeInstances",
    identity=[ALLOW_ALL, DENY_IP],
    context={"aws:SourceIp": "203.0.113.10"},
)
case(
    "deny-ip-missing-source-ip",
    "ec2:DescribeInstances",
    identity=[ALLOW_ALL, DENY_IP],
    expect=explicit("identity"),
)

# ===========================================================================
# …IfExists and Null
# ===========================================================================
# IAM reference_policies_elements_condition_operators ("…IfExists"): launch
# t1, t2, m3 instances; the other resources have no ec2:InstanceType key.
RUN_INSTANCE = policy(
    {
        "Sid": "RunInstance",
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": "*",
        "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
    }
)
case(
    "if-exists-key-absent",
    "ec2:RunInstances",
    "arn:aws:ec2:us-east-1::image/ami-12345678",
    identity=[RUN_INSTANCE],
)
case(
    "if-exists-matching-type",
    "ec2:RunInstances",
    identity=[RUN_INSTANCE],
    context={"ec2:InstanceType": "t2.micro"},
)
case(
    "if-exists-other-type",
    "ec2:RunInstances",
    identity=[RUN_INSTANCE],
    context={"ec2:InstanceType": "m5.large"},
    expect=implicit("identity"),
)
# "THISPOLICYDOESNOTWORK": without IfExists the key's absence fails the test.
case(
    "without-if-exists-key-absent",
    "ec2:RunInstances",
    identity=[
        policy(
            {
                "Sid": "THISPOLICYDOESNOTWORK",
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
            }
        )
    ],
    expect=implicit("identity"),
)
# IAM reference_policies_elements_condition_operators ("Null"): the user must
# not be using temporary credentials.
NO_TEMP = policy(
    {
        "Action": "ec2:*",
        "Effect": "Allow",
        "Resource": "*",
        "Condition": {"Null": {"aws:TokenIssueTime": "true"}},
    }
)
case("null-true-long-term-keys", "ec2:DescribeVpcs", identity=[NO_TEMP])
case(
    "null-true-temporary-credentials",
    "ec2:DescribeVpcs",
    identity=[NO_TEMP],
    context={"aws:TokenIssueTime": "2024-01-01T00:00:00Z"},
    expect=implicit("identity"),
)
NEED_TEMP = policy(
    {
        "Action": "ec2:*",
        "Effect": "Allow",
        "Resource": "*",
        "Condition": {"Null": {"aws:TokenIssueTime": "false"}},
    }
)
case(
    "null-false-temporary-credentials",
    "ec2:DescribeVpcs",
    identity=[NEED_TEMP],
    context={"aws:TokenIssueTime": "2024-01-01T00:00:00Z"},
)
case(
    "null-false-long-term-keys",
    "ec2:DescribeVpcs",
    identity=[NEED_TEMP],
    expect=implicit("identity"),
)

# ===========================================================================
# ForAllValues / ForAnyValue (reference_policies_multi-value-conditions)
# ===========================================================================
THREAD = "arn:aws:dynamodb:us-east-1:111122223333:table/Thread"
ONLY_ATTRS = policy(
    {
        "Effect": "Allow",
        "Action": "dynamodb:GetItem",
        "Resource": "arn:aws:dynamodb:*:*:table/Thread",
        "Condition": {
            "ForAllValues:StringLike": {
                "dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]
            }
        },
    }
)
# "If the user makes a request ... to get the attributes PostDateTime and
# Message from the Threads table, the request is allowed"
case(
    "for-all-values-subset",
    "dynamodb:GetItem",
    THREAD,
    identity=[ONLY_ATTRS],
    context={"dynamodb:requestedAttributes": ["PostDateTime", "Message"]},
)
# "if the user's request includes the ID attribute, the request fails"
case(
    "for-all-values-extra-attribute",
    "dynamodb:GetItem",
    THREAD,
    identity=[ONLY_ATTRS],
    context={"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]},
    expect=implicit("identity"),
)
# "If the key values in the request resolve to an empty data set ... a
# condition operator modified by ForAllValues returns true"
case(
    "for-all-values-empty-set",
    "dynamodb:GetItem",
    THREAD,
    identity=[ONLY_ATTRS],
    context={"dynamodb:requestedAttributes": []},
)
# IAM reference_policies_condition_examples-multi-valued-context-keys: "The
# ForAllValues set operator also returns true if there are no context keys in
# the request."
case("for-all-values-missing-key", "dynamodb:GetItem", THREAD, identity=[ONLY_ATTRS])
# ... "You can prevent missing context keys or context keys with empty values
# from evaluating to true by including a Null condition operator ... with a
# value of false".
GUARDED = policy(
    {
        "Effect": "Allow",
        "Action": "dynamodb:GetItem",
        "Resource": "arn:aws:dynamodb:*:*:table/Thread",
        "Condition": {
            "ForAllValues:StringLike": {
                "dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]
            },
            "Null": {"dynamodb:requestedAttributes": "false"},
        },
    }
)
case(
    "for-all-values-null-guard-missing",
    "dynamodb:GetItem",
    THREAD,
    identity=[GUARDED],
    expect=implicit("identity"),
)
case(
    "for-all-values-null-guard-empty",
    "dynamodb:GetItem",
    THREAD,
    identity=[GUARDED],
    context={"dynamodb:requestedAttributes": []},
    expect=implicit("identity"),
)
case(
    "for-all-values-null-guard-present",
    "dynamodb:GetItem",
    THREAD,
    identity=[GUARDED],
    context={"dynamodb:requestedAttributes": ["Tags"]},
)
NO_ID_UPDATE = policy(
    {
        "Effect": "Deny",
        "Action": "dynamodb:PutItem",
        "Resource": "arn:aws:dynamodb:*:*:table/Thread",
        "Condition": {
            "ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}
        },
    }
)
WRITE_THREAD = policy({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"})
# "there is one match (PostDateTime), so the condition is true ... Because the
# policy's effect is Deny, the request is denied."
case(
    "for-any-value-one-match-denied",
    "dynamodb:PutItem",
    THREAD,
    identity=[WRITE_THREAD, NO_ID_UPDATE],
    context={"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]},
    expect=explicit("identity"),
)
# "None of the attributes in the request (just UserName) match ... the
# request is not denied by this policy."
case(
    "for-any-value-no-match",
    "dynamodb:PutItem",
    THREAD,
    identity=[WRITE_THREAD, NO_ID_UPDATE],
    context={"dynamodb:requestedAttributes": ["UserName"]},
)
# "... a condition operator modified by ForAnyValue returns false" for an
# empty data set; so does a missing key.
case(
    "for-any-value-empty-set",
    "dynamodb:PutItem",
    THREAD,
    identity=[WRITE_THREAD, NO_ID_UPDATE],
    context={"dynamodb:requestedAttributes": []},
)
case("for-any-value-missing-key", "dynamodb:PutItem", THREAD, identity=[WRITE_THREAD, NO_ID_UPDATE])
# IAM reference_policies_multi-value-conditions ("Evaluation Logic for
# Condition Set Operators") with negated operators: ForAnyValue holds when
# some request value passes the (negated) test, ForAllValues when all do.
# Deny tagging with any tag key outside key1*/key2*:
TAG_KEYS = policy(
    {
        "Effect": "Deny",
        "Action": ["iam:TagUser", "iam:TagRole"],
        "Resource": "*",
        "Condition": {"ForAnyValue:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}},
    }
)
case(
    "for-any-value-not-like-all-allowed",
    "iam:TagUser",
    identity=[ALLOW_ALL, TAG_KEYS],
    context={"aws:TagKeys": ["key1-a", "key2-b"]},
)
case(
    "for-any-value-not-like-one-other",
    "iam:TagUser",
    identity=[ALLOW_ALL, TAG_KEYS],
    context={"aws:TagKeys": ["key1-a", "team"]},
    expect=explicit("identity"),
)
# Allow tagging only when no tag key is a forbidden one:
FORBIDDEN_KEYS = policy(
    {
        "Effect": "Allow",
        "Action": "iam:TagUser",
        "Resource": "*",
        "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["admin", "owner"]}},
    }
)
case(
    "for-all-values-not-equals-clean",
    "iam:TagUser",
    identity=[FORBIDDEN_KEYS],
    context={"aws:TagKeys": ["team", "project"]},
)
case(
    "for-all-values-not-equals-forbidden",
    "iam:TagUser",
    identity=[FORBIDDEN_KEYS],
    context={"aws:TagKeys": ["team", "owner"]},
    expect=implicit("identity"),
)

# ===========================================================================
# Policy variables (reference_policies_variables)
# ===========================================================================
MYBUCKET = policy(
    {
        "Action": ["s3:ListBucket"],
        "Effect": "Allow",
        "Resource": ["arn:aws:s3:::mybucket"],
        "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}},
    },
    {
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Effect": "Allow",
        "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"],
    },
)
case(
    "variable-username-own-folder",
    "s3:GetObject",
    "arn:aws:s3:::mybucket/bob/a.txt",
    identity=[MYBUCKET],
    context=BOB_CTX,
)
case(
    "variable-username-other-folder",
    "s3:GetObject",
    "arn:aws:s3:::mybucket/David/a.txt",
    identity=[MYBUCKET],
    context=BOB_CTX,
    expect=implicit("identity"),
)
case(
    "variable-in-condition",
    "s3:ListBucket",
    "arn:aws:s3:::mybucket",
    identity=[MYBUCKET],
    context={**BOB_CTX, "s3:prefix": "bob/photos"},
)
# "not present means that the value is not in the current request
# information, and any attempt to match it fails and causes the statement to
# be invalid" (a role session has no aws:username).
case(
    "variable-unresolved-statement-invalid",
    "s3:GetObject",
    "arn:aws:s3:::mybucket/bob/a.txt",
    identity=[MYBUCKET],
    principal=SESSION,
    aliases=(ROLE, ROOT),
    expect=implicit("identity"),
)
# "If you don't include the Version element and set it to an appropriate
# version date, variables like ${aws:username} are treated as literal strings"
LEGACY = policy(
    {
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": "arn:aws:s3:::mybucket/${aws:username}/*",
    },
    version="2008-10-17",
)
case(
    "variable-literal-in-2008-policy",
    "s3:GetObject",
    "arn:aws:s3:::mybucket/${aws:username}/a.txt",
    identity=[LEGACY],
    context=BOB_CTX,
)
case(
    "variable-not-substituted-in-2008-policy",
    "s3:GetObject",
    "arn:aws:s3:::mybucket/bob/a.txt",
    identity=[LEGACY],
    context=BOB_CTX,
    expect=implicit("identity"),
)
# "Specifying default values": anonymous users do not populate ${aws:userid}.
DEFAULTS = policy(
    {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::bucket/${aws:userid, 'anonymous'}/*",
    }
)
case(
    "variable-default-used",
    "s3:GetObject",
    "arn:aws:s3:::bucket/anonymous/readme",
    identity=[DEFAULTS],
)
case(
    "variable-default-not-used",
    "s3:GetObject",
    "arn:aws:s3:::bucket/AIDAEXAMPLE/readme",
    identity=[DEFAULTS],
    context={"aws:userid": "AIDAEXAMPLE"},
)
case(
    "variable-default-value-ignored-when-set",
    "s3:GetObject",
    "arn:aws:s3:::bucket/anonymous/readme",
    identity=[DEFAULTS],
    context={"aws:userid": "AIDAEXAMPLE"},
    expect=implicit("identity"),
)
# "Special characters": ${*} "use where you need an * (asterisk) character".
STAR = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/${*}"})
case("variable-escaped-star-literal", "s3:GetObject", "arn:aws:s3:::bucket/*", identity=[STAR])
case(
    "variable-escaped-star-not-wildcard",
    "s3:GetObject",
    "arn:aws:s3:::bucket/file",
    identity=[STAR],
    expect=implicit("identity"),
)
# "Tags as policy variables": a bucket named after the department tag.
DEPT = policy(
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": ["arn:aws:s3:::bucket/${aws:PrincipalTag/department}"],
    }
)
case(
    "variable-principal-tag",
    "s3:ListBucket",
    "arn:aws:s3:::bucket/hr",
    identity=[DEPT],
    context={"aws:PrincipalTag/department": "hr"},
)
case(
    "variable-principal-tag-missing",
    "s3:ListBucket",
    "arn:aws:s3:::bucket/hr",
    identity=[DEPT],
    expect=implicit("identity"),
)
# IAM reference_policies_examples_ec2-start-stop-match-tags.
COST_CENTER = policy(
    {
        "Effect": "Allow",
        "Action": ["ec2:startInstances", "ec2:stopInstances"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"ec2:ResourceTag/CostCenter": "${aws:PrincipalTag/CostCenter}"}
        },
    }
)
case(
    "variable-tags-match",
    "ec2:StopInstances",
    identity=[COST_CENTER],
    context={"ec2:ResourceTag/CostCenter": "0735", "aws:PrincipalTag/CostCenter": "0735"},
)
case(
    "variable-tags-differ",
    "ec2:StopInstances",
    identity=[COST_CENTER],
    context={"ec2:ResourceTag/CostCenter": "0735", "aws:PrincipalTag/CostCenter": "1111"},
    expect=implicit("identity"),
)
case(
    "variable-principal-tag-absent",
    "ec2:StopInstances",
    identity=[COST_CENTER],
    context={"ec2:ResourceTag/CostCenter": "0735"},
    expect=implicit("identity"),
)

# ===========================================================================
# Permissions boundaries (access_policies_boundaries)
# ===========================================================================
SHIRLEY = f"arn:aws:iam::{ACCT}:user/ShirleyRodriguez"
SHIRLEY_BOUNDARY = policy(
    {"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*", "ec2:*"], "Resource": "*"}
)
# "If you attach this policy to the ShirleyRodriguez user, and Shirley tries
# to create a user, the operation fails."
case(
    "boundary-blocks-create-user",
    "iam:CreateUser",
    identity=[policy({"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"})],
    boundary=SHIRLEY_BOUNDARY,
    principal=SHIRLEY,
    expect=implicit("boundary"),
)
case(
    "boundary-and-identity-allow",
    "s3:ListBucket",
    identity=[policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})],
    boundary=SHIRLEY_BOUNDARY,
    principal=SHIRLEY,
)
# "it limits the user's permissions but does not provide permissions on its own"
case(
    "boundary-grants-nothing",
    "s3:ListBucket",
    boundary=SHIRLEY_BOUNDARY,
    principal=SHIRLEY,
    expect=implicit("identity"),
)
XCOMPANY = policy(
    {
        "Sid": "ServiceBoundaries",
        "Effect": "Allow",
        "Action": ["s3:*", "cloudwatch:*", "ec2:*", "dynamodb:*"],
        "Resource": "*",
    },
    {
        "Sid": "AllowManageOwnPasswordAndAccessKeys",
        "Effect": "Allow",
        "Action": [
            "iam:*AccessKey*",
            "iam:ChangePassword",
            "iam:GetUser",
            "iam:*ServiceSpecificCredential*",
            "iam:*SigningCertificate*",
        ],
        "Resource": ["arn:aws:iam::*:user/${aws:username}"],
    },
    {
        "Sid": "DenyS3Logs",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"],
    },
)
IAM_FULL = policy({"Effect": "Allow", "Action": ["iam:*", "s3:*"], "Resource": "*"})
# "The DenyS3Logs statement explicitly denies access to the logs bucket."
case(
    "boundary-explicit-deny",
    "s3:GetObject",
    "arn:aws:s3:::logs/x",
    identity=[IAM_FULL],
    boundary=XCOMPANY,
    expect=explicit("boundary"),
)
# "allows the users manage only their own console password and programmatic
# access keys"
case(
    "boundary-own-access-key",
    "iam:CreateAccessKey",
    BOB,
    identity=[IAM_FULL],
    boundary=XCOMPANY,
    context=BOB_CTX,
)
case(
    "boundary-other-users-access-key",
    "iam:CreateAccessKey",
    f"arn:aws:iam::{ACCT}:user/alice",
    identity=[IAM_FULL],
    boundary=XCOMPANY,
    context=BOB_CTX,
    expect=implicit("boundary"),
)
# DelegatedUserBoundary: create users only with the XCompanyBoundaries boundary.
ZHANG_BOUNDARY = policy(
    {
        "Sid": "CreateOrChangeOnlyWithBoundary",
        "Effect": "Allow",
        "Action": [
            "iam:CreateUser",
            "iam:DeleteUserPolicy",
            "iam:AttachUserPolicy",
            "iam:DetachUserPolicy",
            "iam:PutUserPermissionsBoundary",
        ],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "iam:PermissionsBoundary": f"arn:aws:iam::{ACCT}:policy/XCompanyBoundaries"
            }
        },
    },
    {
        "Sid": "NoBoundaryUserDelete",
        "Effect": "Deny",
        "Action": "iam:DeleteUserPermissionsBoundary",
        "Resource": "*",
    },
)
ZHANG_PERMS = policy({"Sid": "IAM", "Effect": "Allow", "Action": "iam:*", "Resource": "*"})
ZHANG = f"arn:aws:iam::{ACCT}:user/Zhang"
case(
    "boundary-condition-right-boundary",
    "iam:CreateUser",
    identity=[ZHANG_PERMS],
    boundary=ZHANG_BOUNDARY,
    principal=ZHANG,
    context={"iam:PermissionsBoundary": f"arn:aws:iam::{ACCT}:policy/XCompanyBoundaries"},
)
case(
    "boundary-condition-wrong-boundary",
    "iam:CreateUser",
    identity=[ZHANG_PERMS],
    boundary=ZHANG_BOUNDARY,
    principal=ZHANG,
    context={"iam:PermissionsBoundary": f"arn:aws:iam::{ACCT}:policy/AdminAccess"},
    expect=implicit("boundary"),
)
case(
    "boundary-no-boundary-delete",
    "iam:DeleteUserPermissionsBoundary",
    identity=[ZHANG_PERMS],
    boundary=ZHANG_BOUNDARY,
    principal=ZHANG,
    expect=explicit("boundary"),
)
# "Within an account, permissions boundaries do not reduce the permissions
# granted by resource-based policies."
case(
    "boundary-does-not-reduce-resource-policy",
    "s3:GetObject",
    BUCKET,
    identity=[IAM_FULL],
    resource_policy=grant(SHIRLEY),
    boundary=policy({"Effect": "Allow", "Action": "cloudwatch:*", "Resource": "*"}),
    principal=SHIRLEY,
)

# ===========================================================================
# Session policies and SCPs
# ===========================================================================
# IAM access_policies ("Session policies"): "the resulting session's
# permissions are the intersection of the IAM entity's identity-based policy
# and the session policies".
READ_ONLY_SESSION = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
ROLE_S3 = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
SESS = {"principal": SESSION, "aliases": (ROLE, ROOT)}
case(
    "session-policy-intersection-allowed",
    "s3:GetObject",
    BUCKET,
    identity=[ROLE_S3],
    session=READ_ONLY_SESSION,
    **SESS,
)
case(
    "session-policy-intersection-denied",
    "s3:PutObject",
    BUCKET,
    identity=[ROLE_S3],
    session=READ_ONLY_SESSION,
    expect=implicit("session"),
    **SESS,
)
# "Session policies cannot be used to grant more permissions than those
# allowed by the identity-based policy of the role"
case(
    "session-policy-grants-nothing",
    "ec2:RunInstances",
    identity=[ROLE_S3],
    session=ALLOW_ALL,
    expect=implicit("identity"),
    **SESS,
)
case(
    "session-policy-explicit-deny",
    "s3:GetObject",
    BUCKET,
    identity=[ROLE_S3],
    session=policy(
        ALLOW_ALL["Statement"][0], {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}
    ),
    expect=explicit("session"),
    **SESS,
)
# IAM reference_policies_evaluation-logic ("AWS Organizations service control
# policies"): "The SCP maximum applies to principals in member accounts,
# including each AWS account root user."
EC2_SCP = policy({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
case(
    "scp-limits-identity",
    "s3:ListAllMyBuckets",
    identity=[ALLOW_ALL],
    scp=EC2_SCP,
    expect=implicit("scp"),
)
case(
    "scp-limits-root",
    "s3:ListAllMyBuckets",
    scp=EC2_SCP,
    principal=ROOT,
    is_root=True,
    expect=implicit("scp"),
)
case("scp-allows", "ec2:DescribeInstances", identity=[ALLOW_ALL], scp=EC2_SCP)

# ===========================================================================
# KMS key policies (resource_policy_required)
# ===========================================================================
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# KMS key-policy-default: "Allows access to the AWS account and enables IAM
# policies".
DEFAULT_KEY_POLICY = policy(
    {
        "Sid": "Enable IAM policies",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
)
DECRYPT = policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
case(
    "kms-default-policy-with-iam-policy",
    "kms:Decrypt",
    KEY,
    identity=[DECRYPT],
    resource_policy=DEFAULT_KEY_POLICY,
    kms=True,
)
# "When the principal in a key policy statement is the account principal, the
# policy statement doesn't give any IAM users or roles permission to use the
# KMS key."
case(
    "kms-default-policy-without-iam-policy",
    "kms:Decrypt",
    KEY,
    resource_policy=DEFAULT_KEY_POLICY,
    kms=True,
    expect=implicit("identity"),
)
case(
    "kms-default-policy-root",
    "kms:ScheduleKeyDeletion",
    KEY,
    resource_policy=DEFAULT_KEY_POLICY,
    principal=ROOT,
    is_root=True,
    kms=True,
)
# KMS determining-access-key-policy, statement 2: the key administrators.
KEY_ADMIN = f"arn:aws:iam::{ACCT}:user/KMSKeyAdmin"
ADMIN_ONLY = policy(
    {
        "Sid": "Allow access for Key Administrators",
        "Effect": "Allow",
        "Principal": {"AWS": KEY_ADMIN},
        "Action": [
            "kms:Describe*",
            "kms:Put*",
            "kms:Create*",
            "kms:Update*",
            "kms:Enable*",
            "kms:Revoke*",
            "kms:List*",
            "kms:Disable*",
            "kms:Get*",
            "kms:Delete*",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion",
        ],
        "Resource": "*",
    }
)
case(
    "kms-key-admin-direct-grant",
    "kms:DisableKey",
    KEY,
    resource_policy=ADMIN_ONLY,
    principal=KEY_ADMIN,
    kms=True,
)
case(
    "kms-key-admin-cannot-decrypt",
    "kms:Decrypt",
    KEY,
    identity=[ALLOW_ALL],
    resource_policy=ADMIN_ONLY,
    principal=KEY_ADMIN,
    kms=True,
    expect=implicit("resource"),
)
# KMS key-policy-default: "Without this permission, IAM policies that allow
# access to the key are ineffective, although IAM policies that deny access
# to the key are still effective."
case(
    "kms-iam-allow-ineffective",
    "kms:Decrypt",
    KEY,
    identity=[ALLOW_ALL],
    resource_policy=ADMIN_ONLY,
    kms=True,
    expect=implicit("resource"),
)
case(
    "kms-iam-deny-effective",
    "kms:DisableKey",
    KEY,
    identity=[policy({"Effect": "Deny", "Action": "kms:Disable*", "Resource": "*"})],
    resource_policy=ADMIN_ONLY,
    principal=KEY_ADMIN,
    kms=True,
    expect=explicit("identity"),
)
# KMS key-policy-default: "suppose you create a key policy that gives only
# one user access to the KMS key. If you then delete that user, the key
# becomes unmanageable" — the root is subject to the key policy.
case(
    "kms-root-subject-to-key-policy",
    "kms:PutKeyPolicy",
    KEY,
    resource_policy=ADMIN_ONLY,
    principal=ROOT,
    is_root=True,
    kms=True,
    expect=implicit("resource"),
)
# KMS determining-access-key-policy, statements 3 and 4: the EncryptionApp role.
APP_ROLE = f"arn:aws:iam::{ACCT}:role/EncryptionApp"
APP_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/EncryptionApp/worker-1"
APP_KEY_POLICY = policy(
    {
        "Sid": "Allow use of the key",
        "Effect": "Allow",
        "Principal": {"AWS": APP_ROLE},
        "Action": [
            "kms:DescribeKey",
            "kms:GenerateDataKey*",
            "kms:Encrypt",
            "kms:ReEncrypt*",
            "kms:Decrypt",
        ],
        "Resource": "*",
    },
    {
        "Sid": "Allow attachment of persistent resources",
        "Effect": "Allow",
        "Principal": {"AWS": APP_ROLE},
        "Action": ["kms:ListGrants", "kms:CreateGrant", "kms:RevokeGrant"],
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
    },
)
APP = {"principal": APP_SESSION, "aliases": (APP_ROLE, ROOT), "kms": True}
case(
    "kms-role-grant-session-decrypts",
    "kms:GenerateDataKeyWithoutPlaintext",
    KEY,
    resource_policy=APP_KEY_POLICY,
    **APP,
)
case(
    "kms-role-grant-not-admin",
    "kms:ScheduleKeyDeletion",
    KEY,
    resource_policy=APP_KEY_POLICY,
    expect=implicit("resource"),
    **APP,
)
case(
    "kms-grant-for-aws-resource",
    "kms:CreateGrant",
    KEY,
    resource_policy=APP_KEY_POLICY,
    context={"kms:GrantIsForAWSResource": True},
    **APP,
)
case(
    "kms-grant-not-for-aws-resource",
    "kms:CreateGrant",
    KEY,
    resource_policy=APP_KEY_POLICY,
    expect=implicit("resource"),
    **APP,
)
case(
    "kms-role-grant-limited-by-session-policy",
    "kms:Decrypt",
    KEY,
    resource_policy=APP_KEY_POLICY,
    session=policy({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}),
    expect=implicit("session"),
    **APP,
)
# KMS determining-access-key-policy: "An asterisk gives every identity in
# every AWS account permission to use the CMK ... Users in other AWS accounts
# just need corresponding IAM permissions in their own accounts".
STAR_KEY_POLICY = policy(
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
)
EXT = {
    "principal": f"arn:aws:iam::{OTHER}:user/ext",
    "account": OTHER,
    "resource_account": ACCT,
    "kms": True,
}
case("kms-star-same-account", "kms:Decrypt", KEY, resource_policy=STAR_KEY_POLICY, kms=True)
case(
    "kms-star-external-with-iam",
    "kms:Decrypt",
    KEY,
    identity=[DECRYPT],
    resource_policy=STAR_KEY_POLICY,
    **EXT,
)
case(
    "kms-star-external-without-iam",
    "kms:Decrypt",
    KEY,
    resource_policy=STAR_KEY_POLICY,
    expect=implicit("identity"),
    **EXT,
)
# KMS key-policy-modifying-external-accounts: the key policy gives the
# external account permission; its IAM administrators delegate it.
EXTERNAL_ACCOUNT = policy(
    DEFAULT_KEY_POLICY["Statement"][0],
    {
        "Sid": "Allow an external account to use this KMS key",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        ],
        "Resource": "*",
    },
)
case(
    "kms-external-account-delegated",
    "kms:Decrypt",
    KEY,
    identity=[DECRYPT],
    resource_policy=EXTERNAL_ACCOUNT,
    **EXT,
)
case(
    "kms-external-account-not-delegated",
    "kms:Decrypt",
    KEY,
    resource_policy=EXTERNAL_ACCOUNT,
    expect=implicit("identity"),
    **EXT,
)
case(
    "kms-external-account-admin-action",
    "kms:ScheduleKeyDeletion",
    KEY,
    identity=[ALLOW_ALL],
    resource_policy=EXTERNAL_ACCOUNT,
    expect=implicit("resource"),
    **EXT,
)
# KMS conditions-kms (kms:EncryptionContext:context-key).
CONTEXT_KEY_POLICY = policy(
    DEFAULT_KEY_POLICY["Statement"][0],
    {
        "Effect": "Allow",
        "Principal": {"AWS": APP_ROLE},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:Department": "IT"}},
    },
)
case(
    "kms-encryption-context-match",
    "kms:Decrypt",
    KEY,
    resource_policy=CONTEXT_KEY_POLICY,
    context={"kms:EncryptionContext:Department": "IT"},
    **APP,
)
case(
    "kms-encryption-context-mismatch",
    "kms:Decrypt",
    KEY,
    resource_policy=CONTEXT_KEY_POLICY,
    context={"kms:EncryptionContext:Department": "HR"},
    expect=implicit("identity"),
    **APP,
)
# KMS conditions-kms (kms:ViaService): deny use except through one service.
VIA_SERVICE = policy(
    DEFAULT_KEY_POLICY["Statement"][0],
    {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt", "kms:Encrypt"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}},
    },
)
case(
    "kms-via-service-direct-call-denied",
    "kms:Decrypt",
    KEY,
    identity=[DECRYPT],
    resource_policy=VIA_SERVICE,
    kms=True,
    expect=explicit("resource"),
)
case(
    "kms-via-service-through-ec2",
    "kms:Decrypt",
    KEY,
    identity=[DECRYPT],
    resource_policy=VIA_SERVICE,
    kms=True,
    context={"kms:ViaService": "ec2.us-west-2.amazonaws.com"},
)
# KMS conditions-kms (kms:CallerAccount with kms:ViaService, the AWS managed
# key policy shape: "Principal": {"AWS": "*"} limited by conditions).
MANAGED_KEY = policy(
    {
        "Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
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
            "StringEquals": {
                "kms:CallerAccount": ACCT,
                "kms:ViaService": "ec2.us-west-2.amazonaws.com",
            }
        },
    }
)
case(
    "kms-managed-key-via-ebs",
    "kms:Decrypt",
    KEY,
    resource_policy=MANAGED_KEY,
    kms=True,
    context={"kms:CallerAccount": ACCT, "kms:ViaService": "ec2.us-west-2.amazonaws.com"},
)
case(
    "kms-managed-key-direct",
    "kms:Decrypt",
    KEY,
    resource_policy=MANAGED_KEY,
    kms=True,
    context={"kms:CallerAccount": ACCT},
    expect=implicit("resource"),
)


# ===========================================================================
# Role trust policies: an allow must come from the trust policy
# ===========================================================================
# IAM reference_policies_evaluation-logic: "IAM role trust policies and KMS
# key policies are exceptions to this logic, because they must explicitly
# allow access for principals."
TRUST = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "Unique-ID"}},
    }
)
case(
    "trust-external-id",
    "sts:AssumeRole",
    ROLE,
    identity=[policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE})],
    resource_policy=TRUST,
    principal=f"arn:aws:iam::{OTHER}:user/ops",
    account=OTHER,
    resource_account=ACCT,
    kms=True,
    context={"sts:ExternalId": "Unique-ID"},
)
case(
    "trust-wrong-external-id",
    "sts:AssumeRole",
    ROLE,
    identity=[policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE})],
    resource_policy=TRUST,
    principal=f"arn:aws:iam::{OTHER}:user/ops",
    account=OTHER,
    resource_account=ACCT,
    kms=True,
    context={"sts:ExternalId": "guess"},
    expect=implicit("resource"),
)
case(
    "trust-same-account-identity-not-enough",
    "sts:AssumeRole",
    ROLE,
    identity=[ALLOW_ALL],
    resource_policy=TRUST,
    kms=True,
    expect=implicit("resource"),
)


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_documented_case(c: Case) -> None:
    req, decision = c.run()
    assert (decision.reason, decision.denied_by) == c.expect, decision
    assert decision.allowed == (c.expect[0] == "allowed")
    if not decision.allowed:
        msg = denial_message(req.principal_arn, req.action, req.resource, decision)
        assert msg.startswith(
            f"User: {req.principal_arn} is not authorized to perform: {req.action}"
        )


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 80
    assert len({c.name for c in CASES}) == len(CASES)
