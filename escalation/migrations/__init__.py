"""Alembic migrations of the ticket database (run by ``escalation.db.upgrade``)."""
