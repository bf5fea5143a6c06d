"""The ticket store's tables (SQLAlchemy ORM): a ticket row with its transcript, notes, audit trail
and the calls it gathers as child rows, so a purge or a join works on one ticket at a time. The
schema itself is made by the Alembic migrations (escalation/migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from escalation.db import Base, UTCDateTime

# --- tables --------------------------------------------------------------------------------------


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(), default="")
    caller_number: Mapped[str] = mapped_column(String(), default="", index=True)
    callback_number: Mapped[str] = mapped_column(String(), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(), default="")
    area: Mapped[str] = mapped_column(String(), default="", index=True)
    item: Mapped[str] = mapped_column(String(), default="")
    summary: Mapped[str] = mapped_column(Text(), default="")
    complete: Mapped[bool] = mapped_column(Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    assignee: Mapped[str | None] = mapped_column(String())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    transcript: Mapped[list[TranscriptRow]] = relationship(order_by="TranscriptRow.id", cascade="all, delete-orphan")
    notes: Mapped[list[NoteRow]] = relationship(order_by="NoteRow.id", cascade="all, delete-orphan")
    audit: Mapped[list[AuditRow]] = relationship(order_by="AuditRow.id", cascade="all, delete-orphan")
    calls: Mapped[list[CallRow]] = relationship(order_by="CallRow.id", cascade="all, delete-orphan")


class TranscriptRow(Base):
    __tablename__ = "ticket_transcript"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[str] = mapped_column(String(), default="")
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text())
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NoteRow(Base):
    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text())


class AuditRow(Base):
    __tablename__ = "ticket_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String())
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text(), default="")


class CallRow(Base):
    __tablename__ = "ticket_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[str] = mapped_column(String(), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


_LOAD_ALL = (
    selectinload(TicketRow.transcript),
    selectinload(TicketRow.notes),
    selectinload(TicketRow.audit),
    selectinload(TicketRow.calls),
)

