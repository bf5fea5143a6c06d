"""The call records' tables, in the ticket database (one backup, one migration history).

Made by the Alembic migration ``0002_call_records``. Class names avoid the ticket store's
``CallRow`` (``ticket_calls``: the calls a ticket gathers), which is another thing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from escalation.db import Base, UTCDateTime


class CallRecordRow(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    transport: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float(), default=0.0)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    ticket_number: Mapped[str] = mapped_column(String(16), default="")
    turns: Mapped[int] = mapped_column(Integer, default=0)
    caller_masked: Mapped[str] = mapped_column(String(32), default="")
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    turn_rows: Mapped[list[CallTurnRow]] = relationship(order_by="CallTurnRow.n", cascade="all, delete-orphan")


class CallTurnRow(Base):
    __tablename__ = "call_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_row_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    n: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text(), default="")
    intent: Mapped[str] = mapped_column(String(64), default="")
    confidence: Mapped[float] = mapped_column(Float(), default=0.0)
    action: Mapped[str] = mapped_column(String(16), default="")
    item: Mapped[str] = mapped_column(String(), default="")
    asr_ms: Mapped[float | None] = mapped_column(Float())
    reply_ms: Mapped[float] = mapped_column(Float(), default=0.0)
    understood: Mapped[bool] = mapped_column(Boolean(), default=True)
