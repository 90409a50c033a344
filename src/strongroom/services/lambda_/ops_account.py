"""Account settings and reserved concurrency (what the engine bounds a
function's environments by)."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call
from strongroom.services.lambda_ import access, code, functions, names
from strongroom.services.lambda_.service import errors, service

#: AWS's default quotas: 1,000 concurrent executions a Region, of which at
#: least 100 stay unreserved; 75 GB of code.
CONCURRENT_EXECUTIONS = 1000
MIN_UNRESERVED = 100
TOTAL_CODE_SIZE = 80_530_636_800


@service.operation(authorize="lambda:GetAccountSettings")
def get_account_settings(call: Call) -> dict[str, Any]:
    count, size, reserved = functions.account_usage(call.conn, call.account, call.region)
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": code.MAX_UNZIPPED,
            "CodeSizeZipped": code.MAX_ZIPPED,
            "ConcurrentExecutions": CONCURRENT_EXECUTIONS,
            "UnreservedConcurrentExecutions": CONCURRENT_EXECUTIONS - reserved,
        },
        "AccountUsage": {"TotalCodeSize": size, "FunctionCount": count},
    }


def _function(call: Call, FunctionName: str, action: str) -> names.Ref:
    ref = names.parse(call, FunctionName)
    names.require_unqualified(ref)
    access.authorize(call, action, ref)
    if not functions.exists(call.conn, ref):
        raise names.not_found(ref)
    return ref


@service.operation(authorize=False)
def put_function_concurrency(
    call: Call, FunctionName: str, ReservedConcurrentExecutions: int
) -> dict[str, Any]:
    ref = _function(call, FunctionName, "lambda:PutFunctionConcurrency")
    _, _, reserved = functions.account_usage(call.conn, ref.account, ref.region)
    others = reserved - (functions.reserved_concurrency(call.conn, ref) or 0)
    if CONCURRENT_EXECUTIONS - others - ReservedConcurrentExecutions < MIN_UNRESERVED:
        raise errors.InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        )
    functions.set_reserved_concurrency(call.conn, ref, ReservedConcurrentExecutions)
    return {"ReservedConcurrentExecutions": ReservedConcurrentExecutions}


@service.operation(authorize=False)
def get_function_concurrency(call: Call, FunctionName: str) -> dict[str, Any]:
    ref = _function(call, FunctionName, "lambda:GetFunctionConcurrency")
    value = functions.reserved_concurrency(call.conn, ref)
    return {} if value is None else {"ReservedConcurrentExecutions": value}


@service.operation(authorize=False)
def delete_function_concurrency(call: Call, FunctionName: str) -> dict[str, Any]:
    ref = _function(call, FunctionName, "lambda:DeleteFunctionConcurrency")
    functions.set_reserved_concurrency(call.conn, ref, None)
    return {}
