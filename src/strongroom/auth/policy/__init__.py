"""The IAM policy engine: parse, validate, compile and evaluate policies.

>>> from strongroom.auth.policy import parse_policy, PolicySet, AuthzRequest, evaluate
>>> p = parse_policy('{"Version": "2012-10-17", "Statement": {"Effect": "Allow",'
...                  ' "Action": "kms:Decrypt", "Resource": "*"}}')
>>> req = AuthzRequest("kms:Decrypt", "*", "arn:aws:iam::111122223333:user/bob",
...                    "111122223333", False, None, {})
>>> evaluate(req, PolicySet.of("identity", p)).allowed
True
"""

from strongroom.auth.policy.conditions import Condition, RequestContext
from strongroom.auth.policy.document import (
    CompiledPolicy,
    MalformedPolicy,
    PolicySizeExceeded,
    Statement,
    compile_policy,
    parse_policy,
    policy_size,
)
from strongroom.auth.policy.evaluate import (
    AuthzRequest,
    Decision,
    MatchedStatement,
    PolicySet,
    evaluate,
)
from strongroom.auth.policy.messages import denial_message

__all__ = [
    "AuthzRequest",
    "CompiledPolicy",
    "Condition",
    "Decision",
    "MalformedPolicy",
    "MatchedStatement",
    "PolicySet",
    "PolicySizeExceeded",
    "RequestContext",
    "Statement",
    "compile_policy",
    "denial_message",
    "evaluate",
    "parse_policy",
    "policy_size",
]
