"""The state store: SQLAlchemy Core over SQLite (default) or PostgreSQL.

Services declare their tables on the shared `metadata` (in their own
`tables.py`); `Store.open` creates what is missing and records the schema
version. Every request runs in one transaction that commits before its
response is sent, so an acknowledged change survives `kill -9`.

SQLite runs in WAL mode with `synchronous=NORMAL`: a commit is in the WAL
before the response, which survives the process dying. Writers take the lock
up front (`BEGIN IMMEDIATE`) so several server processes never dead-lock on a
read-to-write upgrade, and a writer that finds it taken tries again every
half millisecond (`_take_write_lock`) rather than in SQLite's ever longer sleeps.

Threads: the event loop's thread has one long-lived connection and the
per-transaction state on the `Store` (`writing`, the hot cache). A request
answered off the loop (a blocking operation, see `Store.off_loop`) runs in a
worker thread with a connection of that thread's own (SQLite: the same
PRAGMAs and hooks; PostgreSQL: one from the pool per transaction); its
transactions never read or fill the hot cache and never touch the loop's
state, and its commits move the state generation like any other, so the
loop's cache learns of them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.pool import NullPool

from strongroom.store.columns import JsonText
from strongroom.store.columns import dump as json_dump
from strongroom.store.columns import load as json_load
from strongroom.store.files import private_database
from strongroom.store.generation import ANYTHING, SharedGeneration, slot_of

#: Bump when a table changes; add a step to `_MIGRATIONS` that brings the
#: previous version forward.
SCHEMA_VERSION = 3

metadata = MetaData()

schema_table = Table(
    "strongroom_schema",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

#: Process-independent settings, e.g. the time-travel clock offset.
settings_table = Table(
    "strongroom_settings",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", String(4096), nullable=False),
)

#: Leases make scheduled work run once across all server processes.
leases_table = Table(
    "strongroom_leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)


def _to_slim_audit_records(conn: Connection) -> None:
    """Version 2 stores audit records slim, with identities in a table of
    their own (created above by `create_all`). Old rows stay as they are and
    read as before; the bump keeps older strongrooms, which cannot read the
    new rows, off this store."""


_MIGRATIONS: dict[int, Any] = {2: _to_slim_audit_records}


def register_migration(version: int, step: Any) -> None:
    """`step(conn)` brings a store from `version - 1` to `version`; for a
    migration that belongs to the package owning the tables it changes."""
    _MIGRATIONS[version] = step


#: Entries the hot cache holds before it starts over.
HOT_CACHE_LIMIT = 100_000
#: How long a request's write waits for another connection's write lock.
BUSY_TIMEOUT_MS = 10_000
#: The event loop's connection lets SQLite's busy handler retry this long
#: only; `_take_write_lock` retries after that (see there for why).
LOOP_BUSY_TIMEOUT_MS = 2
#: Seconds `_take_write_lock` sleeps between two attempts.
LOCK_RETRY_SLEEP = 0.0005
#: A WAL file is cut back to this size whenever the WAL starts over.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Checkpoint intervals the idle-priority checkpointer may miss before the
#: event loop does a pass itself.
STARVED_PASSES = 5


class StoreError(Exception):
    pass


class StoreBusy(StoreError):
    """Another connection holds the write lock and the caller chose not to wait."""


def default_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{data_dir / 'state.db'}"


def _install_sqlite_hooks(engine: Engine, store: Store) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        # No checkpoint on the request path: its fsync stalls the event loop
        # for tens of milliseconds. Store.start_checkpointer runs them aside.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        store._watch_writes(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: exec_driver_sql costs as much as a query.
        driver = conn.connection.driver_connection
        if driver.in_transaction:  # begun by Store.transaction; SQLAlchemy joins it
            return
        if store._off_loop and threading.get_ident() in store._off_loop:
            # A worker's write transaction is begun up front (`_WorkerTransaction`):
            # this is its read transaction; `store.writing` is the loop's.
            driver.execute("BEGIN")
            return
        driver.execute("BEGIN IMMEDIATE" if store.writing else "BEGIN")


_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any], bool, frozenset[str]]


class Prepared:
    """A statement compiled once per dialect and run on the driver's cursor.

    SQLAlchemy's execute path costs around 100 µs a statement; the few
    statements on the hot path of every request (credential look-ups) are
    compiled here once and cost a tenth of that. Results are plain tuples.

    Column types are not applied here, except `JsonText`: its columns are
    decoded in the rows a SELECT returns and its parameters encoded.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        #: dialect -> (SQL, parameter order, literal parameters, SQLite?,
        #: the parameters of JsonText columns).
        self._compiled: dict[str, _Compiled] = {}
        columns = getattr(statement, "selected_columns", None)
        #: Rows come back as named tuples (``row.account``) for SELECTs.
        self._row = (
            namedtuple("Row", list(columns.keys()), rename=True) if columns is not None else None
        )
        #: Positions of the JsonText columns a SELECT returns.
        self._json_columns = (
            tuple(i for i, c in enumerate(columns) if isinstance(c.type, JsonText))
            if columns is not None
            else ()
        )

    def _make(self, row: Any) -> Any:
        """A named row, its JsonText columns decoded."""
        values = list(row)
        for i in self._json_columns:
            values[i] = json_load(values[i])
        return self._row._make(values)  # type: ignore[union-attr]

    @staticmethod
    def _encoded(json_params: frozenset[str], params: dict[str, Any]) -> dict[str, Any]:
        return {k: json_dump(v) if k in json_params else v for k, v in params.items()}

    def _for(self, conn: Connection) -> _Compiled:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            positions = compiled.positiontup if compiled.positional else None
            # Literal values inside the statement (``x + 1``) are bound too.
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = (
                compiled.string,
                tuple(positions) if positions is not None else None,
                defaults,
                name == "sqlite",
                frozenset(
                    key for key, bind in compiled.binds.items() if isinstance(bind.type, JsonText)
                ),
            )
            self._compiled[name] = found
        return found

    def _run(self, conn: Connection, params: dict[str, Any]) -> Any:
        sql, positions, defaults, sqlite, json_params = self._for(conn)
        if defaults:
            params = {**defaults, **params}
        if json_params:
            params = self._encoded(json_params, params)
        driver = conn.connection.driver_connection
        if sqlite and not driver.in_transaction:
            driver.execute("BEGIN")  # a read transaction begins at its first statement
        cursor = driver.cursor()
        if positions is not None:
            cursor.execute(sql, tuple(params[p] for p in positions))
        else:
            cursor.execute(sql, params)
        return cursor

    def first(self, conn: Connection, **params: Any) -> Any:
        cursor = self._run(conn, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None or self._row is None:
            return row
        return self._make(row) if self._json_columns else self._row._make(row)

    def rowcount(self, conn: Connection, **params: Any) -> int:
        """Run an UPDATE or DELETE; how many rows it touched."""
        cursor = self._run(conn, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def execute_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Run the statement once per row (e.g. a batched INSERT)."""
        sql, positions, defaults, sqlite, json_params = self._for(conn)
        if defaults:
            rows = [{**defaults, **row} for row in rows]
        if json_params:
            rows = [self._encoded(json_params, row) for row in rows]
        driver = conn.connection.driver_connection
        if sqlite and not driver.in_transaction:
            driver.execute("BEGIN")
        cursor = driver.cursor()
        try:
            if positions is not None:
                cursor.executemany(sql, [tuple(row[p] for p in positions) for row in rows])
            else:
                cursor.executemany(sql, rows)
        finally:
            cursor.close()

    def execute_rows(
        self, conn: Connection, names: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """`execute_many` for rows given as tuples of the parameters `names`:
        handed to the driver as they are when its order is the same."""
        sql, positions, defaults, sqlite, json_params = self._for(conn)
        if positions != names or defaults or json_params:
            self.execute_many(conn, [dict(zip(names, row, strict=True)) for row in rows])
            return
        driver = conn.connection.driver_connection
        if sqlite and not driver.in_transaction:
            driver.execute("BEGIN")
        cursor = driver.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()

    def all(self, conn: Connection, **params: Any) -> list[Any]:
        cursor = self._run(conn, params)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if self._row is None:
            return rows
        make = self._make if self._json_columns else self._row._make
        return [make(r) for r in rows]


def _install_change_triggers(driver: sqlite3.Connection, writes: _Writes) -> None:
    """A temporary trigger (this connection's only) on every table for each
    kind of change, telling `writes` the table's slot: SQLite itself says
    what a transaction changed, cascades and all, whatever statement did."""
    names = [
        row[0]
        for row in driver.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for name in names:
        if name in writes.watched:
            continue
        slot = slot_of(name)
        quoted = name.replace('"', '""')
        for kind in ("INSERT", "UPDATE", "DELETE"):
            driver.execute(
                f'CREATE TEMP TRIGGER IF NOT EXISTS "strongroom_{kind.lower()}_{quoted}" '
                f'AFTER {kind} ON main."{quoted}" BEGIN SELECT strongroom_changed({slot}); END'
            )
    writes.watched = frozenset(names)


class _WatchedConnection(sqlite3.Connection):
    """A SQLite connection that carries the record of what it changed."""

    writes: _Writes


class HotTables:
    """The tables a cached value is derived from (see `Store.hot_put`):
    made once, at import, by the module that caches such values."""

    __slots__ = ("names", "slots")

    def __init__(self, *tables: Table | str) -> None:
        self.names = tuple(t if isinstance(t, str) else t.name for t in tables)
        if not self.names:
            raise ValueError("a value derived from no table needs no cache")
        self.slots = (ANYTHING, *sorted({slot_of(n) for n in self.names}))

    def __repr__(self) -> str:
        return f"HotTables{self.names}"


class _HotDomain:
    """The cached values of one `HotTables`, and the counters they were cached at."""

    __slots__ = ("entries", "stamps")

    def __init__(self) -> None:
        self.entries: dict[Any, Any] = {}
        self.stamps: tuple[int, ...] = ()


class _Writes:
    """What one SQLite connection's current transaction changed, as its
    triggers report it: the table slots, and how many rows."""

    __slots__ = ("rows", "slots", "watched")

    def __init__(self) -> None:
        self.slots: set[int] = set()
        self.rows = 0
        #: The tables the connection's triggers watch (empty: not installed).
        self.watched: frozenset[str] = frozenset()

    def changed(self, slot: int) -> None:
        self.slots.add(slot)
        self.rows += 1


class Store:
    """One process's handle on the shared state."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                url, poolclass=NullPool, connect_args={"factory": _WatchedConnection}
            )
            _install_sqlite_hooks(self.engine, self)
        else:
            self.engine = create_engine(url, pool_size=4, max_overflow=8, pool_pre_ping=True)
        self._conn: Connection | None = None
        #: The DB-API connection under `_conn` (SQLite), kept to skip
        #: SQLAlchemy's property chain on every request.
        self._driver: Any = None
        #: Whether the current transaction writes: a Core statement that
        #: begins it on SQLite must take the write lock up front.
        self.writing = False
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None
        self._checkpoint_interval = 1.0
        #: When the last checkpoint pass finished (time.monotonic()).
        self.checkpointed_at = 0.0
        #: Passes the event loop did because the checkpointer was starved.
        self.starved_checkpoints = 0
        #: Values derived from stored state, valid for one state generation:
        #: open (a dict) while the current transaction reads exactly that
        #: state, None otherwise. See `transaction`.
        self.hot: dict[Any, Any] | None = None
        self._hot: dict[Any, Any] = {}
        self._hot_generation: int | None = None
        self._hot_driver: Any = None
        self._hot_changes = 0
        #: Values that depend on some tables only (`HotTables`), kept across
        #: commits that touched none of them.
        self._hot_domains: dict[HotTables, _HotDomain] = {}
        #: The SQLite connections whose changes are watched (`_WatchedConnection`).
        self._watched: weakref.WeakSet[_WatchedConnection] = weakref.WeakSet()
        #: Threads answering a request off the event loop right now
        #: (`off_loop`): their transactions use connections of their own.
        #: Empty while none is, which is all the loop's hot path checks.
        self._off_loop: set[int] = set()
        #: Each worker thread's own SQLite connection (`_worker_connection`).
        self._local = threading.local()
        self._worker_conns: list[Connection] = []
        self._worker_lock = threading.Lock()
        #: Write requests of this process running off the loop (kept by the
        #: App, on the loop): on SQLite such a request holds the write lock
        #: for as long as it runs, so the loop must not wait for that lock.
        self.writes_off_loop = 0
        database = self._database_path()
        if database is not None:
            private_database(database)  # before SQLite creates it, or its -wal and -shm
        self.generation = SharedGeneration(database)

    def _database_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        database = self.engine.url.database
        if not database or database == ":memory:":
            return None
        return Path(database)

    # -- schema -----------------------------------------------------------

    def create_schema(self, tables: Iterable[Table] = ()) -> None:
        """Create the store's own tables and `tables` where missing, and bring
        the schema to SCHEMA_VERSION. The store names no table of another
        layer: the composition root passes them (`strongroom.server.schema`),
        having imported the modules that register their migrations."""
        own = [schema_table, settings_table, leases_table]
        # Connections open before new tables existed watch them from their
        # next transaction on.
        for driver in list(self._watched):
            driver.writes.watched = frozenset()
        with self.engine.connect() as conn:
            self.writing = True
            with conn.begin():
                metadata.create_all(conn, tables=[*own, *tables], checkfirst=True)
                row = conn.execute(select(schema_table.c.version)).first()
                if row is None:
                    conn.execute(insert(schema_table).values(id=1, version=SCHEMA_VERSION))
                    return
                version = row[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store has schema version {version}, newer than this "
                        f"strongroom ({SCHEMA_VERSION}); upgrade strongroom"
                    )
                while version < SCHEMA_VERSION:
                    _MIGRATIONS[version + 1](conn)
                    version += 1
                conn.execute(update(schema_table).values(version=version))

    # -- transactions -----------------------------------------------------

    def connection(self) -> Connection:
        """This process's long-lived connection for the event-loop thread."""
        if self._conn is None or self._conn.closed:
            self._conn = self.engine.connect()
            self._driver = self._conn.connection.driver_connection if self.is_sqlite else None
            if self._driver is not None:
                # Write locks are waited for by `_take_write_lock`, not by
                # SQLite's busy handler; reads keep a short grace of their own.
                self._driver.execute(f"PRAGMA busy_timeout={LOOP_BUSY_TIMEOUT_MS}")
        return self._conn

    def transaction(
        self, write: bool = True, *, state: bool = True, wait: bool | float = True
    ) -> contextlib.AbstractContextManager[Connection]:
        """One transaction on the loop's connection; commits on success.

        `state=False` is for bookkeeping writes (audit records, leases) that
        change nothing a cached value is derived from.

        `wait` (SQLite) is how long a write waits for a write lock held by
        another connection: True is `BUSY_TIMEOUT_MS`, a number is seconds,
        False raises `StoreBusy` at once, for background writes that can come
        back later, since waiting stops the event loop. A write that waited
        in vain raises `StoreBusy` too.

        SQLite: a writer takes the write lock up front (BEGIN IMMEDIATE); a
        reader's transaction begins at its first statement, so a request
        answered wholly from the hot cache never touches SQLite.

        The hot cache (SQLite only): values derived from stored state, kept
        while the shared state generation (see `generation.py`) is unchanged.
        A transaction that changed rows commits inside the generation's odd
        window; one that starts on an even generation may read and fill the
        cache (`hot_get`, `hot_put`) until it changes a row itself: from then
        on its reads may see uncommitted state, which is never cached nor
        answered from the cache.
        """
        if self._off_loop and threading.get_ident() in self._off_loop:
            return self._worker_transaction(write, state, wait)
        conn = self._conn
        if conn is None or conn.closed:
            conn = self.connection()
        if conn.in_transaction():  # left open by a stray autobegin: never reuse it
            conn.rollback()
        self.writing = write
        if not self.is_sqlite:
            return self._pg_transaction(conn)
        return _SqliteTransaction(self, conn, self._driver, write, state, wait)

    @contextlib.contextmanager
    def _pg_transaction(self, conn: Connection) -> Iterator[Connection]:
        # No hot cache on PostgreSQL: other hosts may write, and there is
        # no shared memory to learn of it cheaply. Every look-up reads.
        try:
            with conn.begin():
                yield conn
        except Exception:
            if conn.invalidated:
                self._conn = None
            raise

    # -- worker threads ---------------------------------------------------

    @contextlib.contextmanager
    def off_loop(self) -> Iterator[None]:
        """Mark the calling thread (not the event loop's) as answering a
        request: until the block ends, its transactions run on a connection
        of its own, and the hot cache is closed to it."""
        ident = threading.get_ident()
        self._off_loop.add(ident)
        try:
            yield
        finally:
            self._off_loop.discard(ident)

    def _worker_transaction(
        self, write: bool, state: bool, wait: bool | float
    ) -> contextlib.AbstractContextManager[Connection]:
        if not self.is_sqlite:
            return self._pg_worker_transaction()
        conn = self._worker_connection()
        if conn.in_transaction():
            conn.rollback()
        return _WorkerTransaction(self, conn, conn.connection.driver_connection, write, state, wait)

    def _worker_connection(self) -> Connection:
        """The calling worker thread's SQLite connection, opened on first use
        with the same PRAGMAs and hooks as the loop's; `close` closes it."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self.engine.connect()
            driver = conn.connection.driver_connection
            driver.execute(f"PRAGMA busy_timeout={LOOP_BUSY_TIMEOUT_MS}")  # see _take_write_lock
            self._local.conn = conn
            with self._worker_lock:
                self._worker_conns = [c for c in self._worker_conns if not c.closed]
                self._worker_conns.append(conn)
        return conn

    @contextlib.contextmanager
    def _pg_worker_transaction(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():  # back to the pool after
            yield conn

    # -- the hot cache ------------------------------------------------------

    def _open_hot(self, driver: sqlite3.Connection, changes: int) -> None:
        generation = self.generation.read()
        if generation & 1:  # a commit is landing: read the store itself
            self.hot = None
            return
        if generation != self._hot_generation or len(self._hot) > HOT_CACHE_LIMIT:
            self._hot = {}
            self._hot_generation = None
            counters = self.generation.counters
            for tables, domain in self._hot_domains.items():
                stamps = counters(tables.slots)
                if stamps != domain.stamps or len(domain.entries) > HOT_CACHE_LIMIT:
                    domain.entries = {}
                    domain.stamps = stamps
            if self.generation.read() != generation:
                # A commit began while the counters were read: they may be
                # ahead of the state this transaction will read.
                for domain in self._hot_domains.values():
                    domain.stamps = ()
                self.hot = None
                return
            self._hot_generation = generation
        self._hot_driver = driver
        self._hot_changes = changes
        self.hot = self._hot

    def _hot_entries(self, tables: HotTables | None) -> dict[Any, Any] | None:
        """The open cache for values of `tables` (None: of any state), or None."""
        hot = self.hot
        if hot is None:
            return None
        if self._off_loop and threading.get_ident() in self._off_loop:
            return None  # the loop's cache, for the loop's transaction
        if self._hot_driver.total_changes != self._hot_changes:
            return None
        if tables is None:
            return hot
        domain = self._hot_domains.get(tables)
        if domain is None:
            domain = self._hot_domains[tables] = _HotDomain()
            domain.stamps = self.generation.counters(tables.slots)
        return domain.entries if domain.stamps else None

    def hot_get(self, key: Any, tables: HotTables | None = None) -> Any:
        """The value cached under `key` for the state this transaction reads, or None."""
        # `_hot_entries` inlined: several look-ups a request pass here.
        hot = self.hot
        if hot is None:
            return None
        if self._off_loop and threading.get_ident() in self._off_loop:
            return None
        if self._hot_driver.total_changes != self._hot_changes:
            return None
        if tables is None:
            return hot.get(key)
        domain = self._hot_domains.get(tables)
        if domain is None or not domain.stamps:
            return None
        return domain.entries.get(key)

    def hot_put(self, key: Any, value: Any, tables: HotTables | None = None) -> None:
        """Cache `value`, derived from this transaction's reads, under `key`.

        `key` must name everything the value depends on, its kind included
        (e.g. ``("kms-key", account, region, key_id)``). Without `tables` the
        value is dropped at the next commit of any change; with them, only
        at a commit that changed one of those tables, which must then be
        every table the value was read from."""
        entries = self._hot_entries(tables)
        if entries is not None:
            entries[key] = value

    # -- what a transaction changed (SQLite) -------------------------------

    def _watch_writes(self, driver: sqlite3.Connection) -> None:
        """Give a new connection the function its change triggers call."""
        if not isinstance(driver, _WatchedConnection):
            return
        driver.writes = writes = _Writes()
        self._watched.add(driver)
        driver.create_function("strongroom_changed", 1, writes.changed)

    def _writes_of(self, driver: sqlite3.Connection) -> _Writes | None:
        """The connection's change record, emptied for a new transaction; its
        triggers installed first if they are not (or no longer) complete."""
        writes: _Writes | None = getattr(driver, "writes", None)
        if writes is None:
            return None
        if not writes.watched:
            _install_change_triggers(driver, writes)
        writes.slots.clear()
        writes.rows = 0
        return writes

    def _changed_slots(self, writes: _Writes | None, rows: int) -> set[int] | None:
        """The table slots a transaction that changed `rows` rows changed;
        None when its triggers did not see every row (a table without
        them: created since they were installed), which they will next time,
        or when nobody watched (a read transaction that wrote)."""
        if writes is None or writes.rows < rows:
            if writes is not None:
                writes.watched = frozenset()
            return None
        return writes.slots

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """SQLite: checkpoint the WAL from a thread of its own, every `interval` s.

        sqlite3 releases the GIL while it copies pages and syncs, so requests
        keep being served meanwhile. PASSIVE never waits for readers or writers.

        Under writes that never pause, a PASSIVE pass rarely finds the whole
        WAL copied, so the WAL is not started over and keeps growing until
        the writes pause; then it restarts and `journal_size_limit` cuts the
        file back. (A TRUNCATE checkpoint would bound it, but holds the write
        lock while it runs, and at low priority under load that was seconds.)

        The thread runs at idle priority (see `_yield_to_requests`): only when
        requests leave the core idle. A server kept busy without a pause
        would starve it; `checkpoint_if_starved`, called from the event loop,
        then does a pass itself.
        """
        if not self.is_sqlite or self._checkpointer is not None:
            return
        path = self.engine.url.database
        if not path or path == ":memory:":
            return
        stop = threading.Event()

        def run() -> None:
            _yield_to_requests()
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout=1000")
                while not stop.wait(interval):
                    try:
                        _checkpoint(conn)
                        self.checkpointed_at = time.monotonic()
                    except sqlite3.Error:
                        pass  # busy or locked: the next round tries again
                _checkpoint(conn)
            finally:
                conn.close()

        thread = threading.Thread(target=run, name="strongroom-wal-checkpoint", daemon=True)
        self._checkpointer = (thread, stop)
        self._checkpoint_interval = interval
        self.checkpointed_at = time.monotonic()
        thread.start()

    def checkpoint_if_starved(self, now: float | None = None) -> bool:
        """On the event loop, between requests: a PASSIVE checkpoint pass when
        the checkpointer thread has not finished one for `STARVED_PASSES`
        intervals (a core never idle). True when it ran one."""
        if self._checkpointer is None or self._driver is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self.checkpointed_at < self._checkpoint_interval * STARVED_PASSES:
            return False
        if self._driver.in_transaction:
            return False  # never from inside a transaction; the next tick
        try:
            _checkpoint(self._driver)
        except sqlite3.Error:
            return False
        self.checkpointed_at = now
        self.starved_checkpoints += 1
        return True

    def close(self) -> None:
        if self._checkpointer is not None:
            thread, stop = self._checkpointer
            stop.set()
            thread.join(timeout=10)
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        with self._worker_lock:
            workers, self._worker_conns = self._worker_conns, []
        for conn in workers:  # pysqlite connections are not bound to their thread
            conn.close()
        self.engine.dispose()
        self.generation.close()

    # -- settings and leases ----------------------------------------------

    @staticmethod
    def get_setting(conn: Connection, name: str) -> str | None:
        row = conn.execute(
            select(settings_table.c.value).where(settings_table.c.name == name)
        ).first()
        return row[0] if row else None

    @staticmethod
    def put_setting(conn: Connection, name: str, value: str) -> None:
        done = conn.execute(
            update(settings_table).where(settings_table.c.name == name).values(value=value)
        )
        if done.rowcount == 0:
            conn.execute(insert(settings_table).values(name=name, value=value))

    def try_lease(self, name: str, holder: str, seconds: float, wait: bool = True) -> bool:
        """Take or renew the lease `name` for `holder`; False if another holds
        it (or, without `wait`, if the store's write lock is busy)."""
        now = time.time()
        try:
            return self._take_lease(name, holder, seconds, now, wait)
        except StoreBusy:
            return False  # the next tick tries again

    def _take_lease(self, name: str, holder: str, seconds: float, now: float, wait: bool) -> bool:
        with self.transaction(write=True, state=False, wait=wait) as conn:
            row = conn.execute(
                select(leases_table.c.holder, leases_table.c.expires_at).where(
                    leases_table.c.name == name
                )
            ).first()
            if row is None:
                conn.execute(
                    insert(leases_table).values(name=name, holder=holder, expires_at=now + seconds)
                )
                return True
            if row[0] != holder and row[1] > now:
                return False
            conn.execute(
                update(leases_table)
                .where(leases_table.c.name == name)
                .values(holder=holder, expires_at=now + seconds)
            )
            return True


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _begin_or_busy(driver: sqlite3.Connection) -> None:
    driver.execute("PRAGMA busy_timeout=0")
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise StoreBusy(str(exc)) from None
        raise
    finally:
        driver.execute(f"PRAGMA busy_timeout={LOOP_BUSY_TIMEOUT_MS}")


def _take_write_lock(driver: sqlite3.Connection, timeout: float) -> None:
    """BEGIN IMMEDIATE, trying again every `LOCK_RETRY_SLEEP` s for up to
    `timeout` s while another connection holds the write lock; `StoreBusy`
    if it never came free.

    SQLite's own busy handler sleeps ever longer between attempts (up to
    100 ms). Against another process that writes without a pause, whose
    lock is free only for the moments between its transactions, that lost
    nearly every attempt: a worker waited a second or more for one write,
    its event loop stopped, and the audit events it had acknowledged stayed
    in memory all that time. Attempts this close together find those
    moments; an uncontended write costs nothing more (one BEGIN IMMEDIATE)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if time.monotonic() >= deadline:
                raise StoreBusy(str(exc)) from None
        time.sleep(LOCK_RETRY_SLEEP)


def _begin_write(driver: sqlite3.Connection, wait: bool | float) -> None:
    """Begin a write transaction: wait for the write lock as `Store.transaction`'s
    `wait` says."""
    if wait is True or wait > 0:
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            _take_write_lock(driver, BUSY_TIMEOUT_MS / 1000 if wait is True else wait)
    else:
        _begin_or_busy(driver)


def _checkpoint(driver: sqlite3.Connection) -> None:
    """One PASSIVE pass: copies what it can, never waits for readers or writers."""
    driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _yield_to_requests() -> None:
    """Run the calling thread at idle priority (Linux: per thread).

    The checkpointer copies megabytes a second under load. At equal priority
    the kernel slices the server's one core between it and the event loop,
    and requests wait out its slices; even at nice 19 a slice it was given
    delays the requests that arrive during it: at half of peak load, KMS
    p99 went from about 3 to 4-6 ms with the checkpointer running. Under
    SCHED_IDLE it runs only while no request is being served. Where that
    policy is not available, nice 19 is the next best thing."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: checkpoints run at normal priority


class _SqliteTransaction:
    """`Store.transaction` on SQLite, begun and ended on the driver.

    SQLAlchemy's own transaction bookkeeping costs about 20 µs a request;
    statements run through `Prepared` never need it, and a Core statement
    joins the driver's transaction (see _on_begin) and is committed with it.
    A class, not a generator: this runs on every request."""

    __slots__ = ("changes", "conn", "driver", "state", "store", "wait", "write", "writes")

    def __init__(
        self,
        store: Store,
        conn: Connection,
        driver: Any,
        write: bool,
        state: bool,
        wait: bool | float,
    ) -> None:
        self.store = store
        self.conn = conn
        self.driver = driver
        self.write = write
        self.state = state
        self.wait = wait
        self.changes = 0
        self.writes: _Writes | None = None

    def __enter__(self) -> Connection:
        driver = self.driver
        # A read transaction that writes after all reports "anything" (None).
        self.writes = self.store._writes_of(driver) if self.write else None
        if self.write:
            _begin_write(driver, self.wait)
        self.changes = driver.total_changes
        if self.state:
            self.store._open_hot(driver, self.changes)
        return self.conn

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        store, conn, driver = self.store, self.conn, self.driver
        store.hot = None
        if kind is not None:
            if conn.in_transaction():
                conn.rollback()
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            if conn.invalidated:
                store._conn = None
            return
        rows = driver.total_changes - self.changes
        if self.state and rows:
            store.generation.commit(self._commit, store._changed_slots(self.writes, rows))
        else:
            self._commit()

    def _commit(self) -> None:
        if self.conn.in_transaction():
            self.conn.commit()
        if self.driver.in_transaction:
            self.driver.execute("COMMIT")


class _WorkerTransaction(_SqliteTransaction):
    """`Store.transaction` in a worker thread (see `Store.off_loop`): on that
    thread's own connection, never the hot cache, never the loop's state.

    Its commit still goes through the state generation when it changed rows,
    so every cache, the loop's included, stops trusting what it held. A
    write waits for the lock as long as a request's write may
    (`BUSY_TIMEOUT_MS`): this thread is not the event loop."""

    __slots__ = ()

    def __enter__(self) -> Connection:
        driver = self.driver
        self.writes = self.store._writes_of(driver) if self.write else None
        if self.write:
            _begin_write(driver, self.wait)
        self.changes = driver.total_changes
        return self.conn

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        conn, driver = self.conn, self.driver
        if kind is not None:
            if conn.in_transaction():
                conn.rollback()
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            if conn.invalidated:
                self.store._local.conn = None
            return
        rows = driver.total_changes - self.changes
        if self.state and rows:
            slots = self.store._changed_slots(self.writes, rows)
            self.store.generation.commit(self._commit, slots)
        else:
            self._commit()
