"""The figures a city reports about its hotline, per day, week or month, from the call records.

Days are the city's own (a call at 23:30 JST is that day's, not the next UTC day's). Containment
is what the bot is for: calls that ended with answers and no staff. Staff hours saved are an
estimate the city can check: contained calls × the minutes a person takes for such a call
(``IVR_MINUTES_PER_CALL``).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from analytics.records import (
    ABANDONED,
    ANSWERED,
    FAILED,
    MECHANICS,
    TICKET,
    TRANSFERRED,
    CallRecord,
)
from analytics.store import CallLog

TOP = 10  # intents and items listed
TOP_NOT_UNDERSTOOD = 30  # utterances not understood listed (the FAQ loop reads them all from CallLog)
KINDS = ("day", "week", "month")


@dataclass(frozen=True)
class DayFigures:
    day: date
    calls: int
    contained: int
    transferred: int
    tickets: int
    abandoned: int
    failed: int


@dataclass(frozen=True)
class PeriodFigures:
    start: date  # city-local dates, end exclusive
    end: date
    calls: int
    contained: int
    abandoned: int
    failed: int
    transferred: dict[str, int]  # by reason, most first
    tickets: dict[str, int]  # by reason, most first
    avg_handle_s: float
    top_intents: list[tuple[str, int]]  # calls that asked about each intent
    top_items: list[tuple[str, int]]  # calls that asked about each item
    not_understood: list[tuple[str, int]]  # utterance text, count (most frequent first)
    staff_hours_saved: float  # contained × minutes_per_call / 60
    asr_ms_p50: float | None
    reply_ms_p50: float | None
    days: list[DayFigures]

    @property
    def containment(self) -> float:
        return self.contained / self.calls if self.calls else 0.0

    @property
    def transferred_total(self) -> int:
        return sum(self.transferred.values())

    @property
    def tickets_total(self) -> int:
        return sum(self.tickets.values())


def local_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) city-local dates as UTC instants."""
    return (datetime.combine(start, time(0), tz).astimezone(UTC), datetime.combine(end, time(0), tz).astimezone(UTC))


def period_figures(engine: Engine, start: date, end: date, *, tz: ZoneInfo, minutes_per_call: float) -> PeriodFigures:
    """The figures of the calls that started on the city-local days [start, end)."""
    if end <= start:
        raise ValueError(f"empty period: {start} .. {end}")
    first, last = local_bounds(start, end, tz)
    return figures_of(CallLog(engine).records(first, last), start, end, tz=tz, minutes_per_call=minutes_per_call)


def figures_of(records: list[CallRecord], start: date, end: date, *, tz: ZoneInfo,
               minutes_per_call: float) -> PeriodFigures:
    """The figures of ``records`` (already limited to the period): no database needed."""
    outcomes = Counter(r.outcome for r in records)
    transferred = Counter(r.reason or "unknown" for r in records if r.outcome == TRANSFERRED)
    tickets = Counter(r.reason or "unknown" for r in records if r.outcome == TICKET)
    intents: Counter[str] = Counter()
    items: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    asr: list[float] = []
    reply: list[float] = []
    for r in records:
        intents.update({t.intent for t in r.turns if t.intent not in MECHANICS})
        items.update(set(r.items))
        missed.update(" ".join(t.text.split()) for t in r.turns if not t.understood and t.text.strip())
        asr.extend(t.asr_ms for t in r.turns if t.asr_ms is not None)
        reply.extend(t.reply_ms for t in r.turns if t.kind not in ("hangup",))
    contained = outcomes[ANSWERED]
    return PeriodFigures(
        start=start, end=end, calls=len(records), contained=contained, abandoned=outcomes[ABANDONED],
        failed=outcomes[FAILED], transferred=dict(transferred.most_common()), tickets=dict(tickets.most_common()),
        avg_handle_s=statistics.fmean(r.duration_s for r in records) if records else 0.0,
        top_intents=intents.most_common(TOP), top_items=items.most_common(TOP),
        not_understood=missed.most_common(TOP_NOT_UNDERSTOOD),
        staff_hours_saved=contained * minutes_per_call / 60,
        asr_ms_p50=statistics.median(asr) if asr else None, reply_ms_p50=statistics.median(reply) if reply else None,
        days=_days(records, start, end, tz),
    )


def _days(records: list[CallRecord], start: date, end: date, tz: ZoneInfo) -> list[DayFigures]:
    by_day: dict[date, Counter[str]] = {}
    for r in records:
        by_day.setdefault(r.started_at.astimezone(tz).date(), Counter())[r.outcome] += 1
    out = []
    day = start
    while day < end:
        c = by_day.get(day, Counter())
        out.append(DayFigures(day=day, calls=sum(c.values()), contained=c[ANSWERED], transferred=c[TRANSFERRED],
                              tickets=c[TICKET], abandoned=c[ABANDONED], failed=c[FAILED]))
        day += timedelta(days=1)
    return out


def period_for(kind: str, anchor: date) -> tuple[date, date]:
    """The day, ISO week (Monday first) or calendar month holding ``anchor``."""
    if kind == "day":
        return anchor, anchor + timedelta(days=1)
    if kind == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return monday, monday + timedelta(days=7)
    if kind == "month":
        first = anchor.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1)
    raise ValueError(f"period kind must be one of {', '.join(KINDS)}, not {kind!r}")


def month_range(text: str) -> tuple[date, date]:
    """``"2026-11"`` → (2026-11-01, 2026-12-01). Raises ValueError on anything else."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return period_for("month", date(year, month, 1))
    except (ValueError, TypeError):
        raise ValueError(f"a month is written YYYY-MM (e.g. 2026-11), not {text!r}") from None


CSV_HEADER = ["日付", "通話数", "自動応答で完結", "職員へ転送", "折り返し受付", "途中で切れた", "障害"]
TOTAL_LABEL = "合計"


def figures_csv(figures: PeriodFigures) -> str:
    """One row per day and a totals row, Japanese headers (staff open it in Excel: write it as
    UTF-8 with a BOM, as ``ivr report --csv`` does)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for d in figures.days:
        writer.writerow([d.day.isoformat(), d.calls, d.contained, d.transferred, d.tickets, d.abandoned, d.failed])
    writer.writerow([TOTAL_LABEL, figures.calls, figures.contained, figures.transferred_total, figures.tickets_total,
                     figures.abandoned, figures.failed])
    return out.getvalue()
