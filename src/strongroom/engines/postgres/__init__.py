"""The PostgreSQL engine driver (issue #12 item 1): real ``postgres`` servers
behind :class:`strongroom.engines.driver.DatabaseEngine`. See docs/engines.md."""

from strongroom.engines.postgres.account import Account, resolve_account
from strongroom.engines.postgres.binaries import Catalogue
from strongroom.engines.postgres.engine import PostgresEngine

__all__ = ["Account", "Catalogue", "PostgresEngine", "resolve_account"]
