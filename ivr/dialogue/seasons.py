"""年末年始, 祝日, お盆, ゴールデンウィーク: answered from the knowledge base, not by staff.

December is the hotline's busiest month and most of its calls ask when collection stops and
restarts, so a year-end question is answered from year_end.yaml. A winter the knowledge base
has no entry for is never answered with an old year's days as if they were this year's: the
bot says which year they are from and offers staff as a question (the caller may decline).
Holidays are answered from each collector's holiday policy and suspensions, as the schedule
engine applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from ivr.dialogue import prompts
from ivr.dialogue.answers import area_for_ear, day_answer, stale_note
from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import WEEKDAYS_JA, Area, Collector, HolidayPolicy, YearEnd
from ivr.knowledge.schedule import public_holiday_name
from ivr.knowledge.year_end import coming_winter, entry_for, latest, winter_of, year_end_days
from ivr.language.dates import NEW_YEAR, YEAR_END, parse_date
from ivr.language.normalize import kanji_digits, nfkc, normalize

OBON_WORDS = ("お盆", "おぼん", "オボン", "盆休み", "ぼんやすみ")
GOLDEN_WEEK_WORDS = ("ゴールデンウィーク", "ゴールデンウイーク", "GW", "大型連休")
OBON_DAYS = ((8, 13), (8, 16))  # the customary お盆 (not public holidays in law): what callers mean by it
GOLDEN_WEEK_DAYS = ((4, 29), (5, 5))  # 昭和の日 to こどもの日
HOLIDAY_LOOKAHEAD_DAYS = 366  # 「祝日は？」 asks about every public holiday of the coming year
A_DAY_NAMED = re.compile(r"\d{1,2}日")  # 「1月4日から？」 names a day; 年末 alone asks about the coming one


@dataclass(frozen=True)
class SeasonAnswer:
    text: str
    offer_staff: bool = False  # what is known was said; ask whether to put the caller through


# --- 年末年始 -------------------------------------------------------------------------------


def asked_winter(words: str, today: date) -> int:
    """The winter the caller asks about: the one of a December or January day they name, else
    the coming one (年末 said on 2 January still means the new year under way)."""
    if A_DAY_NAMED.search(kanji_digits(nfkc(words))):
        day = parse_date(normalize(words), today)
        winter = winter_of(day) if day else None
        if winter is not None:
            return winter
    return coming_winter(today)


def year_end_answer(kb: KnowledgeBase, today: date, words: str, area: Area | None) -> SeasonAnswer:
    year = asked_winter(words, today)
    entry = entry_for(kb.year_end, year)
    if entry is not None:
        return SeasonAnswer(prompts.YEAR_END_HEAD.format(span=_span(year)) + _schedule(entry, area, past=False))
    known = latest(kb.year_end)
    if known is None:
        return SeasonAnswer(prompts.YEAR_END_NONE + prompts.OFFER_STAFF_AFTER_ANSWER, offer_staff=True)
    text = (
        prompts.YEAR_END_NOT_YET.format(span=_span(year))
        + prompts.YEAR_END_KNOWN.format(span=_span(known.year))
        + _schedule(known, area, past=True)
        + prompts.YEAR_END_MAY_DIFFER
        + prompts.OFFER_STAFF_AFTER_ANSWER
    )
    return SeasonAnswer(text, offer_staff=True)


def _span(year: int) -> str:
    """2026 → 2026年末から2027年始: how the city's notices name a winter."""
    return f"{year}年末から{year + 1}年始"


def _day(day: date, weekday: bool) -> str:
    """12月29日 火曜日; an old year's dates without the weekday, which would mislead this year."""
    text = f"{day.month}月{day.day}日"
    return f"{text} {WEEKDAYS_JA[day.weekday()]}曜日" if weekday else text


def _schedule(entry: YearEnd, area: Area | None, past: bool) -> str:
    """Each collector's closure (only the caller's when their area is known), then 持ち込み."""
    closures = entry.collection
    own = entry.closure_for(area.collector) if area is not None else None
    if own is not None:
        closures = [own]
    closed = prompts.YEAR_END_CLOSED_PAST if past else prompts.YEAR_END_CLOSED
    parts: list[str] = []
    for c in closures:
        who = area_for_ear(area) if own is not None and area is not None else c.spoken or c.collector
        parts.append(closed.format(who=who, start=_day(c.start, not past), end=_day(c.end, not past)))
        if past:
            continue
        if c.last_day:
            parts.append(prompts.YEAR_END_LAST_DAY.format(day=_day(c.last_day, True)))
        if c.first_day:
            parts.append(prompts.YEAR_END_FIRST_DAY.format(day=_day(c.first_day, True)))
        else:
            parts.append(prompts.YEAR_END_RESUMES.format(day=_day(c.end + timedelta(days=1), True)))
    if entry.self_haul is not None:
        s = entry.self_haul
        who = prompts.SELF_HAUL_AT.format(place=s.place) if s.place else prompts.SELF_HAUL
        template = prompts.YEAR_END_SELF_HAUL_PAST if past else prompts.YEAR_END_SELF_HAUL
        parts.append(template.format(who=who, start=_day(s.start, not past), end=_day(s.end, not past)))
    if entry.note and not past:
        parts.append(entry.note)
    return "".join(parts)


# --- 祝日, お盆, ゴールデンウィーク ----------------------------------------------------------------


def is_year_end_question(words: str, today: date) -> bool:
    """年末, 正月, or a day of 年末年始 named: the year-end schedule answers, not the holiday rules."""
    if any(w in words for w in (*YEAR_END, *NEW_YEAR)):
        return True
    day = _named_day(words, today)
    return day is not None and _in_year_end(day)


def holiday_answer(kb: KnowledgeBase, today: date, words: str, area: Area | None) -> SeasonAnswer:
    day = _named_day(words, today)
    if any(w in words for w in OBON_WORDS):
        period, days = prompts.PERIOD_OBON, _next_span(today, *OBON_DAYS)
    elif any(w in words for w in GOLDEN_WEEK_WORDS):
        period, days = prompts.PERIOD_GOLDEN_WEEK, _next_span(today, *GOLDEN_WEEK_DAYS)
    elif day is not None and area is not None:
        return SeasonAnswer(day_answer(kb, area, day, today))  # the engine says that very day
    else:
        period, days = prompts.PERIOD_HOLIDAYS, [day] if day else _holidays_ahead(today)
    lead = ""
    if day is not None and period == prompts.PERIOD_HOLIDAYS and (name := public_holiday_name(day)):
        lead = prompts.HOLIDAY_NAMED_DAY.format(day=_day(day, True), holiday=name)
    text = lead + _policies(kb, area, period, days)
    if period == prompts.PERIOD_HOLIDAYS and day is None:
        text += prompts.HOLIDAY_YEAR_END_APART
    return SeasonAnswer(text + stale_note(kb, days[0] if days else today))


def _named_day(words: str, today: date) -> date | None:
    return parse_date(normalize(words), today)


def _in_year_end(day: date) -> bool:
    winter = winter_of(day)
    if winter is None:
        return False
    start, end = year_end_days(winter)
    return start <= day <= end


def _next_span(today: date, first: tuple[int, int], last: tuple[int, int]) -> list[date]:
    """The days of the next (or current) yearly period such as お盆."""
    year = today.year if (today.month, today.day) <= last else today.year + 1
    start, end = date(year, *first), date(year, *last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _holidays_ahead(today: date) -> list[date]:
    days = (today + timedelta(days=i) for i in range(HOLIDAY_LOOKAHEAD_DAYS))
    return [d for d in days if public_holiday_name(d) and not _in_year_end(d)]


def _collectors(kb: KnowledgeBase, area: Area | None) -> list[Collector]:
    """The caller's collector when their area is known, else every collector with areas."""
    by_name = {c.name: c for c in kb.collectors}
    if area is not None and area.collector in by_name:
        return [by_name[area.collector]]
    used = {a.collector for a in kb.areas}
    return [c for c in kb.collectors if c.name in used] or kb.collectors


def _who(kb: KnowledgeBase, collector: str, area: Area | None) -> str:
    """How callers know a collector's areas: the caller's town, else the year-end data's name."""
    if area is not None:
        return area_for_ear(area)
    for entry in reversed(kb.year_end):
        closure = entry.closure_for(collector)
        if closure is not None and closure.spoken:
            return closure.spoken
    return collector


def _policies(kb: KnowledgeBase, area: Area | None, period: str, days: list[date]) -> str:
    """What each collector does on ``days``: collect as usual, skip holidays, move them, or a closure."""
    said: list[tuple[bool, str]] = []  # (collected as usual, sentence)
    holidays = [d for d in days if public_holiday_name(d)]
    for c in _collectors(kb, area):
        who = _who(kb, c.name, area)
        off = [d for d in days if not _in_year_end(d) and any(s.contains(d) for s in c.suspensions)]
        if off:
            said.append(
                (False, prompts.HOLIDAY_SUSPENDED.format(who=who, start=_day(off[0], True), end=_day(off[-1], True)))
            )
        elif holidays and c.holiday_policy is HolidayPolicy.skip:
            said.append((False, prompts.HOLIDAY_SKIPPED.format(who=who)))
        elif holidays and c.holiday_policy is HolidayPolicy.next_day:
            said.append((False, prompts.HOLIDAY_NEXT_DAY.format(who=who)))
        else:
            said.append((True, prompts.HOLIDAY_COLLECTED_WHO.format(who=who, period=period)))
    if all(usual for usual, _ in said):  # everyone collects as usual: say it once
        if area is not None:
            return prompts.HOLIDAY_COLLECTED_WHO.format(who=area_for_ear(area), period=period)
        return prompts.HOLIDAY_COLLECTED.format(period=period)
    return "".join(sentence for _, sentence in said)
