"""Which winter a date belongs to, and the warning when the coming one has no schedule.

Cities announce their year-end and new-year collection every autumn, and it changes from
year to year (which day the last collection falls on, a closure one day longer), so the
knowledge base keeps one entry per winter in year_end.yaml. The bot must never state an
old winter's days as this year's: it says which year they are from and offers staff.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ivr.knowledge.loader import YEAR_END_FILE, Problem
from ivr.knowledge.models import YearEnd

# The usual closure of Japanese public offices (行政機関の休日に関する法律: 12月29日〜1月3日):
# the days a caller means by 年末年始, and the days the validate warning looks ahead to.
YEAR_END_START = (12, 29)
YEAR_END_END = (1, 3)


def year_end_days(year: int) -> tuple[date, date]:
    """The usual 年末年始 of the winter ``year``: ``year``-12-29 → ``year``+1-01-03."""
    return date(year, *YEAR_END_START), date(year + 1, *YEAR_END_END)


def coming_winter(today: date) -> int:
    """The winter whose 年末年始 is under way or next: on 2027-01-02 still 2026, from 01-04 2027."""
    return today.year - 1 if (today.month, today.day) <= YEAR_END_END else today.year


def winter_of(day: date) -> int | None:
    """The winter a December or January date belongs to (2026-12-30 and 2027-01-04 → 2026);
    None for other months, which no year-end question is about."""
    if day.month == 12:
        return day.year
    if day.month == 1:
        return day.year - 1
    return None


def entry_for(entries: list[YearEnd], year: int) -> YearEnd | None:
    return next((e for e in entries if e.year == year), None)


def latest(entries: list[YearEnd]) -> YearEnd | None:
    """The newest winter the knowledge base knows: what the bot can still say, as that year's."""
    return max(entries, key=lambda e: e.year, default=None)


def missing_year_end(root: Path, entries: list[YearEnd], today: date) -> Problem | None:
    """A warning (not an error: the bot still answers, with what it knows, and offers staff)
    when the coming 年末年始 has no entry; it names the year and the file to edit."""
    year = coming_winter(today)
    if entry_for(entries, year) is not None:
        return None
    start, end = year_end_days(year)
    known = latest(entries)
    newest = f"the newest entry is year {known.year}" if known else "it has no entry yet"
    message = (
        f"no year-end schedule for the winter {year} ({start} to {end}); {newest}. "
        f"Add a `year: {year}` entry to {root / YEAR_END_FILE} once the city announces it"
    )
    return Problem(YEAR_END_FILE, 0, "year_end", message)
