"""The schedule engine: which categories an area puts out on a date, and the next date.

It honours collector suspensions (skip or shift a week), a winter's announced year-end
closures (year_end.yaml: where a winter has an entry for a collector, it replaces that
collector's yearly closure for December and January, so 「29日は来る？」 and 「年末年始は？」
agree), Japanese public holidays (through the maintained ``holidays`` package) and the data's
validity: past it, answers are flagged ``stale`` so the bot can say the days may have changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays

from ivr.knowledge.models import (
    Area,
    Collector,
    HolidayPolicy,
    Suspension,
    SuspensionPolicy,
    Validity,
    YearEnd,
    YearEndClosure,
)
from ivr.knowledge.rules import Rule, parse_rule
from ivr.knowledge.year_end import entry_for, winter_of

NEXT_DATE_HORIZON_DAYS = 400  # a year and a month covers every yearly and monthly rule


class Status(StrEnum):
    collected = "collected"
    not_collected = "not_collected"
    suspended = "suspended"  # the collector's closure (e.g. year end)
    holiday = "holiday"  # a public holiday under a skip/next_day policy
    unknown = "unknown"  # the data does not say (date list ended, collector's own calendar)


@dataclass(frozen=True)
class DayStatus:
    category: str
    day: date
    status: Status
    reason: str = ""


@dataclass(frozen=True)
class DayAnswer:
    """What an area puts out on one day."""

    area: str
    day: date
    collected: list[str]
    unknown: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    stale: bool = False


@dataclass(frozen=True)
class NextAnswer:
    category: str
    day: date | None
    stale: bool = False
    unknown: bool = False  # the data cannot say (ask staff)


@lru_cache(maxsize=64)
def _japan_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year, language="ja")


def public_holiday_name(day: date) -> str | None:
    """The name of the Japanese public holiday on ``day``, if any (振替休日 included)."""
    return _japan_holidays(day.year).get(day)


class ScheduleEngine:
    """Answers schedule questions for one knowledge base; rule cells are parsed once."""

    def __init__(
        self,
        areas: list[Area],
        collectors: list[Collector],
        validity: Validity | None = None,
        year_end: list[YearEnd] | None = None,
    ) -> None:
        self._collectors = {c.name: c for c in collectors}
        self._validity = validity
        self._year_end = list(year_end or [])
        self._rules: dict[tuple[str, str], Rule] = {}
        self._areas = {a.name: a for a in areas}
        for area in areas:
            for category, cell in area.rules.items():
                self._rules[(area.name, category)] = parse_rule(cell)

    def is_stale(self, day: date) -> bool:
        """True when ``day`` lies outside the period the data is known to be valid for."""
        v = self._validity
        if v is None:
            return False
        return bool((v.valid_until and day > v.valid_until) or (v.valid_from and day < v.valid_from))

    def rule(self, area: Area, category: str) -> Rule | None:
        return self._rules.get((area.name, category))

    def status(self, area: Area, category: str, day: date) -> DayStatus:
        rule = self.rule(area, category)
        if rule is None or rule.is_empty:
            return DayStatus(category, day, Status.not_collected)
        if rule.ask_staff:
            return DayStatus(category, day, Status.unknown, "collector's own calendar")
        last = rule.last_listed_date()
        if rule.is_date_list and last is not None and day > last:
            return DayStatus(category, day, Status.unknown, "date list ended")
        collector = self._collectors.get(area.collector)
        base = self._base_status(rule, collector, day)
        if base.status is Status.collected or collector is None:
            return DayStatus(category, day, base.status, base.reason)
        # A day can also receive collection moved here from a suspension or a holiday.
        if self._moved_here(rule, collector, day):
            return DayStatus(category, day, Status.collected, "moved")
        return DayStatus(category, day, base.status, base.reason)

    def _base_status(self, rule: Rule, collector: Collector | None, day: date) -> DayStatus:
        if not rule.matches(day):
            return DayStatus("", day, Status.not_collected)
        if collector is not None:
            closure = self.year_end_closure(collector.name, day)
            if closure is not None and closure.contains(day):
                return DayStatus("", day, Status.suspended, "year_end")
            for s in self._suspensions(collector, day):
                if s.contains(day):
                    return DayStatus("", day, Status.suspended, "suspension")
            if collector.holiday_policy is not HolidayPolicy.collect:
                name = public_holiday_name(day)
                if name:
                    return DayStatus("", day, Status.holiday, name)
        return DayStatus("", day, Status.collected)

    def _moved_here(self, rule: Rule, collector: Collector, day: date) -> bool:
        week_before = day - timedelta(days=7)
        for s in self._suspensions(collector, week_before):
            if (
                s.policy is SuspensionPolicy.shift_week
                and s.contains(week_before)
                and rule.matches(week_before)
                and not s.contains(day)
            ):
                return True
        if collector.holiday_policy is HolidayPolicy.next_day:
            day_before = day - timedelta(days=1)
            if rule.matches(day_before) and public_holiday_name(day_before):
                return not public_holiday_name(day)
        return False

    def year_end_closure(self, collector: str, day: date) -> YearEndClosure | None:
        """The announced closure of ``collector`` in the winter of ``day`` (December or January),
        when year_end.yaml has one."""
        winter = winter_of(day)
        entry = entry_for(self._year_end, winter) if winter is not None else None
        return entry.closure_for(collector) if entry is not None else None

    def _suspensions(self, collector: Collector, day: date) -> list[Suspension]:
        """The suspensions that speak for ``day``: a winter's announced closure replaces the
        yearly one (an old year's dates repeated), never a one-off closure."""
        if self.year_end_closure(collector.name, day) is None:
            return collector.suspensions
        return [s for s in collector.suspensions if not s.annual]

    def collected_on(self, area: Area, day: date) -> DayAnswer:
        collected: list[str] = []
        unknown: list[str] = []
        suspended: list[str] = []
        for category in area.rules:
            st = self.status(area, category, day).status
            if st is Status.collected:
                collected.append(category)
            elif st is Status.unknown:
                unknown.append(category)
            elif st in (Status.suspended, Status.holiday):
                suspended.append(category)
        return DayAnswer(area.name, day, collected, unknown, suspended, self.is_stale(day))

    def next_date(self, area: Area, category: str, start: date) -> NextAnswer:
        """The first collection of ``category`` on or after ``start``."""
        for offset in range(NEXT_DATE_HORIZON_DAYS):
            day = start + timedelta(days=offset)
            st = self.status(area, category, day).status
            if st is Status.collected:
                return NextAnswer(category, day, stale=self.is_stale(day))
            if st is Status.unknown:
                return NextAnswer(category, None, stale=self.is_stale(day), unknown=True)
        rule = self.rule(area, category)
        return NextAnswer(category, None, stale=self.is_stale(start), unknown=rule is not None)
