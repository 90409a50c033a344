"""Trail operations: create, update, delete, describe, status, logging,
tags, event and insight selectors. Thin: the rules are in `trails`,
`selectors` and `destinations`."""

from __future__ import annotations

from typing import Any

from strongroom.framework import Call, tagging
from strongroom.framework.errorspec import ErrorSpec
from strongroom.services.cloudtrail import delivery, destinations, selection, trails
from strongroom.services.cloudtrail.service import LIST_TAGS, LIST_TRAILS, errors, service
from strongroom.services.cloudtrail.trails import Trail

#: CloudTrail's tag rules: 50 a trail, keys 1-128, values 0-256.
TAGS = tagging.TagRules(
    too_many=ErrorSpec("TagsLimitExceededException", "The number of tags exceeds {limit}."),
    over_limit=ErrorSpec(
        "TagsLimitExceededException", "The number of tags on the resource exceeds {limit}."
    ),
    duplicate=ErrorSpec("InvalidTagParameterException", "Duplicate tag key: {key}."),
    reserved=ErrorSpec("InvalidTagParameterException", "Tag keys starting with aws: are reserved."),
    bad_key=ErrorSpec("InvalidTagParameterException", "Tag key {key} is not valid."),
    bad_value=ErrorSpec("InvalidTagParameterException", "Tag value for key {key} is not valid."),
    chars=tagging.unicode_tag_chars,
)

INSIGHT_TYPES = ("ApiCallRateInsight", "ApiErrorRateInsight")


def _authorize(call: Call, action: str, arn: str) -> None:
    call.authorize(f"cloudtrail:{action}", arn)


def _resolve(call: Call, action: str, name: str | None, *, home: bool = False) -> Trail:
    """The trail `name` names, once the caller may act on it (the ARN it
    would have when it is not there)."""
    if name and not name.startswith("arn:") and len(name) >= 3:
        guess = trails.trail_arn(call.account, call.region, name)
    else:
        guess = name or "*"
    found = trails.find(call, name) if name else None
    _authorize(call, action, found.arn if found else guess)
    trail = found or trails.resolve(call, name)
    if home:
        trails.require_home(call, trail)
    call.audit_resources = [{"ARN": trail.arn, "type": "AWS::CloudTrail::Trail"}]
    return trail


@service.operation(authorize=False)
def create_trail(
    call: Call,
    Name: str,
    S3BucketName: str,
    S3KeyPrefix: str | None = None,
    SnsTopicName: str | None = None,
    IncludeGlobalServiceEvents: bool | None = None,
    IsMultiRegionTrail: bool | None = None,
    EnableLogFileValidation: bool | None = None,
    RecursiveLogging: bool | None = None,
    CloudWatchLogsLogGroupArn: str | None = None,
    CloudWatchLogsRoleArn: str | None = None,
    KmsKeyId: str | None = None,
    IsOrganizationTrail: bool | None = None,
    TagsList: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    arn = trails.trail_arn(call.account, call.region, Name)
    tags = TAGS.from_wire(TagsList)
    call.authorize("cloudtrail:CreateTrail", arn, tagging.request_context(tags))
    trails.require_name(Name)
    if trails.find(call, Name) is not None or any(
        t.name == Name and t.region == call.region
        for t in trails.account_trails(call.conn, call.account)
    ):
        raise errors.TrailAlreadyExistsException(
            f"Trail {arn} already exists for customer: {call.account}"
        )
    multi = bool(IsMultiRegionTrail)
    include_global = True if IncludeGlobalServiceEvents is None else IncludeGlobalServiceEvents
    if multi and not include_global:
        raise errors.InvalidParameterCombinationException(
            "Multi-Region trail must include global service events."
        )
    if IsOrganizationTrail:
        raise errors.NotOrganizationMasterAccountException(
            f"The request was rejected because account {call.account} is not the management "
            "account for an organization."
        )
    trails.require_room(call, multi)
    trails.require_bucket_name(S3BucketName)
    trails.require_prefix(S3KeyPrefix)
    trails.require_logs(CloudWatchLogsLogGroupArn, CloudWatchLogsRoleArn)
    TAGS.require_valid(call, tags)
    destinations.check_bucket(call, S3BucketName, S3KeyPrefix, arn)
    if CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn:
        destinations.check_logs(call, CloudWatchLogsLogGroupArn, CloudWatchLogsRoleArn, call.region)
    key_arn = destinations.resolve_kms_key(call, KmsKeyId, arn) if KmsKeyId else None
    trail = Trail(
        account=call.account,
        region=call.region,
        name=Name,
        arn=arn,
        s3_bucket=S3BucketName,
        s3_prefix=S3KeyPrefix or None,
        sns_topic=SnsTopicName or None,
        include_global=include_global,
        multi_region=multi,
        validation=bool(EnableLogFileValidation),
        recursive_logging=RecursiveLogging is not False,
        logs_group_arn=CloudWatchLogsLogGroupArn or None,
        logs_role_arn=CloudWatchLogsRoleArn or None,
        kms_key_arn=key_arn,
        tags=TAGS.to_rows(tags),
        created=call.clock.timestamp(),
    )
    trails.create(call.conn, trail)
    call.audit_resources = [{"ARN": arn, "type": "AWS::CloudTrail::Trail"}]
    return trail.to_created()


@service.operation(authorize=False)
def update_trail(
    call: Call,
    Name: str,
    S3BucketName: str | None = None,
    S3KeyPrefix: str | None = None,
    SnsTopicName: str | None = None,
    IncludeGlobalServiceEvents: bool | None = None,
    IsMultiRegionTrail: bool | None = None,
    EnableLogFileValidation: bool | None = None,
    RecursiveLogging: bool | None = None,
    CloudWatchLogsLogGroupArn: str | None = None,
    CloudWatchLogsRoleArn: str | None = None,
    KmsKeyId: str | None = None,
    IsOrganizationTrail: bool | None = None,
) -> dict[str, Any]:
    trail = _resolve(call, "UpdateTrail", Name, home=True)
    if S3BucketName is not None:
        trails.require_bucket_name(S3BucketName)
        trail.s3_bucket = S3BucketName
    if S3KeyPrefix is not None:
        trails.require_prefix(S3KeyPrefix)
        trail.s3_prefix = S3KeyPrefix or None
    if SnsTopicName is not None:
        trail.sns_topic = SnsTopicName or None
    if IncludeGlobalServiceEvents is not None:
        trail.include_global = IncludeGlobalServiceEvents
    if IsMultiRegionTrail is not None:
        if IsMultiRegionTrail and not trail.multi_region:
            trails.require_room(call, True)
        trail.multi_region = IsMultiRegionTrail
    if trail.multi_region and not trail.include_global:
        raise errors.InvalidParameterCombinationException(
            "Multi-Region trail must include global service events."
        )
    if IsOrganizationTrail:
        raise errors.NotOrganizationMasterAccountException(
            f"The request was rejected because account {call.account} is not the management "
            "account for an organization."
        )
    if EnableLogFileValidation is not None:
        trail.validation = EnableLogFileValidation
    if RecursiveLogging is not None:
        trail.recursive_logging = RecursiveLogging
    if CloudWatchLogsLogGroupArn is not None or CloudWatchLogsRoleArn is not None:
        group = CloudWatchLogsLogGroupArn or None
        role = CloudWatchLogsRoleArn or None
        trails.require_logs(group, role)
        if group and role:
            destinations.check_logs(call, group, role, trail.region)
        trail.logs_group_arn, trail.logs_role_arn = group, role
    if S3BucketName is not None or S3KeyPrefix is not None:
        destinations.check_bucket(call, trail.s3_bucket, trail.s3_prefix, trail.arn)
    if KmsKeyId is not None:
        trail.kms_key_arn = (
            destinations.resolve_kms_key(call, KmsKeyId, trail.arn) if KmsKeyId else None
        )
    trails.save(
        call.conn,
        trail,
        "s3_bucket",
        "s3_prefix",
        "sns_topic",
        "include_global",
        "multi_region",
        "validation",
        "recursive_logging",
        "logs_group_arn",
        "logs_role_arn",
        "kms_key_arn",
    )
    return trail.to_created()


@service.operation(authorize=False)
def delete_trail(call: Call, Name: str) -> dict[str, Any]:
    trail = _resolve(call, "DeleteTrail", Name, home=True)
    trails.remove(call.conn, trail)
    return {}


@service.operation(authorize=False)
def get_trail(call: Call, Name: str) -> dict[str, Any]:
    return {"Trail": _resolve(call, "GetTrail", Name).to_trail()}


@service.operation(authorize=False)
def describe_trails(
    call: Call, trailNameList: list[str] | None = None, includeShadowTrails: bool | None = None
) -> dict[str, Any]:
    call.authorize("cloudtrail:DescribeTrails", "*")
    shadows = True if includeShadowTrails is None else includeShadowTrails
    found = trails.visible(call.conn, call.account, call.region, shadows)
    if trailNameList:
        for name in trailNameList:
            trails.parse_name(name)
        wanted = set(trailNameList)
        found = [t for t in found if t.name in wanted or t.arn in wanted]
    return {"trailList": [t.to_trail() for t in found]}


@service.operation(authorize=False)
def list_trails(call: Call, NextToken: str | None = None) -> dict[str, Any]:
    call.authorize("cloudtrail:ListTrails", "*")
    found = [
        {"TrailARN": t.arn, "Name": t.name, "HomeRegion": t.region}
        for t in trails.visible(call.conn, call.account, call.region)
    ]
    return LIST_TRAILS.over_list(call, found, NextToken, None)


@service.operation(authorize=False)
def get_trail_status(call: Call, Name: str) -> dict[str, Any]:
    return _resolve(call, "GetTrailStatus", Name).to_status()


@service.operation(authorize=False)
def start_logging(call: Call, Name: str) -> dict[str, Any]:
    trail = _resolve(call, "StartLogging", Name, home=True)
    if not trail.logging:
        now = call.clock.timestamp()
        trail.logging = True
        trail.start_logging = now
        # Delivery starts from the events recorded from now on.
        trail.cursor_seq, trail.cursor_index = delivery.audit_end(call.conn)
        delivery.reset_logs_cursor(call.conn, trail)
        trail.next_delivery = now
        if trail.validation and trail.digest_start is None:
            trail.digest_start = now
            trail.digest_due = now + 3600
        trails.save(
            call.conn,
            trail,
            "logging",
            "start_logging",
            "cursor_seq",
            "cursor_index",
            "next_delivery",
            "digest_start",
            "digest_due",
        )
    return {}


@service.operation(authorize=False)
def stop_logging(call: Call, Name: str) -> dict[str, Any]:
    trail = _resolve(call, "StopLogging", Name, home=True)
    if trail.logging:
        trail.logging = False
        trail.stop_logging = call.clock.timestamp()
        trails.save(call.conn, trail, "logging", "stop_logging")
    return {}


# -- tags --------------------------------------------------------------------


def _tag_target(call: Call, action: str, resource_id: str | None) -> Trail:
    if not resource_id:
        raise errors.ResourceNotFoundException("Resource ID is required.")
    if not resource_id.startswith("arn:aws:cloudtrail:"):
        raise errors.CloudTrailARNInvalidException(
            f"CloudTrail ARN is invalid: {resource_id}. The ARN must be in the format "
            "arn:aws:cloudtrail:region:account-id:trail/trail-name."
        )
    found = trails.find(call, resource_id)
    _authorize(call, action, resource_id)
    if found is None:
        raise errors.ResourceNotFoundException(f"Resource not found: {resource_id}.")
    call.audit_resources = [{"ARN": found.arn, "type": "AWS::CloudTrail::Trail"}]
    return found


@service.operation(authorize=False)
def add_tags(call: Call, ResourceId: str, TagsList: list[dict[str, str]]) -> dict[str, Any]:
    trail = _tag_target(call, "AddTags", ResourceId)
    tags = TAGS.from_wire(TagsList)
    TAGS.require_valid(call, tags)
    trail.tags = TAGS.to_rows(TAGS.merged(call, trail.tag_list, tags))
    trails.save(call.conn, trail, "tags")
    return {}


@service.operation(authorize=False)
def remove_tags(call: Call, ResourceId: str, TagsList: list[dict[str, str]]) -> dict[str, Any]:
    trail = _tag_target(call, "RemoveTags", ResourceId)
    keys = [t["Key"] for t in TagsList]
    trail.tags = TAGS.to_rows(TAGS.without(trail.tag_list, keys))
    trails.save(call.conn, trail, "tags")
    return {}


@service.operation(authorize=False)
def list_tags(
    call: Call, ResourceIdList: list[str], NextToken: str | None = None
) -> dict[str, Any]:
    found = [_tag_target(call, "ListTags", rid) for rid in ResourceIdList]
    listed = [{"ResourceId": t.arn, "TagsList": TAGS.to_wire(t.tag_list)} for t in found]
    return LIST_TAGS.over_list(call, listed, NextToken, None, scope=(ResourceIdList,))


# -- selectors ---------------------------------------------------------------


@service.operation(authorize=False)
def put_event_selectors(
    call: Call,
    TrailName: str,
    EventSelectors: list[dict[str, Any]] | None = None,
    AdvancedEventSelectors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    trail = _resolve(call, "PutEventSelectors", TrailName, home=True)
    if (EventSelectors is None) == (AdvancedEventSelectors is None):
        raise errors.InvalidEventSelectorsException(
            "Specify either event selectors or advanced event selectors, but not both."
            if EventSelectors is not None
            else "You must specify event selectors or advanced event selectors."
        )
    try:
        if EventSelectors is not None:
            trail.selectors = {"basic": selection.validate_basic(EventSelectors)}
        else:
            assert AdvancedEventSelectors is not None
            trail.selectors = {"advanced": selection.validate_advanced(AdvancedEventSelectors)}
    except selection.SelectorError as bad:
        raise errors.InvalidEventSelectorsException(str(bad)) from None
    trails.save(call.conn, trail, "selectors")
    return {"TrailARN": trail.arn, **_selectors_out(trail)}


def _selectors_out(trail: Trail) -> dict[str, Any]:
    stored = trail.selectors
    if stored and "advanced" in stored:
        return {"AdvancedEventSelectors": stored["advanced"]}
    return {"EventSelectors": (stored or {}).get("basic", selection.DEFAULT_BASIC)}


@service.operation(authorize=False)
def get_event_selectors(call: Call, TrailName: str) -> dict[str, Any]:
    trail = _resolve(call, "GetEventSelectors", TrailName)
    return {"TrailARN": trail.arn, **_selectors_out(trail)}


@service.operation(authorize=False)
def put_insight_selectors(
    call: Call,
    InsightSelectors: list[dict[str, str]],
    TrailName: str | None = None,
    EventDataStore: str | None = None,
    InsightsDestination: str | None = None,
) -> dict[str, Any]:
    if EventDataStore or InsightsDestination:
        call.authorize("cloudtrail:PutInsightSelectors", "*")
        raise errors.InvalidParameterCombinationException(
            "Event data stores are not supported by this server; specify a trail."
        )
    trail = _resolve(call, "PutInsightSelectors", TrailName, home=True)
    chosen = []
    for selector in InsightSelectors:
        kind = selector.get("InsightType")
        if kind not in INSIGHT_TYPES or kind in chosen:
            raise errors.InvalidInsightSelectorsException(
                "The insight selector is not valid. Valid insight types are "
                "ApiCallRateInsight and ApiErrorRateInsight."
            )
        chosen.append(kind)
    trail.insights = [{"InsightType": k} for k in chosen] or None
    trails.save(call.conn, trail, "insights")
    return {"TrailARN": trail.arn, "InsightSelectors": trail.insights or []}


@service.operation(authorize=False)
def get_insight_selectors(
    call: Call, TrailName: str | None = None, EventDataStore: str | None = None
) -> dict[str, Any]:
    if EventDataStore:
        call.authorize("cloudtrail:GetInsightSelectors", "*")
        raise errors.InvalidParameterCombinationException(
            "Event data stores are not supported by this server; specify a trail."
        )
    trail = _resolve(call, "GetInsightSelectors", TrailName)
    if not trail.insights:
        raise errors.InsightNotEnabledException(
            f"Trail {trail.arn} does not have Insights enabled. Use PutInsightSelectors "
            "to enable Insights on a trail."
        )
    return {"TrailARN": trail.arn, "InsightSelectors": trail.insights}
