"""Build call sessions for the simulator: a fixed or real clock, in-memory tickets, office hours."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from escalation.staff import OfficeHoursStaffLine
from escalation.tickets import InMemoryTicketQueue
from ivr.dialogue.session import CallSession
from ivr.dialogue.state import Brain


def parse_now(text: str | None, tz: str) -> datetime | None:
    """ISO date-time (a date alone means 10:00); naive times are in the city's time zone."""
    if not text:
        return None
    value = datetime.fromisoformat(text if "T" in text or " " in text else f"{text}T10:00")
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))


class Simulator:
    """Everything ``ivr sim`` and ``ivr ask`` share: models loaded once, a session per call."""

    def __init__(
        self, data_dir: Path | str, now: str | None = None, embedding_model: str = "", cache_dir: Path | None = None
    ) -> None:
        self._setup(Brain.load(data_dir, embedding_model, cache_dir), now)

    @classmethod
    def from_brain(cls, brain: Brain, now: str | None = None) -> Simulator:
        """Reuse already loaded models (tests run many scenarios on one brain)."""
        sim = cls.__new__(cls)
        sim._setup(brain, now)
        return sim

    def _setup(self, brain: Brain, now: str | None) -> None:
        self.brain = brain
        self.tz = ZoneInfo(self.brain.kb.municipality.timezone)
        self.fixed_now = parse_now(now, self.brain.kb.municipality.timezone)
        self.tickets = InMemoryTicketQueue()
        self.staff = OfficeHoursStaffLine(self.brain.kb.municipality.business_hours)

    def clock(self) -> datetime:
        return self.fixed_now or datetime.now(self.tz)

    def session(self, caller_number: str = "", now: datetime | None = None) -> CallSession:
        clock = (lambda: now) if now is not None else self.clock
        return CallSession(self.brain, self.tickets, self.staff, clock, caller_number=caller_number)
