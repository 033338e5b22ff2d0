"""Opening the records store: engine, pragmas, migrations, transactions, and database errors.

SQLite (the default, one file) runs in WAL mode with a busy timeout so several processes can
append; every write transaction starts with BEGIN IMMEDIATE, which takes the write lock up front
(a deferred transaction that upgrades from read to write can fail with "database is locked" without
waiting). PostgreSQL serves several replicas; writers serialise on the audit head row lock.

Every database failure leaves this package as `gate.errors.StoreError` with a message a person
can act on ("database is read-only", "disk full", "cannot reach database at host:port") and never
the password from the URL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from gate.errors import InputError, StoreError
from gate.store.group_commit import GroupCommitter
from gate.store.writers_lock import WritersLock

_MIGRATION_LOCK_KEY = 4_091_0001  # PostgreSQL advisory lock taken while migrating


class Signer(Protocol):
    """Signs audit checkpoints: ECDSA P-256 over the given bytes, DER-encoded (gate.crypto.keys)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Sign a checkpoint after `every` entries or `minutes` minutes, whichever comes first.

    `witness_dir`, when set, receives every checkpoint as a line appended to
    `audit-checkpoints.jsonl` as soon as it is committed (a copy outside the database).
    """

    every: int = 1000
    minutes: float = 10.0
    witness_dir: Path | None = None


def _where(url: URL) -> str:
    """Where the database is, for messages: host:port or the file, never credentials."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database or ':memory:'}"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def translate_error(exc: Exception, url: URL) -> StoreError:
    """Turn a driver error into a StoreError whose message says what happened, without secrets."""
    detail = str(getattr(exc, "orig", None) or exc).lower()
    if "readonly" in detail or "read-only" in detail or "read only" in detail:
        return StoreError(f"database is read-only ({_where(url)})")
    if "disk is full" in detail or "no space left" in detail or "disk full" in detail:
        return StoreError(f"disk full: cannot write to the database ({_where(url)})")
    if "unable to open database" in detail:
        return StoreError(f"cannot open the database ({_where(url)})")
    if "database is locked" in detail:
        return StoreError(f"database is locked by another writer for too long ({_where(url)})")
    if _is_connection_error(exc) and url.get_backend_name() != "sqlite":
        if "password" in detail or "authentication" in detail:
            return StoreError(f"cannot log in to the database at {_where(url)}")
        return StoreError(f"cannot reach database at {_where(url)}")
    first_line = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
    return StoreError(f"database error ({_where(url)}): {first_line}")


def _spoils_connections(exc: Exception) -> bool:
    """Whether the pool's connections may be stuck in the state that failed.

    SQLite opens a connection read-only when the file is not writable at that moment and keeps
    it read-only for good; a PostgreSQL connection to a server that became a standby stays
    read-only too; a connection that met a full disk may hold a spoiled page cache. Kept in the
    pool, such connections would fail every later write after the fault is fixed (holds kept
    answering 503 until a restart), so they are all discarded and the next use opens fresh ones.
    """
    detail = str(getattr(exc, "orig", None) or exc).lower()
    return any(
        word in detail
        for word in (
            "readonly",
            "read-only",
            "read only",
            "disk is full",
            "no space left",
            "disk full",
            "unable to open database",
            "disk i/o error",
        )
    )


def _is_connection_error(exc: Exception) -> bool:
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    name = type(exc).__name__
    return name in ("OperationalError", "InterfaceError")


class Store:
    """The records store: one engine plus the policy the audit chain needs.

    Per-kind operations live in modules (recipients, credentials, licenses, models, audit,
    inquiries) as functions taking the store; they run in `store.read()` / `store.write()`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        signer: Signer | None = None,
        checkpoints: CheckpointPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.url = engine.url
        self.signer = signer
        self.checkpoints = checkpoints or CheckpointPolicy()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()  # one writer per process at a time: cheap, avoids BUSY
        # Work to run once the current write transaction has committed (under `_lock`).
        self._after_commit: list[Callable[[], None]] = []
        # Concurrent audit appends of this process share transactions (gate.store.chain).
        self._writer: Connection | None = None
        self._writer_stale = False
        # Disposing of the engine (a fault healed, new settings) must not leave the kept
        # writer connection in use: it is replaced at the next write.
        event.listen(engine, "engine_disposed", lambda _engine: self._mark_writer_stale())
        self.committer = GroupCommitter(self.write)
        self.transactions = 0
        """Write transactions begun by this process: inside one, its number (it names the
        transaction, so what was learnt in it is not trusted in the next)."""
        self.chain_head: tuple[int, tuple[Any, ...]] | None = None
        """(transaction number, audit head as that transaction left it): `gate.store.chain`
        reads the head once per transaction, not once per append."""
        database = self.url.database
        file_backed = (
            self.dialect == "sqlite"
            and database not in (None, "", ":memory:")
            and not self.url.query.get("uri")
        )
        # Writers of several processes on one SQLite file take turns (gate.store.writers_lock).
        self._writers = WritersLock(str(database)) if file_backed else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def now(self) -> datetime:
        return self._clock()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading; any database error becomes StoreError."""
        with self.errors(), self.engine.connect() as conn:
            yield conn
            conn.rollback()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        queue = self._writers.held() if self._writers else contextlib.nullcontext()
        with self._lock, queue:
            self.transactions += 1
            self._after_commit.clear()
            try:
                with self.errors():
                    conn = self._writer_connection()
                    try:
                        with conn.begin():
                            yield conn
                    except BaseException:
                        self._drop_writer()  # not reused: it may be what failed
                        raise
                self._run_after_commit()
            finally:
                self._after_commit.clear()
                if self.dialect != "sqlite":
                    self._release_writer()

    def _writer_connection(self) -> Connection:
        """The connection writes use, kept across transactions (under `_lock`).

        One connection for every write: SQLite keeps a page cache per connection and empties
        it whenever another connection has written, so writes rotating through the pool
        re-read the index pages each time (an append cost six times its CPU in a server).
        PostgreSQL has no such cache, and its server may end a session at any time (a restart,
        a failover, an idle limit): a write there takes a connection from the pool, which
        pings it first, so a quiet gate's next decision is not failed by a dead session."""
        if self.dialect != "sqlite":
            self._drop_writer()
            self._writer = self.engine.connect().execution_options(gate_write=True)
            return self._writer
        kept = self._writer
        if kept is None or self._writer_stale or kept.engine is not self.engine or kept.closed:
            self._drop_writer()
            kept = self.engine.connect().execution_options(gate_write=True)
            self._writer, self._writer_stale = kept, False
        return kept

    def _release_writer(self) -> None:
        """Give a PostgreSQL writer connection back to the pool (it stays open there)."""
        kept, self._writer = self._writer, None
        if kept is not None:
            with contextlib.suppress(Exception):
                kept.close()

    def _drop_writer(self) -> None:
        kept, self._writer = self._writer, None
        if kept is not None:
            with contextlib.suppress(Exception):
                kept.invalidate()
                kept.close()

    def after_commit(self, work: Callable[[], None]) -> None:
        """Run `work` once the write transaction in progress has committed (never if it fails).

        Only inside `write`: for copies that must not exist for an uncommitted
        change (a checkpoint written to the witness directory).
        """
        self._after_commit.append(work)

    def _run_after_commit(self) -> None:
        pending, self._after_commit = self._after_commit, []
        for work in pending:
            work()

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            self._heal(exc)
            raise translate_error(exc, self.url) from None
        except self._driver_error as exc:
            self._heal(exc)
            raise translate_error(exc, self.url) from None

    def _heal(self, exc: Exception) -> None:
        """After a read-only or full-disk fault, open fresh connections from the next use on."""
        if _spoils_connections(exc):
            # Checked-in connections are closed now; checked-out ones when they are returned.
            self.engine.dispose()

    @property
    def _driver_error(self) -> type[Exception]:
        error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        return error

    def ping(self) -> None:
        """Readiness: raise StoreError unless the database can be written right now.

        `SELECT 1` answers on a read-only file and on a full disk, so the probe writes: inside
        a savepoint that is rolled back it creates a table and stores 64 KiB (new pages, as an
        audit append needs), then it commits a no-op update of the schema version row (a real
        commit: the write lock, the journal, the disk). Nothing changes in the records.
        """
        blob = "BYTEA" if self.dialect == "postgresql" else "BLOB"
        with self.write() as conn:
            probe = conn.begin_nested()
            conn.execute(text(f"CREATE TABLE gate_ready_probe (pad {blob})"))
            conn.execute(text("INSERT INTO gate_ready_probe VALUES (:pad)"), {"pad": bytes(65536)})
            probe.rollback()
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))

    def _mark_writer_stale(self) -> None:
        self._writer_stale = True

    def close(self) -> None:
        with self._lock:
            self._drop_writer()
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


def _sqlite_setup(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to issue.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA foreign_keys = ON")
        mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode and str(mode[0]).lower() not in ("wal", "memory"):
            cur.close()
            raise StoreError(f"cannot switch SQLite to WAL mode (got {mode[0]})")
        cur.execute(f"PRAGMA synchronous = {synchronous}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("gate_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_store_engine(database_url: str, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for the URL with the gate's pragmas; raises InputError for an unusable URL."""
    try:
        url = make_url(database_url)
    except sa_exc.ArgumentError:
        raise InputError("database_url", "not a database URL") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if sqlite_synchronous not in ("NORMAL", "FULL"):
            raise InputError("sqlite_synchronous", "expected NORMAL or FULL")
        if url.database and url.database != ":memory:" and not url.query.get("uri"):
            folder = Path(url.database).expanduser().parent
            if not folder.is_dir():
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the data directory {folder}: {exc}") from None
        # NullPool: a SQLite connection is cheap, and each process/thread gets its own.
        # Every connection use ends in an explicit commit or rollback (Store.read/write), so the
        # pool's extra rollback on return is skipped: it costs a round trip per append.
        engine = create_engine(
            url,
            poolclass=NullPool if url.database == ":memory:" else None,
            pool_reset_on_return=None,
        )
        _sqlite_setup(engine, sqlite_synchronous)
        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": 5},
        )
    raise InputError("database_url", f"unsupported database {backend!r} (use sqlite or postgresql)")


def _migrate(store: Store) -> None:
    from alembic import command
    from alembic.config import Config

    with store.write() as conn:
        if store.dialect == "postgresql":
            # Two replicas starting at once must not both create the tables.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        current = None
        tables_missing = (sa_exc.ProgrammingError, sa_exc.OperationalError)
        with contextlib.suppress(*tables_missing), conn.begin_nested():
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        here = Path(__file__).parent
        config = Config(str(here / "alembic.ini"))
        config.set_main_option("script_location", str(here / "migrations"))
        config.set_main_option("version_locations", str(here / "migrations" / "versions"))
        if current is not None and current == _head_revision(config):
            return
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _head_revision(config: Any) -> str | None:
    """The newest migration shipped (read from the migration files, so a new one is never
    skipped because a constant was not updated)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config).get_current_head()


def open_store(
    database_url: str,
    *,
    signer: Signer | None = None,
    checkpoints: CheckpointPolicy | None = None,
    sqlite_synchronous: str = "NORMAL",
    clock: Callable[[], datetime] | None = None,
) -> Store:
    """Open (and migrate to the latest schema) the store at `database_url`.

    Raises StoreError when the database cannot be reached or written, InputError for a bad URL.
    """
    engine = create_store_engine(database_url, sqlite_synchronous=sqlite_synchronous)
    store = Store(engine, signer=signer, checkpoints=checkpoints, clock=clock)
    try:
        _migrate(store)
    except StoreError:
        engine.dispose()
        raise
    return store
