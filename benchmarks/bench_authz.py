"""Authorization cost: IAM GetUser as the root vs as a user whose identity
carries 10 attached managed policies of 20 statements each.

Run: ``python benchmarks/bench_authz.py [--duration 10] [--only strongroom]``

The root short-circuits the policy engine; the user's request gathers its
policies from the store and evaluates all 200 statements (the last statement
of the last policy is the one that allows). The printed ratio user/root is
what authorization costs the request path; the issue's bar is a drop of at
most 15%. The in-process evaluation cost alone is printed first.
"""

from __future__ import annotations

import json
import sys
import time

from harness import Credentials, Workload, main, query_request

POLICIES = 10
STATEMENTS = 20


def policy_document(n: int) -> str:
    statements = []
    for i in range(STATEMENTS):
        last = n == POLICIES - 1 and i == STATEMENTS - 1
        statements.append(
            {
                "Sid": f"S{n}x{i}",
                "Effect": "Allow",
                "Action": "iam:GetUser" if last else [f"kms:Op{i}", f"s3:Get{n}*"],
                "Resource": "*" if last else f"arn:aws:s3:::bucket-{n}-{i}/*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def evaluation_micro() -> None:
    """µs per evaluate() over 10 x 20 statements, in process."""
    sys.path.insert(0, "src")
    from strongroom.auth.policy import AuthzRequest, PolicySet, evaluate, parse_policy

    identity = PolicySet(
        "identity", tuple((f"p{n}", parse_policy(policy_document(n))) for n in range(POLICIES))
    )
    req = AuthzRequest(
        "iam:GetUser",
        "arn:aws:iam::000000000000:user/bench",
        "arn:aws:iam::000000000000:user/bench",
        "000000000000",
        False,
        None,
        {"aws:RequestedRegion": "us-east-1"},
    )
    assert evaluate(req, identity).allowed
    n = 20000
    start = time.perf_counter()
    for _ in range(n):
        evaluate(req, identity)
    per = (time.perf_counter() - start) / n * 1e6
    print(f"policy evaluation, {POLICIES} policies x {STATEMENTS} statements: {per:.1f} µs")


def setup_user(ep) -> Credentials:
    iam = ep.client("iam")
    iam.create_user(UserName="bench")
    for n in range(POLICIES):
        arn = iam.create_policy(PolicyName=f"bench-{n}", PolicyDocument=policy_document(n))[
            "Policy"
        ]["Arn"]
        iam.attach_user_policy(UserName="bench", PolicyArn=arn)
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


WORKLOADS = [
    Workload(
        "iam GetUser as root",
        lambda ep: (
            query_request("iam", "GetUser", "2010-05-08", {"UserName": "bench"})
            if ep.client("iam").create_user(UserName="bench")
            else None
        ),
    ),
    Workload(
        "iam GetUser as a user with 10x20 policy statements",
        lambda ep: query_request(
            "iam", "GetUser", "2010-05-08", {"UserName": "bench"}, creds=setup_user(ep)
        ),
    ),
]

if __name__ == "__main__":
    evaluation_micro()
    if "--only" not in sys.argv:
        sys.argv += ["--only", "strongroom"]  # moto does not enforce IAM: nothing to compare
    sys.exit(main(WORKLOADS, description=__doc__.splitlines()[0]))
