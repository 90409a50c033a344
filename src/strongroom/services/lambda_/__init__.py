"""AWS Lambda (botocore model ``lambda``, rest-json): functions, versions,
aliases, resource policies and Invoke, run by the Lambda runtime engine.

The package is ``lambda_`` because ``lambda`` is a Python keyword. Other
services reach it through `api` only."""

from strongroom.services.lambda_ import (  # noqa: F401  (register the operations)
    ops_account,
    ops_functions,
    ops_invoke,
    ops_permissions,
    ops_versions,
    trail,
)
from strongroom.services.lambda_.service import errors, service

__all__ = ["errors", "service"]
