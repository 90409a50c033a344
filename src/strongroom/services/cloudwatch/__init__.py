"""Amazon CloudWatch (signing name ``monitoring``): metrics and metric alarms.

Importing the package registers its operations, its scheduled alarm
evaluation and its CloudTrail declarations on `service`.
"""

from strongroom.services.cloudwatch import ops_alarms, ops_metrics, trail  # noqa: F401
from strongroom.services.cloudwatch.evaluation import evaluate_alarms  # noqa: F401
from strongroom.services.cloudwatch.service import service

__all__ = ["service"]
