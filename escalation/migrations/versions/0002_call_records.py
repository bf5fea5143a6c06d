"""Call records: one row per call (outcome, reason, times, masked caller) and a summary per turn.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

The figures of issue 15 (containment, transfers and tickets by reason, handle time, what callers
asked and what was not understood) are computed from these; see analytics/tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("transport", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("ticket_number", sa.String(length=16), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("caller_masked", sa.String(length=32), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_calls_call_id")),
    )
    op.create_index(op.f("ix_calls_started_at"), "calls", ["started_at"])
    op.create_index(op.f("ix_calls_outcome"), "calls", ["outcome"])
    op.create_table(
        "call_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_row_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("asr_ms", sa.Float(), nullable=True),
        sa.Column("reply_ms", sa.Float(), nullable=False),
        sa.Column("understood", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["call_row_id"], ["calls.id"], ondelete="CASCADE",
                                name=op.f("fk_call_turns_call_row_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_turns")),
    )
    op.create_index(op.f("ix_call_turns_call_row_id"), "call_turns", ["call_row_id"])
    op.create_index(op.f("ix_call_turns_at"), "call_turns", ["at"])


def downgrade() -> None:
    op.drop_table("call_turns")
    op.drop_table("calls")
