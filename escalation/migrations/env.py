"""Alembic environment for the ticket database, driven from code (``escalation.db.upgrade``).

The caller passes its open connection in ``config.attributes`` so the engine's SQLite settings
apply; the ``alembic`` command line (for writing a new revision) falls back to the URL settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import analytics.tables  # noqa: F401  (registers the call record tables on Base.metadata)
import escalation.accounts  # noqa: F401  (registers the staff tables on Base.metadata)
import escalation.store  # noqa: F401  (registers the ticket tables on Base.metadata)
from escalation.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from escalation.db import settings_url
        from ivr.config import get_settings

        engine = make_engine(config.get_main_option("sqlalchemy.url") or settings_url(get_settings()))
        with engine.begin() as conn:
            _migrate(conn)
        engine.dispose()
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    # batch mode: SQLite cannot ALTER most things, Alembic rebuilds the table instead
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
