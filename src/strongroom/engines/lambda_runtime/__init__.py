"""The Lambda execution engine (issue #16, "How a function runs").

An execution environment is a separate process running AWS's own runtime
interface client (``python -m awslambdaric <handler>``) over the function's
unpacked code, talking to a Lambda Runtime API (2018-06-01) that this engine
serves. See docs/lambda.md.
"""

from strongroom.engines.lambda_runtime.engine import LambdaEngine
from strongroom.engines.lambda_runtime.logs import FileLogSink
from strongroom.engines.lambda_runtime.model import (
    Credentials,
    EngineClosed,
    FunctionImage,
    ImageLogSink,
    InvokeResult,
    LogEvent,
    LogSink,
    TooManyRequests,
    UnsupportedRuntime,
)

__all__ = [
    "Credentials",
    "EngineClosed",
    "FileLogSink",
    "FunctionImage",
    "ImageLogSink",
    "InvokeResult",
    "LambdaEngine",
    "LogEvent",
    "LogSink",
    "TooManyRequests",
    "UnsupportedRuntime",
]
