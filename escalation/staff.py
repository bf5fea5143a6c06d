"""Whether staff can take a call now: office hours (with public holidays) and the line.

The Asterisk transport will ask its queue (QueueStatus) whether anyone is logged in; the
simulator and tests use office hours alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ivr.knowledge.models import WEEKDAYS_JA, BusinessHours
from ivr.knowledge.schedule import public_holiday_name


class StaffLine(Protocol):
    async def available(self, now: datetime) -> bool:
        """True when a transfer now would reach a person."""
        ...


def within_office_hours(hours: BusinessHours | None, now: datetime) -> bool:
    if hours is None:
        return False
    day = now.date()
    if WEEKDAYS_JA[day.weekday()] not in hours.weekdays:
        return False
    if hours.closed_on_public_holidays and public_holiday_name(day):
        return False
    if hours.year_end_closure and hours.year_end_closure.contains(day):
        return False
    return hours.open <= now.time() < hours.close


class OfficeHoursStaffLine:
    """Staff are there during the municipality's business hours."""

    def __init__(self, hours: BusinessHours | None) -> None:
        self._hours = hours

    async def available(self, now: datetime) -> bool:
        return within_office_hours(self._hours, now)
