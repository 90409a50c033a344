"""The `strongroom` command."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from strongroom import __version__
from strongroom.server import config
from strongroom.server.config import Config

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


@click.group()
@click.version_option(__version__, prog_name="strongroom")
def main() -> None:
    """A self-hostable, AWS-compatible plane for database encryption, security and auditing."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4566, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--data-dir",
    default=".strongroom",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where state, the root key and blobs live.",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    envvar="STRONGROOM_STORE",
    help="State store URL (default: SQLite in the data dir; or postgresql+psycopg://…).",
)
@click.option(
    "--auth",
    type=click.Choice(["sigv4", "permissive"]),
    default="sigv4",
    show_default=True,
    help="sigv4 verifies every signature; permissive accepts any credentials as root.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option(
    "--time-travel",
    is_flag=True,
    help="Let the clock be moved forward from outside (tests only).",
)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@click.option(
    "--account",
    "default_account",
    default="000000000000",
    show_default=True,
    help="The default account id.",
)
@click.option(
    "--max-body",
    default=config.MAX_BODY,
    show_default=True,
    type=click.IntRange(min=1024),
    help="Largest request body in bytes (an operation's own bound may be lower).",
)
@click.option(
    "--max-unsigned-body",
    default=config.MAX_UNSIGNED_BODY,
    show_default=True,
    type=click.IntRange(min=1024),
    help="Largest body in bytes of a request that carries no signature.",
)
@click.option(
    "--max-buffered",
    default=config.MAX_BUFFERED,
    show_default=True,
    type=click.IntRange(min=1024),
    help="Body bytes all requests in flight may hold together, per worker (then 503).",
)
@click.option(
    "--request-timeout",
    default=config.REQUEST_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a request's headers may take to arrive (then 408).",
)
@click.option(
    "--body-timeout",
    default=config.BODY_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a request body may go without a byte arriving (then 408).",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="NAME=VALUE",
    help="A setting of a service's process resource (repeatable), e.g. "
    "lambda.python3.12=/usr/bin/python3.12.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    store_url: str | None,
    auth: str,
    log_level: str,
    time_travel: bool,
    workers: int,
    default_account: str,
    max_body: int,
    max_unsigned_body: int,
    max_buffered: int,
    request_timeout: float,
    body_timeout: float,
    options: tuple[str, ...],
) -> None:
    """Run the server."""
    settings: dict[str, str] = {}
    for option in options:
        name, eq, value = option.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{option!r} is not NAME=VALUE", param_hint="--option")
        settings[name.strip()] = value
    from strongroom.server.serve import serve as run

    run(
        Config(
            data_dir=data_dir.resolve(),
            host=host,
            port=port,
            store_url=store_url,
            auth=auth,
            log_level=log_level,
            time_travel=time_travel,
            workers=max(1, workers),
            default_account=default_account,
            max_body=max_body,
            max_unsigned_body=max_unsigned_body,
            max_buffered=max_buffered,
            request_timeout=request_timeout,
            body_timeout=body_timeout,
            options=settings,
        )
    )


@main.group()
def clock() -> None:
    """Read or move a --time-travel server's clock."""


def _endpoint(value: str | None) -> str:
    return (value or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT).rstrip("/")


def _admin(endpoint: str, method: str, body: dict | None = None) -> dict:
    """Call the clock endpoint, signed with the credentials the AWS CLI would
    use (environment, shared credentials file, profile): moving the clock is
    answered only for the server's default account root; reading it is open."""
    import botocore.session

    from strongroom.admin_client import signed_request

    session = botocore.session.Session()
    credentials = session.get_credentials()
    url = f"{endpoint}/_strongroom/clock"
    if credentials is not None:
        req = signed_request(
            url,
            method,
            body,
            credentials.get_frozen_credentials(),
            session.get_config_variable("region") or "us-east-1",
        )
    elif method == "GET":
        req = urllib.request.Request(url, method="GET")
    else:
        raise click.ClickException(
            "no AWS credentials: moving the clock takes a request signed by the "
            "account root (e.g. AWS_SHARED_CREDENTIALS_FILE=.strongroom/root-credentials)"
        )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise click.ClickException(
                f"{endpoint} has no clock endpoint: start it with --time-travel"
            ) from None
        raise click.ClickException(err.read().decode(errors="replace")) from None
    except urllib.error.URLError as err:
        raise click.ClickException(f"cannot reach {endpoint}: {err.reason}") from None


@clock.command()
@click.argument("duration")
@click.option("--endpoint", default=None, help="Server URL (default $AWS_ENDPOINT_URL).")
def advance(duration: str, endpoint: str | None) -> None:
    """Move the clock forward by DURATION (e.g. 8d, 36h, 90m)."""
    result = _admin(_endpoint(endpoint), "POST", {"advance": duration})
    click.echo(f"now {result['now']} (offset {result['offset_seconds']:.0f}s)")


@clock.command()
@click.option("--endpoint", default=None, help="Server URL (default $AWS_ENDPOINT_URL).")
def show(endpoint: str | None) -> None:
    """Print the server's current time."""
    result = _admin(_endpoint(endpoint), "GET")
    click.echo(f"now {result['now']} (offset {result['offset_seconds']:.0f}s)")


# -- rotation functions ---------------------------------------------------------


#: What a rotation function's role may do: the calls the four steps make, on
#: any secret (Secrets Manager invokes it only for secrets it rotates), and
#: the KMS calls Secrets Manager makes for it under a customer managed key.
def _rotation_role_policy(region: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                },
            },
        ],
    }


_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@main.group()
def rotation() -> None:
    """Rotation functions for Secrets Manager, ready to deploy."""


@rotation.command("deploy")
@click.option(
    "--strategy",
    type=click.Choice(["single-user", "alternating-users"]),
    default="single-user",
    show_default=True,
    help="Change the user's own password, or alternate between two users.",
)
@click.option("--engine", type=click.Choice(["postgres"]), default="postgres", show_default=True)
@click.option("--function-name", required=True, help="Name of the Lambda function to create.")
@click.option(
    "--role-name", default=None, help="Execution role to create (default <function>-role)."
)
@click.option("--runtime", default="python3.11", show_default=True)
@click.option("--exclude-characters", default=None, help="Left out of new passwords.")
@click.option("--endpoint", default=None, help="Server URL (default $AWS_ENDPOINT_URL).")
@click.option("--region", default=None, help="Region (default: the AWS CLI's, else us-east-1).")
def rotation_deploy(
    strategy: str,
    engine: str,
    function_name: str,
    role_name: str | None,
    runtime: str,
    exclude_characters: str | None,
    endpoint: str | None,
    region: str | None,
) -> None:
    """Create a rotation function, its execution role and the permission that
    lets Secrets Manager invoke it; print its ARN for `rotate-secret
    --rotation-lambda-arn`. Uses the AWS CLI's credentials."""
    import time

    import botocore.session
    from botocore.exceptions import ClientError

    from strongroom.functions import rotation_zip

    url = _endpoint(endpoint)
    session = botocore.session.Session()
    region = region or session.get_config_variable("region") or "us-east-1"
    iam = session.create_client("iam", region_name=region, endpoint_url=url)
    lam = session.create_client("lambda", region_name=region, endpoint_url=url)
    role_name = role_name or f"{function_name}-role"
    try:
        package = rotation_zip(strategy, engine)
        role_arn = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST),
            Description=f"Execution role of the {strategy} rotation function {function_name}",
        )["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="rotation",
            PolicyDocument=json.dumps(_rotation_role_policy(region)),
        )
        variables = {"EXCLUDE_CHARACTERS": exclude_characters} if exclude_characters else {}
        arn = lam.create_function(
            FunctionName=function_name,
            Runtime=runtime,
            Role=role_arn,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": package},
            Timeout=30,
            Description=f"Secrets Manager rotation for {engine} ({strategy})",
            Environment={"Variables": variables},
        )["FunctionArn"]
        lam.add_permission(
            FunctionName=function_name,
            StatementId="SecretsManagerAccess",
            Action="lambda:InvokeFunction",
            Principal="secretsmanager.amazonaws.com",
        )
        deadline = time.monotonic() + 60
        while lam.get_function_configuration(FunctionName=function_name)["State"] == "Pending":
            if time.monotonic() > deadline:
                raise click.ClickException(f"{function_name} did not become Active in 60 s")
            time.sleep(0.2)
    except (LookupError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    except ClientError as err:
        raise click.ClickException(str(err)) from None
    click.echo(arn)


if __name__ == "__main__":
    sys.exit(main())
