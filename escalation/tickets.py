"""The ticket queue interface, and an in-memory queue for tests and the simulator.

A ticket is committed (``create`` returns) before the caller is told it was taken; a durable
queue (SQLite/PostgreSQL, with the staff console) implements the same protocol.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


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
    transcript: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ticket:
    id: int
    number: str  # spoken to the caller, e.g. 1024
    request: TicketRequest
    status: str = "open"


class TicketQueue(Protocol):
    async def create(self, request: TicketRequest) -> Ticket:
        """Commit the ticket durably and return it; raise if it could not be stored."""
        ...

    async def list_open(self) -> list[Ticket]: ...


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
            ticket_id = next(self._ids)
            ticket = Ticket(ticket_id, str(self.FIRST_NUMBER + ticket_id - 1), request)
            self._tickets.append(ticket)
            return ticket

    async def list_open(self) -> list[Ticket]:
        return [t for t in self._tickets if t.status == "open"]

    @property
    def tickets(self) -> list[Ticket]:
        return list(self._tickets)
