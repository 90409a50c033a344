"""IAM state. Names are unique per account regardless of case, as in IAM."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from strongroom.store.columns import JsonText
from strongroom.store.db import metadata

users = Table(
    "iam_users",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(64), primary_key=True),  # lower-cased name
    Column("user_name", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created", Float, nullable=False),
    Column("permissions_boundary", String(2048), nullable=True),
    #: List of {"Key", "Value"} in the order they were given (JSON text).
    Column("tags", JsonText, nullable=False, default=list),
    UniqueConstraint("user_id", name="uq_iam_users_user_id"),
)

groups = Table(
    "iam_groups",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(128), primary_key=True),  # lower-cased name
    Column("group_name", String(128), nullable=False),
    Column("group_id", String(32), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created", Float, nullable=False),
    UniqueConstraint("group_id", name="uq_iam_groups_group_id"),
)

#: Group membership, by the unique ids (renames leave it alone).
group_members = Table(
    "iam_group_members",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("added", Float, nullable=False),
    Index("ix_iam_group_members_user", "user_id"),
)

roles = Table(
    "iam_roles",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(64), primary_key=True),  # lower-cased name
    Column("role_name", String(64), nullable=False),
    Column("role_id", String(32), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created", Float, nullable=False),
    #: The trust policy (AssumeRolePolicyDocument) as it was given.
    Column("trust_policy", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("max_session_duration", Integer, nullable=False, default=3600),
    Column("permissions_boundary", String(2048), nullable=True),
    Column("tags", JsonText, nullable=False, default=list),
    Column("last_used", Float, nullable=True),
    Column("last_used_region", String(32), nullable=True),
    UniqueConstraint("role_id", name="uq_iam_roles_role_id"),
)

#: Customer managed policies (AWS managed ones ship with the package).
policies = Table(
    "iam_policies",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("policy_name", String(128), nullable=False),
    Column("policy_id", String(32), nullable=False),
    Column("path", String(512), nullable=False),
    Column("description", Text, nullable=True),
    Column("default_version", String(32), nullable=False),
    #: The number the next CreatePolicyVersion takes (v1, v2, … never reused).
    Column("next_version", Integer, nullable=False),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("tags", JsonText, nullable=False, default=list),
    UniqueConstraint("account", "name_key", name="uq_iam_policies_name"),
    UniqueConstraint("policy_id", name="uq_iam_policies_policy_id"),
)

policy_versions = Table(
    "iam_policy_versions",
    metadata,
    Column("policy_arn", String(2048), primary_key=True),
    Column("version_id", String(32), primary_key=True),
    Column("number", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Column("created", Float, nullable=False),
)

#: Inline policies of users, groups and roles, keyed by the owner's unique id.
inline_policies = Table(
    "iam_inline_policies",
    metadata,
    Column("owner_id", String(32), primary_key=True),
    Column("policy_name", String(128), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("document", Text, nullable=False),
)

#: Managed policies attached to users, groups and roles (by unique id).
attached_policies = Table(
    "iam_attached_policies",
    metadata,
    Column("owner_id", String(32), primary_key=True),
    Column("policy_arn", String(2048), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("attached", Float, nullable=False),
    Index("ix_iam_attached_policies_arn", "account", "policy_arn"),
)

#: One counter per account, bumped by every IAM write in the same transaction.
#: Authorizers cache what a principal's policies compile to by (principal,
#: generation), so a cached answer is never older than the last IAM change.
generations = Table(
    "iam_generations",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("generation", Integer, nullable=False),
)

#: OpenID Connect identity providers (AssumeRoleWithWebIdentity trusts them).
oidc_providers = Table(
    "iam_oidc_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account", String(12), nullable=False),
    #: The issuer URL without ``https://`` (as GetOpenIDConnectProvider shows it).
    Column("url", String(255), nullable=False),
    #: Lists in the order they were given (JSON text).
    Column("client_ids", JsonText, nullable=False, default=list),
    Column("thumbprints", JsonText, nullable=False, default=list),
    Column("created", Float, nullable=False),
    Column("tags", JsonText, nullable=False, default=list),
    Index("ix_iam_oidc_providers_account", "account"),
)

#: SAML 2.0 identity providers (AssumeRoleWithSAML trusts them).
saml_providers = Table(
    "iam_saml_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("name", String(128), nullable=False),
    Column("provider_uuid", String(64), nullable=False),
    #: The metadata document as it was given; signing certificates are read from it.
    Column("metadata_document", Text, nullable=False),
    Column("valid_until", Float, nullable=True),
    Column("created", Float, nullable=False),
    Column("tags", JsonText, nullable=False, default=list),
    Index("ix_iam_saml_providers_account", "account"),
)


# -- service-linked roles, instance profiles, passwords, aliases (appended) ------

#: Roles created by CreateServiceLinkedRole: only AWS (here: the service) may change them.
service_linked_roles = Table(
    "iam_service_linked_roles",
    metadata,
    Column("role_id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("service_name", String(256), nullable=False),
)

#: DeleteServiceLinkedRole's tasks, for GetServiceLinkedRoleDeletionStatus.
service_role_deletions = Table(
    "iam_service_role_deletions",
    metadata,
    Column("task_id", String(1024), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created", Float, nullable=False),
)

instance_profiles = Table(
    "iam_instance_profiles",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(128), primary_key=True),  # lower-cased name
    Column("profile_name", String(128), nullable=False),
    Column("profile_id", String(32), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created", Float, nullable=False),
    Column("tags", JsonText, nullable=False, default=list),
    UniqueConstraint("profile_id", name="uq_iam_instance_profiles_id"),
)

#: The role of each instance profile (IAM allows one), by unique ids.
instance_profile_roles = Table(
    "iam_instance_profile_roles",
    metadata,
    Column("profile_id", String(32), primary_key=True),
    Column("role_id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Index("ix_iam_instance_profile_roles_role", "role_id"),
)

#: UpdateAccountPasswordPolicy's settings, one row per account that set them.
password_policies = Table(
    "iam_password_policies",
    metadata,
    Column("account", String(12), primary_key=True),
    #: The PasswordPolicy members, IAM's defaults filled in (a JSON object).
    Column("policy", JsonText, nullable=False),
)

#: Console passwords: salt and scrypt hash, sealed under the root key.
login_profiles = Table(
    "iam_login_profiles",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("created", Float, nullable=False),
    Column("changed", Float, nullable=False),
    Column("reset_required", Boolean, nullable=False, default=False),
    Column("password_sealed", LargeBinary, nullable=True),
)

#: Account aliases: globally unique, one per account.
account_aliases = Table(
    "iam_account_aliases",
    metadata,
    Column("alias", String(63), primary_key=True),
    Column("account", String(12), nullable=False),
    UniqueConstraint("account", name="uq_iam_account_aliases_account"),
)

#: The last credential report of each account (CSV bytes).
credential_reports = Table(
    "iam_credential_reports",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("generated", Float, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

#: Virtual MFA devices: the TOTP seed only sealed; `user_id` once enabled.
mfa_devices = Table(
    "iam_mfa_devices",
    metadata,
    Column("serial", String(512), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("name_key", String(256), nullable=False),
    Column("path", String(512), nullable=False),
    Column("created", Float, nullable=False),
    Column("seed_sealed", LargeBinary, nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("enabled", Float, nullable=True),
    #: The last TOTP step accepted: a code is never accepted twice.
    Column("last_step", Integer, nullable=False, default=0),
    Column("tags", JsonText, nullable=False, default=list),
    UniqueConstraint("account", "name_key", name="uq_iam_mfa_devices_name"),
    Index("ix_iam_mfa_devices_user", "user_id"),
)

#: Service-specific credentials (CodeCommit, Keyspaces): the password only sealed.
service_credentials = Table(
    "iam_service_credentials",
    metadata,
    Column("credential_id", String(128), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("service_name", String(256), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created", Float, nullable=False),
    Column("password_sealed", LargeBinary, nullable=False),
    Index("ix_iam_service_credentials_user", "user_id"),
)

#: X.509 signing certificates of users (or the root, user_id "root:ACCOUNT").
signing_certificates = Table(
    "iam_signing_certificates",
    metadata,
    Column("certificate_id", String(128), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("uploaded", Float, nullable=False),
    Index("ix_iam_signing_certificates_user", "user_id"),
)

#: SSH public keys of users (for CodeCommit), as uploaded.
ssh_public_keys = Table(
    "iam_ssh_public_keys",
    metadata,
    Column("key_id", String(128), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("uploaded", Float, nullable=False),
    Index("ix_iam_ssh_public_keys_user", "user_id"),
)

#: Earlier password hashes (sealed) for PasswordReusePrevention, newest kept.
password_history = Table(
    "iam_password_history",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("changed", Float, primary_key=True),
    Column("account", String(12), nullable=False),
    Column("password_sealed", LargeBinary, nullable=False),
)


# -- members of newer models (kept aside, so older stores need no migration) ------

#: MaxSigninSessionDuration of a role (by role id) or of a user's login
#: profile (by user id); no row: the setting is unset.
signin_durations = Table(
    "iam_signin_durations",
    metadata,
    Column("owner_id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("seconds", Integer, nullable=False),
)

#: Trusted identity propagation settings of an OIDC or SAML provider (by its
#: ARN): the ContextProvider structure (JSON text) and the Identity Center instance.
provider_contexts = Table(
    "iam_provider_contexts",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("context_provider", JsonText, nullable=True),
    Column("identity_center_instance_arn", String(1224), nullable=True),
)


#: Every table of this module, for the schema (see `Service.tables`).
TABLES = (
    users,
    groups,
    group_members,
    roles,
    policies,
    policy_versions,
    inline_policies,
    attached_policies,
    generations,
    oidc_providers,
    saml_providers,
    service_linked_roles,
    service_role_deletions,
    instance_profiles,
    instance_profile_roles,
    password_policies,
    login_profiles,
    account_aliases,
    credential_reports,
    mfa_devices,
    service_credentials,
    signing_certificates,
    ssh_public_keys,
    password_history,
    signin_durations,
    provider_contexts,
)
