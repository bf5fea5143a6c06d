"""The durable ticket queue (SQLite or PostgreSQL), shared by calls (async) and staff (sync).

A call only creates tickets and must never hold the event loop while the disk syncs, so the async
``TicketQueue`` methods run the work in a thread. Staff work tickets through the console, the CLI
and the REST API with the sync methods; every change leaves an audit row saying who and when.
Callers' personal data is purged after the retention period; the facts stay for the statistics
the city reports every year.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, selectinload

from escalation.db import (
    as_utc,
    check_schema,
    engine_from_settings,
    make_engine,
    read_session,
    utcnow,
    write_session,
)
from escalation.db import upgrade as upgrade_schema
from escalation.ticket_records import (  # noqa: F401  (re-exported: the console and CLI import them from here)
    ACTIVE,
    SLA_HOURS,
    AuditRecord,
    NoteRecord,
    TicketRecord,
    _record,
    due_hours,
)
from escalation.ticket_tables import _LOAD_ALL, AuditRow, CallRow, NoteRow, TicketRow, TranscriptRow
from escalation.tickets import (
    JOIN_WINDOW_HOURS,
    REASONS,
    STATUSES,
    URGENCIES,
    InMemoryTicketQueue,
    Ticket,
    TicketRequest,
)

FIRST_NUMBER = InMemoryTicketQueue.FIRST_NUMBER  # the same numbers callers hear from the simulator: 1001, 1002 …
BOT = "bot"  # the actor of audit rows the calls write
RETENTION_ACTOR = "retention"  # the actor of purge audit rows


class TicketNotFound(LookupError):
    """No ticket with that id or number."""


class ClaimConflict(RuntimeError):
    """Someone else holds the ticket."""

    def __init__(self, ticket_number: str, holder: str) -> None:
        super().__init__(f"ticket {ticket_number} is claimed by {holder}")
        self.holder = holder


class InvalidTransition(ValueError):
    """A status move the workflow does not allow, e.g. resolving a closed ticket."""


# --- the store -----------------------------------------------------------------------------------

_MOVES: dict[str, tuple[tuple[str, ...], str]] = {  # action → (statuses it may start from, status it leads to)
    "called_back": (("open", "claimed"), "called_back"),
    "resolved": (("open", "claimed", "called_back"), "resolved"),
    "closed": (("open", "claimed", "called_back"), "closed"),
    "reopened": (("claimed", "called_back", "resolved", "closed"), "open"),
}


class TicketStore:
    """Tickets in a SQLAlchemy database; implements ``TicketQueue`` for calls."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Any, *, clock: Callable[[], datetime] = utcnow) -> TicketStore:
        """The configured store: SQLite is migrated here, PostgreSQL must have had `ivr db upgrade`
        (SchemaNotReady says so otherwise)."""
        return cls(engine_from_settings(settings), clock=clock)

    @classmethod
    def from_url(cls, url: str, *, upgrade: bool = True, clock: Callable[[], datetime] = utcnow) -> TicketStore:
        engine = make_engine(url)
        try:
            if upgrade:
                upgrade_schema(engine)
            else:
                check_schema(engine)
        except Exception:
            engine.dispose()
            raise
        return cls(engine, clock=clock)

    def now(self) -> datetime:
        return as_utc(self._clock())

    def dispose(self) -> None:
        """Close the pooled connections (tests, CLI commands)."""
        self.engine.dispose()

    # --- calls (TicketQueue) -------------------------------------------------------------------

    async def create(self, request: TicketRequest) -> Ticket:
        return await asyncio.to_thread(self.create_sync, request)

    async def list_open(self) -> list[Ticket]:
        return await asyncio.to_thread(self.list_open_sync)

    def create_sync(self, request: TicketRequest) -> Ticket:
        """Store a new ticket, or join the caller's open ticket about the same reason; committed on return."""
        if request.reason not in REASONS:
            raise ValueError(f"unknown reason {request.reason!r}; one of {', '.join(REASONS)}")
        if request.urgency not in URGENCIES:
            raise ValueError(f"unknown urgency {request.urgency!r}; one of {', '.join(URGENCIES)}")
        now = self.now()
        created = as_utc(request.created_at) if request.created_at else now
        with write_session(self.engine) as session:
            row = self._joinable(session, request, created)
            if row is not None:
                self._join(row, request, created, now)
                session.flush()
                return _record(row, now).to_ticket(joined=True)
            row = TicketRow(
                reason=request.reason, urgency=request.urgency, topic=request.topic,
                caller_number=_clean(request.caller_number), callback_number=_clean(request.callback_number),
                caller_name=request.caller_name.strip(), area=request.area, item=request.item,
                summary=request.summary, complete=request.complete, created_at=created,
                due_at=created + timedelta(hours=due_hours(request.reason, request.urgency)), status="open",
                transcript=[], notes=[], audit=[], calls=[],
            )
            session.add(row)
            session.flush()  # the id, from which the spoken number comes
            row.number = str(FIRST_NUMBER + row.id - 1)
            self._add_call(row, request, now)
            self._audit(row, BOT, "created", f"call {request.call_id}", now)
            session.flush()
            return _record(row, now).to_ticket()

    def list_open_sync(self) -> list[Ticket]:
        now = self.now()
        with read_session(self.engine) as session:
            rows = session.scalars(
                select(TicketRow).where(TicketRow.status == "open").options(*_LOAD_ALL).order_by(TicketRow.id)
            ).all()
            return [_record(row, now).to_ticket() for row in rows]

    @staticmethod
    def _joinable(session: Session, request: TicketRequest, created: datetime) -> TicketRow | None:
        number = _clean(request.caller_number) or _clean(request.callback_number)
        if not number:
            return None
        stmt = (
            select(TicketRow)
            .where(
                TicketRow.reason == request.reason,
                TicketRow.status.in_(ACTIVE),
                TicketRow.purged_at.is_(None),
                or_(TicketRow.caller_number == number, TicketRow.callback_number == number),
                TicketRow.created_at > created - timedelta(hours=JOIN_WINDOW_HOURS),
            )
            .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        return session.scalars(stmt).first()

    def _join(self, row: TicketRow, request: TicketRequest, created: datetime, now: datetime) -> None:
        """Add a later call to the open ticket: its transcript, any detail the first call lacked, and a
        raised urgency (the caller ringing back about a hazard makes the whole ticket urgent)."""
        self._add_call(row, request, now)
        for name in ("caller_number", "callback_number", "caller_name", "area", "item"):
            value = getattr(request, name)
            if not getattr(row, name) and value:
                setattr(row, name, _clean(value) if name.endswith("number") else value)
        if request.complete and not row.complete:
            row.complete, row.summary = True, request.summary
        if request.urgency == "urgent" and row.urgency != "urgent":
            row.urgency = "urgent"
            row.due_at = min(row.due_at, created + timedelta(hours=SLA_HOURS["urgent"]))
        self._audit(row, BOT, "joined", f"call {request.call_id}", now)

    @staticmethod
    def _add_call(row: TicketRow, request: TicketRequest, now: datetime) -> None:
        row.calls.append(CallRow(call_id=request.call_id, at=now))
        for line in request.transcript:
            row.transcript.append(TranscriptRow(
                call_id=request.call_id, speaker=line.speaker, text=line.text,
                at=as_utc(line.at) if line.at else None,
            ))

    @staticmethod
    def _audit(row: TicketRow, actor: str, action: str, detail: str, now: datetime) -> None:
        row.audit.append(AuditRow(at=now, actor=actor, action=action, detail=detail))

    # --- staff (sync) --------------------------------------------------------------------------

    def get(self, ticket_id: int) -> TicketRecord | None:
        now = self.now()
        with read_session(self.engine) as session:
            row = session.scalars(select(TicketRow).where(TicketRow.id == ticket_id).options(*_LOAD_ALL)).first()
            return _record(row, now) if row else None

    def find_by_number(self, number: str) -> TicketRecord | None:
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", number))
        if not digits:
            return None
        now = self.now()
        with read_session(self.engine) as session:
            row = session.scalars(select(TicketRow).where(TicketRow.number == digits).options(*_LOAD_ALL)).first()
            return _record(row, now) if row else None

    def query(self, *, status: str | None = None, reason: str | None = None, area: str | None = None,
              text: str | None = None, limit: int | None = 200) -> list[TicketRecord]:
        """Tickets for the staff list: urgent first, then the soonest due (``limit=None``: all of them)."""
        stmt = select(TicketRow).options(*_LOAD_ALL)
        if status:
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
            stmt = stmt.where(TicketRow.status == status)
        if reason:
            stmt = stmt.where(TicketRow.reason == reason)
        if area:
            stmt = stmt.where(TicketRow.area == area)
        if text and text.strip():
            stmt = stmt.where(_text_filter(text.strip()))
        stmt = stmt.order_by(case((TicketRow.urgency == "urgent", 0), else_=1), TicketRow.due_at, TicketRow.id)
        now = self.now()
        with read_session(self.engine) as session:
            return [_record(row, now) for row in session.scalars(stmt.limit(limit)).all()]

    def claim(self, ticket_id: int, actor: str) -> TicketRecord:
        """Take the ticket. The conditional UPDATE is the lock: of two staff claiming at once, the
        database lets exactly one change the row; the other sees it claimed. Claiming one's own
        ticket again changes nothing."""
        actor = _actor(actor)
        now = self.now()
        with write_session(self.engine) as session:
            won = session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status == "open")
                .values(status="claimed", assignee=actor)
                .execution_options(synchronize_session=False)
            ).rowcount
            row = self._load(session, ticket_id)
            if won:
                self._audit(row, actor, "claimed", "open → claimed", now)
            elif row.status in ("claimed", "called_back") and row.assignee != actor:
                raise ClaimConflict(row.number or str(row.id), row.assignee or "?")
            elif row.status not in ("claimed", "called_back"):
                raise InvalidTransition(f"ticket {row.number} is {row.status}: reopen it before claiming")
            session.flush()
            return _record(row, now)

    def mark_called_back(self, ticket_id: int, actor: str, note: str = "") -> TicketRecord:
        return self._move(ticket_id, actor, "called_back", note)

    def resolve(self, ticket_id: int, actor: str, note: str) -> TicketRecord:
        if not note or not note.strip():
            raise ValueError("a resolved ticket needs a note saying what was done")
        return self._move(ticket_id, actor, "resolved", note)

    def close(self, ticket_id: int, actor: str, note: str = "") -> TicketRecord:
        return self._move(ticket_id, actor, "closed", note)

    def reopen(self, ticket_id: int, actor: str, note: str = "") -> TicketRecord:
        return self._move(ticket_id, actor, "reopened", note)

    def add_note(self, ticket_id: int, actor: str, text: str) -> TicketRecord:
        if not text or not text.strip():
            raise ValueError("a note needs text")
        actor = _actor(actor)
        now = self.now()
        with write_session(self.engine) as session:
            row = self._load(session, ticket_id, lock=True)
            self._note(row, actor, text, now)
            session.flush()
            return _record(row, now)

    def purge_personal_data(self, older_than_days: int) -> int:
        """Blank what identifies a caller (numbers, name, summary, transcript, note texts) on tickets
        created before the cutoff; reason, urgency, area, item, status and times stay for statistics."""
        if older_than_days < 0:
            raise ValueError("older_than_days must be 0 or more")
        now = self.now()
        cutoff = now - timedelta(days=older_than_days)
        with write_session(self.engine) as session:
            rows = session.scalars(
                select(TicketRow)
                .where(TicketRow.created_at < cutoff, TicketRow.purged_at.is_(None))
                .options(selectinload(TicketRow.transcript), selectinload(TicketRow.notes),
                         selectinload(TicketRow.audit))
                .with_for_update()
            ).all()
            for row in rows:
                row.caller_number = row.callback_number = row.caller_name = row.summary = ""
                row.transcript.clear()
                for note in row.notes:
                    note.text = ""
                row.purged_at = now
                self._audit(row, RETENTION_ACTOR, "purged", f"personal data older than {older_than_days} days", now)
            return len(rows)

    # --- helpers -------------------------------------------------------------------------------

    def _move(self, ticket_id: int, actor: str, action: str, note: str) -> TicketRecord:
        actor = _actor(actor)
        allowed, target = _MOVES[action]
        now = self.now()
        with write_session(self.engine) as session:
            row = self._load(session, ticket_id, lock=True)
            if row.status not in allowed:
                raise InvalidTransition(f"ticket {row.number} is {row.status}: cannot move it to {target}")
            before, row.status = row.status, target
            if target == "open":
                row.assignee = None  # back in the shared queue for anyone to claim
            elif row.assignee is None:
                row.assignee = actor
            self._audit(row, actor, action, f"{before} → {target}", now)
            if note and note.strip():
                self._note(row, actor, note, now)
            session.flush()
            return _record(row, now)

    def _note(self, row: TicketRow, actor: str, text: str, now: datetime) -> None:
        row.notes.append(NoteRow(author=actor, at=now, text=text.strip()))
        self._audit(row, actor, "noted", "", now)  # the text stays in the note, where the purge finds it

    @staticmethod
    def _load(session: Session, ticket_id: int, *, lock: bool = False) -> TicketRow:
        stmt = select(TicketRow).where(TicketRow.id == ticket_id).options(*_LOAD_ALL)
        row = session.scalars(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise TicketNotFound(f"no ticket with id {ticket_id}")
        return row


def _actor(actor: str) -> str:
    if not actor or not actor.strip():
        raise ValueError("every change needs the name of who made it")
    return actor.strip()


def _clean(number: str) -> str:
    """Phone numbers as digits in one width (全角 digits and hyphens from speech or typing)."""
    return unicodedata.normalize("NFKC", number or "").strip()


def _digits_only(column: Any) -> ColumnElement[str]:
    return func.replace(func.replace(func.replace(column, "-", ""), " ", ""), "+", "")


def _text_filter(text: str) -> ColumnElement[bool]:
    """Search the summary, caller's name, transcript and notes; a number-like query also matches the
    ticket number and phone numbers written with or without hyphens."""
    clauses: list[ColumnElement[bool]] = [
        TicketRow.summary.icontains(text, autoescape=True),
        TicketRow.caller_name.icontains(text, autoescape=True),
        TicketRow.transcript.any(TranscriptRow.text.icontains(text, autoescape=True)),
        TicketRow.notes.any(NoteRow.text.icontains(text, autoescape=True)),
    ]
    plain = unicodedata.normalize("NFKC", text)
    if re.fullmatch(r"[\d\-\s+()]+", plain) and (digits := re.sub(r"\D", "", plain)):
        clauses += [
            TicketRow.number == digits,
            _digits_only(TicketRow.caller_number).contains(digits, autoescape=True),
            _digits_only(TicketRow.callback_number).contains(digits, autoescape=True),
        ]
    return or_(*clauses)
