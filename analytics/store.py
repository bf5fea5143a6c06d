"""Call records in the ticket database: saved once per call, read by the figures and the FAQ loop.

``save`` is synchronous (SQLAlchemy): calls run it in a worker thread (``Runtime.record_call``),
so a slow disk never holds up the event loop, and a failed save is logged without touching the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import aliased, selectinload

from analytics.records import NOT_UNDERSTOOD, PRIVATE_STEPS, TICKET, TRANSFERRED, CallRecord, TurnSummary
from analytics.tables import CallRecordRow, CallTurnRow
from escalation.db import as_utc, read_session, utcnow, write_session
from escalation.privacy import mask_number

log = logging.getLogger(__name__)

FIELD_LIMITS = {"call_id": 64, "transport": 32, "outcome": 16, "reason": 64, "ticket_number": 16,
                "caller_masked": 32}


@dataclass(frozen=True)
class FailedUtterance:
    """A caller's words the bot could not answer itself: material for the FAQ.

    ``outcome``: "not_understood" (the bot could not read it), "transferred" or "ticket" (the turn
    handed the call to staff). ``intent``: what the bot took it for ("not_understood" if nothing)."""

    text: str
    at: datetime
    call_id: str
    outcome: str
    intent: str


class CallLog:
    """The call records of one database (the ticket store's engine)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.now = clock

    def save(self, record: CallRecord) -> None:
        """Store one finished call. A call id already stored (a restarted gather session) keeps its
        first record: counting it twice would inflate the figures."""
        masked = record.caller_masked
        if masked and "*" not in masked:  # a whole number must never reach the call records
            masked = mask_number(masked)
        values = {"call_id": record.call_id, "transport": record.transport, "outcome": record.outcome,
                  "reason": record.reason, "ticket_number": record.ticket_number, "caller_masked": masked}
        values = {k: str(v)[:FIELD_LIMITS[k]] for k, v in values.items()}
        with write_session(self.engine) as session:
            if session.scalar(select(CallRecordRow.id).where(CallRecordRow.call_id == values["call_id"])):
                log.warning("call %s already has a record; the second one is not saved", record.call_id)
                return
            row = CallRecordRow(**values, started_at=as_utc(record.started_at), ended_at=as_utc(record.ended_at),
                                duration_s=record.duration_s, turns=len(record.turns))
            row.turn_rows = [_turn_row(t) for t in record.turns]
            session.add(row)

    def get(self, call_id: str) -> CallRecord | None:
        with read_session(self.engine) as session:
            row = session.scalar(select(CallRecordRow).options(selectinload(CallRecordRow.turn_rows))
                                 .where(CallRecordRow.call_id == call_id))
            return _record(row) if row is not None else None

    def records(self, start: datetime, end: datetime) -> list[CallRecord]:
        """Calls that started in [start, end), oldest first, with their turns."""
        with read_session(self.engine) as session:
            rows = session.scalars(
                select(CallRecordRow)
                .options(selectinload(CallRecordRow.turn_rows))
                .where(CallRecordRow.started_at >= as_utc(start), CallRecordRow.started_at < as_utc(end))
                .order_by(CallRecordRow.started_at, CallRecordRow.id)
            ).all()
            return [_record(row) for row in rows]

    def failed_utterances(self, since: datetime, limit: int = 500) -> list[FailedUtterance]:
        """Caller turns since ``since`` (newest first) that were not understood, or that led to a
        transfer or a ticket (the turn that began it: the answers taking a ticket are no question);
        turns without words (keys, silence), a caller's number or name, and purged ones are left out."""
        prev = aliased(CallTurnRow)
        began_ticket = and_(CallTurnRow.action == "ticket", or_(prev.id.is_(None), prev.action != "ticket"))
        query = (
            select(CallTurnRow, CallRecordRow.call_id)
            .join(CallRecordRow, CallTurnRow.call_row_id == CallRecordRow.id)
            .outerjoin(prev, and_(prev.call_row_id == CallTurnRow.call_row_id, prev.n == CallTurnRow.n - 1))
            .where(CallTurnRow.at >= as_utc(since), CallTurnRow.text != "",
                   CallTurnRow.text.not_in(list(PRIVATE_STEPS.values())),
                   or_(CallTurnRow.understood.is_(False), CallTurnRow.action == "transfer", began_ticket))
            .order_by(CallTurnRow.at.desc(), CallTurnRow.id.desc())
            .limit(limit)
        )
        with read_session(self.engine) as session:
            out = []
            for turn, call_id in session.execute(query).all():
                outcome = (NOT_UNDERSTOOD if not turn.understood
                           else TRANSFERRED if turn.action == "transfer" else TICKET)
                out.append(FailedUtterance(turn.text, turn.at, call_id, outcome, turn.intent or NOT_UNDERSTOOD))
            return out

    def purge_personal_data(self, older_than_days: int) -> int:
        """Blank what callers said (turn texts) in calls that started before the retention cutoff;
        outcomes, intents, items and times stay for the figures. Returns the calls purged."""
        if older_than_days < 0:
            raise ValueError("older_than_days must be 0 or more")
        now = self.now()
        cutoff = as_utc(now - timedelta(days=older_than_days))
        with write_session(self.engine) as session:
            ids = list(session.scalars(select(CallRecordRow.id).where(
                CallRecordRow.started_at < cutoff, CallRecordRow.purged_at.is_(None))))
            for start in range(0, len(ids), 500):  # bounded IN lists on both databases
                chunk = ids[start:start + 500]
                session.execute(update(CallTurnRow).where(CallTurnRow.call_row_id.in_(chunk)).values(text=""))
                session.execute(update(CallRecordRow).where(CallRecordRow.id.in_(chunk))
                                .values(purged_at=as_utc(now)))
            return len(ids)


def _turn_row(t: TurnSummary) -> CallTurnRow:
    return CallTurnRow(n=t.n, at=as_utc(t.at), kind=t.kind[:16], text=t.text, intent=t.intent[:64],
                       confidence=float(t.confidence), action=t.action[:16], item=t.item, asr_ms=t.asr_ms,
                       reply_ms=float(t.reply_ms), understood=bool(t.understood))


def _record(row: CallRecordRow) -> CallRecord:
    turns = [TurnSummary(n=t.n, at=t.at, kind=t.kind, text=t.text, intent=t.intent, confidence=t.confidence,
                         action=t.action, item=t.item, asr_ms=t.asr_ms, reply_ms=t.reply_ms, understood=t.understood)
             for t in row.turn_rows]
    return CallRecord(call_id=row.call_id, transport=row.transport, started_at=row.started_at,
                      ended_at=row.ended_at, outcome=row.outcome, reason=row.reason,
                      ticket_number=row.ticket_number, caller_masked=row.caller_masked, turns=turns)
