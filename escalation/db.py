"""The ticket database: engines, the shared declarative base, and migrations run from code.

SQLite is the zero-setup default (one file under the state dir) and PostgreSQL the choice of a
city that already runs one; both take the same Alembic migrations. The migrations ship inside the
package, so an installed ``ivr db upgrade`` needs no alembic.ini next to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from ivr.config import Settings

DB_FILENAME = "ivr.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000  # a SQLite writer waits this long for another; every write here takes milliseconds
CONNECT_TIMEOUT_S = 5  # PostgreSQL: a connect unanswered this long fails (the call has long gone to staff)
_IMMEDIATE = "ivr_sqlite_immediate"  # execution option: take SQLite's write lock at BEGIN, not at the first write

NAMING = {  # fixed constraint names, so the hand-written migrations and the models agree on both databases
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class SchemaNotReady(RuntimeError):
    """The database exists but its tables are missing or older than this code expects."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases: SQLite keeps no zone, so it stores UTC and the zone is
    put back on reading; PostgreSQL's timestamptz is read back in whatever zone the session has."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """A naive time is taken as UTC (the store never writes local naive times itself)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def settings_url(settings: Settings) -> str:
    """``IVR_DATABASE_URL``, or the SQLite file under the state dir (its folder created)."""
    if settings.database_url:
        return settings.database_url
    state_dir = Path(settings.state_dir).expanduser()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # callers' numbers live here: staff and backups only
    return f"sqlite:///{state_dir / DB_FILENAME}"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def display_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL (readers never block the writer), foreign keys and a
    busy timeout on every connection, and transactions whose BEGIN this module controls."""
    if not is_sqlite(url):  # a server that does not answer: give up connecting (libpq's timeout, s)
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # pysqlite's own implicit BEGIN off: _sqlite_begin emits it
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for the lock (SQLITE_BUSY at
    # once), so writers take the lock at BEGIN and then queue behind each other on busy_timeout.
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One read-modify-write unit: committed on leaving, rolled back on an exception."""
    with Session(engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False) as session:
        with session.begin():
            yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


# --- migrations ----------------------------------------------------------------------------------


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "escalation/migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(target: str | Engine) -> tuple[str | None, str]:
    """Run every migration up to head; returns (revision before, revision after)."""
    from alembic import command

    engine = make_engine(target) if isinstance(target, str) else target
    try:
        before = current_revision(engine)
        # immediate on SQLite: two server processes starting at once migrate one after the other
        with engine.execution_options(**{_IMMEDIATE: True}).begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        return before, head_revision()
    finally:
        if isinstance(target, str):
            engine.dispose()


def check_schema(engine: Engine) -> None:
    """Raise SchemaNotReady unless the database is at the migrations' head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        found = f"revision {current}" if current else "no ticket tables"
        raise SchemaNotReady(
            f"the ticket database {engine.url.render_as_string(hide_password=True)} has {found}, "
            f"this version needs revision {head}: run `ivr db upgrade` first"
        )


def engine_from_settings(settings: Settings) -> Engine:
    """The configured engine, ready to use: SQLite is migrated on the spot (it is ours alone); a
    server database is migrated by its operator (`ivr db upgrade`), so it is only checked."""
    url = settings_url(settings)
    engine = make_engine(url)
    try:
        if is_sqlite(url):
            upgrade(engine)
        else:
            check_schema(engine)
    except Exception:
        engine.dispose()
        raise
    return engine
