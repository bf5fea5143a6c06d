"""Tickets as plain values, detached from the database: what templates, threads, the REST API and
the CLI are handed, so nothing outside the store ever holds a live ORM session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escalation.db import utcnow
from escalation.ticket_tables import TicketRow
from escalation.tickets import Ticket, TicketRequest, TranscriptLine

SLA_HOURS: dict[str, int] = {  # hours until a callback is due; the key is the urgency 'urgent' or the reason
    "urgent": 2,  # a hazard (fire risk, blocked road) needs someone out the same morning
    "animal": 4,  # a dead animal on the road is collected the same day, before heat and traffic
    "illegal_dumping": 24,  # about one business day: staff inspect the site on their next round
    "oogata": 48,  # booking questions wait for the 大型ごみ desk, open on weekdays only
    "collection": 48,  # a missed collection is re-collected on a later round anyway
    "general": 48,  # anything else: within two working days, the city's service standard
}
ACTIVE = ("open", "claimed")  # tickets still waiting for a callback: they join new calls and can be overdue

# --- plain records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteRecord:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str  # created | joined | claimed | called_back | resolved | closed | reopened | noted | purged
    detail: str


@dataclass(frozen=True)
class TicketRecord:
    """A ticket as plain values, detached from the database (safe to hand to templates and threads)."""

    id: int
    number: str
    reason: str
    urgency: str
    topic: str
    caller_number: str
    callback_number: str
    caller_name: str
    area: str
    item: str
    summary: str
    complete: bool
    created_at: datetime
    due_at: datetime
    status: str
    assignee: str | None
    purged_at: datetime | None
    transcript: list[TranscriptLine]
    notes: list[NoteRecord]
    audit: list[AuditRecord]
    call_ids: list[str]
    as_of: datetime = field(default_factory=utcnow, compare=False)  # the store's clock when read: 'overdue' uses it

    @property
    def overdue(self) -> bool:
        return self.status in ACTIVE and self.due_at < self.as_of

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "id": self.id, "number": self.number, "reason": self.reason, "urgency": self.urgency,
            "topic": self.topic, "caller_number": self.caller_number, "callback_number": self.callback_number,
            "caller_name": self.caller_name, "area": self.area, "item": self.item, "summary": self.summary,
            "complete": self.complete, "created_at": iso(self.created_at), "due_at": iso(self.due_at),
            "status": self.status, "assignee": self.assignee, "purged_at": iso(self.purged_at),
            "overdue": self.overdue,
            "transcript": [{"speaker": t.speaker, "text": t.text, "at": iso(t.at)} for t in self.transcript],
            "notes": [{"author": n.author, "at": iso(n.at), "text": n.text} for n in self.notes],
            "audit": [{"at": iso(a.at), "actor": a.actor, "action": a.action, "detail": a.detail} for a in self.audit],
            "call_ids": list(self.call_ids),
        }

    def to_ticket(self, *, joined: bool = False) -> Ticket:
        """The dialogue's view of the ticket (the TicketQueue protocol)."""
        request = TicketRequest(
            call_id=self.call_ids[0] if self.call_ids else "", topic=self.topic, summary=self.summary,
            callback_number=self.callback_number, caller_name=self.caller_name, area=self.area,
            complete=self.complete, created_at=self.created_at, transcript=list(self.transcript),
            reason=self.reason, urgency=self.urgency, caller_number=self.caller_number, item=self.item,
        )
        return Ticket(self.id, self.number, request, status=self.status, joined=joined)


def due_hours(reason: str, urgency: str) -> int:
    return SLA_HOURS["urgent"] if urgency == "urgent" else SLA_HOURS.get(reason, SLA_HOURS["general"])


def _record(row: TicketRow, now: datetime) -> TicketRecord:
    return TicketRecord(
        id=row.id, number=row.number or "", reason=row.reason, urgency=row.urgency, topic=row.topic,
        caller_number=row.caller_number, callback_number=row.callback_number, caller_name=row.caller_name,
        area=row.area, item=row.item, summary=row.summary, complete=row.complete, created_at=row.created_at,
        due_at=row.due_at, status=row.status, assignee=row.assignee, purged_at=row.purged_at,
        transcript=[TranscriptLine(t.speaker, t.text, t.at) for t in row.transcript],
        notes=[NoteRecord(n.author, n.at, n.text) for n in row.notes],
        audit=[AuditRecord(a.at, a.actor, a.action, a.detail) for a in row.audit],
        call_ids=[c.call_id for c in row.calls],
        as_of=now,
    )

