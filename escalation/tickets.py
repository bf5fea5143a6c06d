"""The ticket queue interface the dialogue uses, and an in-memory queue for tests and the simulator.

A ticket is committed (``create`` returns) before the caller is told it was taken. The durable
store (``escalation/store.py``: SQLite or PostgreSQL, worked by staff in the console) implements
the same protocol; the dialogue never knows which one it has.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

REASONS = ("oogata", "collection", "illegal_dumping", "animal", "general")  # where staff take it (routing)
URGENCIES = ("normal", "urgent")
STATUSES = ("open", "claimed", "called_back", "resolved", "closed")


@dataclass(frozen=True)
class TranscriptLine:
    """One turn of the call as staff read it: who spoke, what, when."""

    speaker: str  # caller | bot
    text: str
    at: datetime | None = None

    @classmethod
    def parse(cls, line: str, at: datetime | None = None) -> TranscriptLine:
        """``"caller: 冷蔵庫…"`` (the call state's form) → a line."""
        speaker, _, text = line.partition(": ")
        return cls(speaker, text, at) if text else cls("caller", line, at)


@dataclass(frozen=True)
class TicketRequest:
    call_id: str
    topic: str  # FAQ topic id (missed_collection, callback …)
    summary: str  # what the caller said about it
    callback_number: str = ""
    caller_name: str = ""
    area: str = ""
    complete: bool = True  # False when the caller hung up before giving every detail
    created_at: datetime | None = None
    transcript: list[TranscriptLine] = field(default_factory=list)
    reason: str = "general"  # one of REASONS: which desk calls back
    urgency: str = "normal"  # one of URGENCIES
    caller_number: str = ""  # caller ID as the carrier gave it ('' when withheld)
    item: str = ""  # the item the call was about, if any


@dataclass(frozen=True)
class Ticket:
    id: int
    number: str  # spoken to the caller digit by digit, e.g. 1024
    request: TicketRequest
    status: str = "open"
    joined: bool = False  # True when this call was added to an open ticket of the same caller and reason


class TicketQueue(Protocol):
    async def create(self, request: TicketRequest) -> Ticket:
        """Commit the ticket durably and return it; raise if it could not be stored. A second
        call from the same number about the same reason within 24 h joins the open ticket."""
        ...

    async def list_open(self) -> list[Ticket]: ...


JOIN_WINDOW_HOURS = 24  # a caller ringing back about the same thing within a day is the same case


class InMemoryTicketQueue:
    """Keeps tickets in a list: for tests and ``ivr sim``; lost when the process ends."""

    FIRST_NUMBER = 1001  # four-digit numbers are easy to say and write down

    def __init__(self) -> None:
        self._tickets: list[Ticket] = []
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.fail_next = False  # tests: make the next create fail like a broken database

    async def create(self, request: TicketRequest) -> Ticket:
        async with self._lock:
            if self.fail_next:
                self.fail_next = False
                raise OSError("ticket store unavailable")
            if (open_one := self._joinable(request)) is not None:
                return replace(open_one, joined=True)
            ticket_id = next(self._ids)
            ticket = Ticket(ticket_id, str(self.FIRST_NUMBER + ticket_id - 1), request)
            self._tickets.append(ticket)
            return ticket

    def _joinable(self, request: TicketRequest) -> Ticket | None:
        number = request.caller_number or request.callback_number
        if not number or request.created_at is None:
            return None
        for ticket in reversed(self._tickets):
            r = ticket.request
            if (ticket.status in ("open", "claimed") and r.reason == request.reason
                    and number in (r.caller_number, r.callback_number) and r.created_at is not None
                    and (request.created_at - r.created_at).total_seconds() < JOIN_WINDOW_HOURS * 3600):
                return ticket
        return None

    async def list_open(self) -> list[Ticket]:
        return [t for t in self._tickets if t.status == "open"]

    @property
    def tickets(self) -> list[Ticket]:
        return list(self._tickets)
