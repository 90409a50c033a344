"""Micro-benchmark of `evaluate` (not a test: run it by hand).

    python tests/unit/policy/bench_evaluate.py

Prints µs per evaluation for 10 policies x 20 statements in three shapes:
a realistic mix of services, the worst case where every statement names the
requested service (all 200 are action-matched and their resources and
conditions tested), and a KMS-style request with a key policy, a permissions
boundary and a session policy on top.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

from strongroom.auth.policy import AuthzRequest, PolicySet, evaluate, parse_policy

ACCOUNT = "111122223333"
SERVICES = [
    "s3",
    "ec2",
    "iam",
    "sqs",
    "sns",
    "dynamodb",
    "lambda",
    "logs",
    "cloudwatch",
    "sts",
    "secretsmanager",
    "ssm",
    "rds",
    "ecr",
    "glue",
    "kms",
]


def statement(i: int, j: int, service: str) -> dict:
    kinds = j % 5
    st: dict = {
        "Sid": f"S{i}x{j}",
        "Effect": "Deny" if j % 7 == 6 else "Allow",
        "Action": [f"{service}:Get*", f"{service}:List*", f"{service}:Describe{j}"],
        "Resource": f"arn:aws:{service}:us-east-1:{ACCOUNT}:thing/team-{j}/*",
    }
    if service == "kms":
        st["Action"] = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"]
        st["Resource"] = f"arn:aws:kms:*:{ACCOUNT}:key/*"
    if kinds == 1:
        st["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": f"team-{j}"}}
    elif kinds == 2:
        st["Condition"] = {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}
    elif kinds == 3:
        st["Condition"] = {
            "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    elif kinds == 4:
        st["Resource"] = f"arn:aws:{service}:*:{ACCOUNT}:thing/${{aws:username}}/*"
        if service == "kms":
            st["Resource"] = f"arn:aws:kms:*:{ACCOUNT}:key/*"
            st["Condition"] = {"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}}
    if j % 7 == 6:  # the deny statements only bite off-network
        st["Condition"] = {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    return st


def policies(mixed: bool) -> PolicySet:
    out = []
    for i in range(10):
        stmts = [
            statement(i, j, SERVICES[(i * 20 + j) % len(SERVICES)] if mixed else "kms")
            for j in range(20)
        ]
        doc = json.dumps({"Version": "2012-10-17", "Statement": stmts})
        out.append((f"policy-{i}", parse_policy(doc)))
    return PolicySet("identity", tuple(out))


REQ = AuthzRequest(
    action="kms:Decrypt",
    resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    principal_arn=f"arn:aws:iam::{ACCOUNT}:user/bob",
    principal_account=ACCOUNT,
    principal_is_root=False,
    resource_account=ACCOUNT,
    context={
        "aws:username": "bob",
        "aws:PrincipalTag/team": "team-3",
        "aws:SourceIp": "10.1.2.3",
        "aws:CurrentTime": "2024-05-01T12:00:00Z",
        "aws:SecureTransport": "true",
        "kms:EncryptionContext:owner": "bob",
    },
    principal_aliases=(f"arn:aws:iam::{ACCOUNT}:root",),
)

KEY_POLICY = parse_policy(
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EnableIAMPolicies",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "KeyUsers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/EncryptionApp"},
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
            ],
        }
    ),
    "resource",
)
BOUNDARY = parse_policy(
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["kms:*","s3:*"],"Resource":"*"}}',
    "boundary",
)
SESSION = parse_policy(
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}',
    "session",
)


def bench(label: str, fn, n: int = 2000, rounds: int = 25) -> None:
    """Best and median µs over ``rounds`` runs of ``n`` calls (the box may be busy)."""
    for _ in range(500):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n * 1e6)
    times.sort()
    print(f"{label:<52} best {times[0]:7.2f} µs   median {times[len(times) // 2]:7.2f} µs")


def main() -> None:
    mixed, worst = policies(True), policies(False)
    d = evaluate(REQ, mixed)
    print("mixed:", d.reason, len(d.matched), "statements matched")
    d = evaluate(REQ, worst)
    print("worst:", d.reason, len(d.matched), "statements matched")
    bench("10 policies x 20 statements, 16 services", lambda: evaluate(REQ, mixed))
    bench("10 x 20, every statement names kms (worst case)", lambda: evaluate(REQ, worst))
    key = PolicySet("resource", (("key-policy", KEY_POLICY),))
    bnd = PolicySet("boundary", (("boundary", BOUNDARY),))
    ses = PolicySet("session", (("session", SESSION),))
    bench(
        "mixed + key policy + boundary + session (KMS rules)",
        lambda: evaluate(REQ, mixed, key, bnd, ses, resource_policy_required=True),
    )


if __name__ == "__main__":
    main()
