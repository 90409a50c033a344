"""`strongroom serve`: prepare the store, then run the ASGI server.

Preparation happens once in the parent process (schema, root credentials) so
that several worker processes never race to create them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from strongroom.auth import credentials
from strongroom.auth.tables import access_keys
from strongroom.server.config import Config
from strongroom.server.schema import create_state_schema
from strongroom.store.db import Store, default_url
from strongroom.store.files import prepare_data_dir
from strongroom.store.sealing import Sealer, load_root_key

CONFIG_ENV = "STRONGROOM_SERVE_CONFIG"
ROOT_KEY_ID_ENV = "STRONGROOM_ROOT_ACCESS_KEY_ID"
ROOT_SECRET_ENV = "STRONGROOM_ROOT_SECRET_ACCESS_KEY"
CREDENTIALS_FILE = "root-credentials"

console = Console(stderr=True, soft_wrap=True)


def config_to_env(config: Config) -> str:
    data = dataclasses.asdict(config)
    data["data_dir"] = str(config.data_dir)
    return json.dumps(data)


def config_from_env() -> Config:
    data = json.loads(os.environ[CONFIG_ENV])
    data["data_dir"] = Path(data["data_dir"])
    return Config(**data)


def prepare(config: Config) -> tuple[str, str | None, Path]:
    """Create the data dir, schema and the default account's root key.

    Returns (access key id, secret or None when it already existed, file path).
    """
    prepare_data_dir(config.data_dir)
    sealer = Sealer(load_root_key(config.data_dir))
    store = Store(config.store_url or default_url(config.data_dir))
    try:
        create_state_schema(store)
        return _ensure_root_key(config, store, sealer)
    finally:
        store.close()


def _ensure_root_key(config: Config, store: Store, sealer: Sealer) -> tuple[str, str | None, Path]:
    path = config.data_dir / CREDENTIALS_FILE
    wanted_id = os.environ.get(ROOT_KEY_ID_ENV)
    wanted_secret = os.environ.get(ROOT_SECRET_ENV)
    if bool(wanted_id) != bool(wanted_secret):
        raise SystemExit(f"set both {ROOT_KEY_ID_ENV} and {ROOT_SECRET_ENV}, or neither")
    with store.transaction(write=True) as conn:
        if wanted_id:
            row = conn.execute(
                select(access_keys.c.account, access_keys.c.user_name).where(
                    access_keys.c.access_key_id == wanted_id
                )
            ).first()
            if row is not None:
                if row[0] != config.default_account or row[1] is not None:
                    raise SystemExit(f"{wanted_id} already belongs to another principal")
                cred = credentials.lookup(conn, sealer, wanted_id)
                if cred is not None and cred.secret != wanted_secret:
                    raise SystemExit(f"{ROOT_KEY_ID_ENV} exists with a different secret")
                return wanted_id, None, path
            akid, secret = credentials.create_access_key(
                conn,
                sealer,
                account=config.default_account,
                now=time.time(),
                access_key_id=wanted_id,
                secret=wanted_secret,
            )
        else:
            row = conn.execute(
                select(access_keys.c.access_key_id).where(
                    access_keys.c.account == config.default_account,
                    access_keys.c.user_name.is_(None),
                )
            ).first()
            if row is not None:
                return row[0], None, path
            akid, secret = credentials.create_access_key(
                conn, sealer, account=config.default_account, now=time.time()
            )
    _write_credentials_file(path, config.default_account, akid, secret)
    return akid, secret, path


def _write_credentials_file(path: Path, account: str, akid: str, secret: str) -> None:
    text = (
        f"# strongroom root credentials of account {account}\n"
        f"[default]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n"
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def serve(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    akid, _secret, cred_path = prepare(config)
    console.print(
        f"strongroom: root access key [bold]{akid}[/] of account {config.default_account}; "
        f"credentials in {cred_path} (mode 0600)"
    )
    console.print(
        f"strongroom: serving on http://{config.host}:{config.port} "
        f"(auth {config.auth}{', time travel' if config.time_travel else ''}, "
        f"{config.workers} worker{'s' if config.workers > 1 else ''})"
    )
    import uvicorn

    from strongroom.server.http import StrongroomHttp

    os.environ[CONFIG_ENV] = config_to_env(config)
    loop = "uvloop" if sys.platform != "win32" else "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        loop = "asyncio"
    uv_config = uvicorn.Config(
        "strongroom.server.app:create_app",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        loop=loop,
        http=StrongroomHttp,
        proxy_headers=False,
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level=config.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
    if config.workers > 1:
        from uvicorn.supervisors import Multiprocess

        sock = uv_config.bind_socket()
        Multiprocess(uv_config, sockets=[sock]).run()
    else:
        uvicorn.Server(uv_config).run()
