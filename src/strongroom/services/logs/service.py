"""The CloudWatch Logs `Service` object every module registers on, its
errors, paging and tag rules."""

from __future__ import annotations

from strongroom.framework import Service, paging
from strongroom.framework.errorspec import ErrorSpec
from strongroom.framework.tagging import TagRules, unicode_tag_chars
from strongroom.services.logs.tables import TABLES

service = Service(
    "logs",
    tables=TABLES,
    read_only=frozenset({"FilterLogEvents", "TestMetricFilter"}),
    #: AWS answers a request its model refuses with InvalidParameterException
    #: ("1 validation error detected: ...").
    validation_error_code="InvalidParameterException",
)
errors = service.errors

#: Logs pages with nextToken/limit (DescribeQueries and
#: DescribeQueryDefinitions with nextToken/maxResults); a token not handed
#: out for the listing it is used on is InvalidParameterException.
BAD_TOKEN = ErrorSpec("InvalidParameterException", "The specified nextToken is invalid.")
PAGING = paging.Paging(paging.Style("nextToken", "limit", "nextToken"), BAD_TOKEN)
PAGING_MAX = paging.Paging(paging.Style("nextToken", "maxResults", "nextToken"), BAD_TOKEN)

#: Log group tags: 50 a group, keys 1-128 and values 0-256 of
#: ``[\p{L}\p{Z}\p{N}_.:/=+\-@]`` (the model's patterns), ``aws:`` reserved.
TAGS = TagRules(
    too_many=ErrorSpec("InvalidParameterException", "A log group can have at most {limit} tags."),
    over_limit=ErrorSpec("TooManyTagsException", "A log group can have at most {limit} tags."),
    duplicate=ErrorSpec("InvalidParameterException", "Duplicate tag key: {key}"),
    reserved=ErrorSpec(
        "InvalidParameterException", "Tag keys starting with 'aws:' are reserved for AWS use."
    ),
    bad_key=ErrorSpec("InvalidParameterException", "Invalid tag key: {key}"),
    bad_value=ErrorSpec("InvalidParameterException", "Invalid tag value for key {key}"),
    chars=unicode_tag_chars,
)
