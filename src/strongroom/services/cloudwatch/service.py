"""The CloudWatch `Service` object every module registers on, its errors,
paging and tag rules."""

from __future__ import annotations

from strongroom.framework import Service, paging
from strongroom.framework.errorspec import ErrorSpec
from strongroom.framework.tagging import TagRules, unicode_tag_chars
from strongroom.services.cloudwatch.tables import TABLES

service = Service(
    "cloudwatch",
    action_prefix="cloudwatch",
    tables=TABLES,
    #: CloudWatch answers a request its model refuses with InvalidParameterValue.
    validation_error_code="InvalidParameterValueException",
)
errors = service.errors

#: NextToken/MaxRecords (alarms, history); NextToken alone (ListMetrics,
#: GetMetricData). A token CloudWatch did not hand out is InvalidNextToken.
BAD_TOKEN = ErrorSpec("InvalidNextToken", "The service couldn't process the NextToken.")
PAGING = paging.Paging(paging.Style("NextToken", "MaxRecords", "NextToken"), BAD_TOKEN)

#: Alarm tags: 50 a resource, keys 1-128 and values 0-256 characters, ``aws:`` reserved.
TAGS = TagRules(
    too_many=ErrorSpec("LimitExceededException", "The maximum number of tags is {limit}."),
    over_limit=ErrorSpec("LimitExceededException", "The maximum number of tags is {limit}."),
    duplicate=ErrorSpec("InvalidParameterValue", "Duplicate tag key: {key}"),
    reserved=ErrorSpec("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved."),
    bad_key=ErrorSpec("InvalidParameterValue", "Invalid tag key: {key}"),
    bad_value=ErrorSpec("InvalidParameterValue", "Invalid tag value for key {key}"),
    chars=unicode_tag_chars,
)

#: The errors PutMetricData's and the queries' rules raise, which background
#: work (the alarms' evaluation, other services' publishing) records and
#: passes over rather than stalling on.
REFUSALS = (
    errors.InvalidParameterValueException,
    errors.InvalidParameterCombinationException,
    errors.MissingRequiredParameterException,
)
