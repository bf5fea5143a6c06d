"""Schedule rules: the 5374.jp token language for "when is this category collected here".

Written by hand because no library reads it; the grammar is the one the 5374.jp app's
``TrashModel`` uses, plus Nara's ``隔`` extension and our ``要確認`` marker.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from ivr.knowledge.models import WEEKDAYS_JA

ASK_STAFF = "要確認"  # the collector keeps its own calendar: the bot must not guess
LIST_END_SENTINEL = date(2099, 12, 31)  # Nara's data closes every date list with 20991231
ALL_MONTHS = frozenset(range(1, 13))

_NTH = re.compile(rf"^([{WEEKDAYS_JA}])([1-5])$")
_BIWEEKLY = re.compile(rf"^隔([{WEEKDAYS_JA}])(\d{{8}})$")
_DATE = re.compile(r"^\d{8}$")
_REMARK = re.compile(r"^\*(\d+)$")
_RUN_OF_WEEKDAYS = re.compile(rf"^[{WEEKDAYS_JA}]{{2,7}}$")


class RuleError(ValueError):
    """A rule cell that cannot be read; the message says which token and why."""


@dataclass(frozen=True)
class Rule:
    """One parsed rule cell. Empty means: not collected in this area."""

    weekly: frozenset[int] = frozenset()  # weekday numbers (Mon=0)
    nth: frozenset[tuple[int, int]] = frozenset()  # (weekday, n) — nth weekday of the month
    biweekly: tuple[tuple[int, date], ...] = ()  # (weekday, anchor date)
    dates: frozenset[date] = frozenset()
    months: frozenset[int] = ALL_MONTHS
    remarks: tuple[str, ...] = ()
    ask_staff: bool = False
    source: str = field(default="", compare=False)

    @property
    def is_empty(self) -> bool:
        return not (self.weekly or self.nth or self.biweekly or self.dates or self.ask_staff)

    @property
    def is_date_list(self) -> bool:
        """True when the rule is only a list of dates, so it says nothing past the last one."""
        return bool(self.dates) and not (self.weekly or self.nth or self.biweekly)

    def matches(self, day: date) -> bool:
        """Whether this rule collects on ``day``, before suspensions and holidays."""
        if day in self.dates:
            return True
        if day.month not in self.months:
            return False
        weekday = day.weekday()
        if weekday in self.weekly:
            return True
        if (weekday, (day.day - 1) // 7 + 1) in self.nth:
            return True
        return any(
            weekday == wd and (day - anchor).days % 14 == 0 for wd, anchor in self.biweekly
        )

    def last_listed_date(self) -> date | None:
        return max(self.dates) if self.dates else None


def _parse_date(token: str) -> date:
    try:
        return date(int(token[:4]), int(token[4:6]), int(token[6:8]))
    except ValueError as exc:
        raise RuleError(f"{token!r} is not a real date (YYYYMMDD)") from exc


def parse_rule(cell: str) -> Rule:
    """Parse one area_days cell; full-width digits and ``月木`` runs are normalised first."""
    text = unicodedata.normalize("NFKC", cell or "").strip()
    if not text:
        return Rule(source=cell)
    if text == "公社" or text == ASK_STAFF:
        return Rule(ask_staff=True, source=cell)
    months = ALL_MONTHS
    if ":" in text:
        day_part, month_part = text.split(":", 1)
        try:
            months = frozenset(int(m) for m in month_part.split())
        except ValueError as exc:
            raise RuleError(f"months after ':' must be numbers: {month_part!r}") from exc
        if not months or not months <= ALL_MONTHS:
            raise RuleError(f"months after ':' must be 1-12: {month_part!r}")
        text = day_part
    weekly: set[int] = set()
    nth: set[tuple[int, int]] = set()
    biweekly: list[tuple[int, date]] = []
    dates: set[date] = set()
    remarks: list[str] = []
    for token in text.split():
        if len(token) == 1 and token in WEEKDAYS_JA:
            weekly.add(WEEKDAYS_JA.index(token))
        elif _RUN_OF_WEEKDAYS.match(token):  # 月木 written without a space
            weekly.update(WEEKDAYS_JA.index(ch) for ch in token)
        elif m := _NTH.match(token):
            nth.add((WEEKDAYS_JA.index(m[1]), int(m[2])))
        elif m := _BIWEEKLY.match(token):
            anchor = _parse_date(m[2])
            if anchor.weekday() != WEEKDAYS_JA.index(m[1]):
                raise RuleError(f"{token!r}: the anchor date is not a {m[1]}曜日")
            biweekly.append((anchor.weekday(), anchor))
        elif _DATE.match(token):
            day = _parse_date(token)
            if day != LIST_END_SENTINEL:
                dates.add(day)
        elif m := _REMARK.match(token):
            remarks.append(m[1])
        elif token == ASK_STAFF:
            return Rule(ask_staff=True, remarks=tuple(remarks), source=cell)
        else:
            raise RuleError(f"unknown token {token!r}")
    return Rule(
        weekly=frozenset(weekly),
        nth=frozenset(nth),
        biweekly=tuple(biweekly),
        dates=frozenset(dates),
        months=months,
        remarks=tuple(remarks),
        source=cell,
    )


def format_rule(rule: Rule) -> str:
    """Write a rule back as 5374 tokens (the inverse of :func:`parse_rule`)."""
    if rule.ask_staff:
        return ASK_STAFF
    tokens = [WEEKDAYS_JA[d] for d in sorted(rule.weekly)]
    tokens += [f"{WEEKDAYS_JA[d]}{n}" for d, n in sorted(rule.nth, key=lambda x: (x[1], x[0]))]
    tokens += [f"隔{WEEKDAYS_JA[d]}{a:%Y%m%d}" for d, a in rule.biweekly]
    tokens += [f"{d:%Y%m%d}" for d in sorted(rule.dates)]
    tokens += [f"*{r}" for r in rule.remarks]
    text = " ".join(tokens)
    if rule.months != ALL_MONTHS:
        text += ":" + " ".join(str(m) for m in _fiscal_order(rule.months))
    return text


def _fiscal_order(months: frozenset[int]) -> list[int]:
    """Months in the Japanese fiscal-year order (4 … 12, 1 … 3), as 5374 files list them."""
    return sorted(months, key=lambda m: (m - 4) % 12)


def describe_rule(rule: Rule) -> str:
    """The rule for the ear: 毎週月曜日と木曜日 / 第2・第4水曜日 / 隔週の水曜日."""
    if rule.ask_staff:
        return "収集日は職員が確認します"
    parts: list[str] = []
    if rule.weekly:
        parts.append("毎週" + "と".join(f"{WEEKDAYS_JA[d]}曜日" for d in sorted(rule.weekly)))
    by_day: dict[int, list[int]] = {}
    for d, n in rule.nth:
        by_day.setdefault(d, []).append(n)
    for d in sorted(by_day):
        parts.append("・".join(f"第{n}" for n in sorted(by_day[d])) + f"{WEEKDAYS_JA[d]}曜日")
    for d, _anchor in rule.biweekly:
        parts.append(f"隔週の{WEEKDAYS_JA[d]}曜日")
    if rule.dates and not parts:
        parts.append("決められた日")
    text = "と".join(parts)
    if rule.months != ALL_MONTHS and text:
        text = "、".join(f"{m}月" for m in _fiscal_order(rule.months)) + "の" + text
    return text
