"""Staff availability on Asterisk: office hours AND someone logged into the staff queue.

Office hours alone would send callers to an empty queue when everyone is at lunch or in a
meeting; the queue knows who is actually logged in. ``QueueSummary`` answers the common cases in
one event (someone free → yes; nobody logged in → no); only "logged in but none free" needs
``QueueStatus``, to tell members who are paused (away: no) from members on another call (busy:
the caller waits a little in the queue, which still reaches a person: yes).

When AMI is down the answer falls back to office hours alone. That errs towards transferring:
a caller sent to an empty queue still meets the queue's timeout and the voicemail after it in the
dialplan (docker/asterisk/extensions.conf), whereas a wrong "no" during office hours would turn
every call into a callback ticket while staff sit at their desks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from escalation.staff import within_office_hours
from ivr.telephony.ami import AmiBridge, AmiError

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.knowledge.models import BusinessHours

log = logging.getLogger(__name__)

QUEUE_CACHE_S = 5.0  # staff log in and out over minutes; one AMI round trip per escalation burst is plenty
UNREACHABLE_STATES = frozenset({"4", "5"})  # AST_DEVICE_INVALID, AST_DEVICE_UNAVAILABLE: phone not registered


def member_can_answer(member: dict[str, object]) -> bool:
    """A ``QueueMember`` event: logged in (its phone is reachable) and not paused."""
    return str(member.get("Paused", "0")) != "1" and str(member.get("Status", "")) not in UNREACHABLE_STATES


async def queue_has_staff(ami: AmiBridge, queue: str) -> bool:
    """True when a call sent to ``queue`` now would reach a person (raises ``AmiError``)."""
    summary = next((e for e in await ami.event_list("QueueSummary", Queue=queue)
                    if e.get("Event") == "QueueSummary" and e.get("Queue") == queue), None)
    if summary is None:
        log.warning("Asterisk has no queue %r (queues.conf vs IVR_STAFF_QUEUE)", queue)
        return False
    if int(summary.get("Available", 0) or 0) > 0:
        return True
    if int(summary.get("LoggedIn", 0) or 0) == 0:
        return False
    members = [e for e in await ami.event_list("QueueStatus", Queue=queue)
               if e.get("Event") == "QueueMember" and e.get("Queue") == queue]
    return any(member_can_answer(m) for m in members)


class AsteriskStaffLine:
    """``StaffLine`` for Asterisk deployments (``IVR_AMI_HOST`` set)."""

    def __init__(self, hours: BusinessHours | None, ami: AmiBridge, queue: str,
                 clock: Callable[[], float] = time.monotonic, cache_s: float = QUEUE_CACHE_S) -> None:
        self.hours = hours
        self.ami = ami
        self.queue = queue
        self._clock = clock
        self._cache_s = cache_s
        self._cached: tuple[float, bool] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, hours: BusinessHours | None) -> AsteriskStaffLine:
        return cls(hours, AmiBridge.from_settings(settings), settings.staff_queue)

    async def available(self, now: datetime) -> bool:
        if not within_office_hours(self.hours, now):
            return False
        staffed = await self.queue_staffed()
        return True if staffed is None else staffed

    async def queue_staffed(self) -> bool | None:
        """Whether anyone can answer the queue now; None when AMI cannot tell (then not cached)."""
        async with self._lock:  # calls escalating together share one answer
            if self._cached is not None and self._clock() - self._cached[0] < self._cache_s:
                return self._cached[1]
            if not self.ami.connected:
                return None
            try:
                staffed = await queue_has_staff(self.ami, self.queue)
            except AmiError as exc:
                log.warning("queue %s: status unknown (%s); office hours decide", self.queue, exc)
                return None
            self._cached = (self._clock(), staffed)
            return staffed
