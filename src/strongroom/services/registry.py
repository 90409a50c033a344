"""The services this server answers, in the order the router prefers them."""

from __future__ import annotations

from strongroom.framework import Service


def served_services() -> list[Service]:
    from strongroom.services.cloudtrail import service as cloudtrail
    from strongroom.services.cloudwatch import service as cloudwatch
    from strongroom.services.iam import service as iam
    from strongroom.services.kms import service as kms
    from strongroom.services.lambda_ import service as lambda_
    from strongroom.services.logs import service as logs
    from strongroom.services.rds import service as rds
    from strongroom.services.s3 import service as s3
    from strongroom.services.s3control import service as s3control
    from strongroom.services.secretsmanager import service as secretsmanager
    from strongroom.services.sts import service as sts

    return [
        sts,
        iam,
        cloudtrail,
        kms,
        secretsmanager,
        lambda_,
        s3,
        s3control,
        rds,
        logs,
        cloudwatch,
    ]
