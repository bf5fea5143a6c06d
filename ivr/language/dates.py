"""Dates as callers say them: 今日, 明日, あさって, 来週の火曜, 金曜日, 3日, 12月3日, 年末.

Written by hand: Japanese relative-date libraries either need the network or do not know
spoken forms such as しあさって or 再来週. Readings (kana) are matched too, because speech
recognition writes あした as 明日, アシタ or あした.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from ivr.language.normalize import kanji_digits, nfkc

WEEKDAYS = "月火水木金土日"
_RELATIVE_DAYS: list[tuple[str, int]] = [
    ("しあさって", 3), ("明明後日", 3), ("明々後日", 3), ("明後日", 2), ("あさって", 2), ("アサッテ", 2),
    ("明日", 1), ("あした", 1), ("アシタ", 1), ("あす", 1), ("翌日", 1), ("今日", 0), ("きょう", 0), ("キョウ", 0),
    ("本日", 0), ("今朝", 0), ("今夜", 0), ("昨日", -1), ("きのう", -1), ("おととい", -2), ("一昨日", -2),
]
_WEEK_PREFIX: list[tuple[str, int]] = [
    ("再来週", 2), ("さらいしゅう", 2), ("来週", 1), ("らいしゅう", 1), ("今週", 0), ("こんしゅう", 0),
    ("先週", -1), ("せんしゅう", -1),
]
_KANA_WEEKDAYS = {"げつ": "月", "か": "火", "すい": "水", "もく": "木", "きん": "金", "ど": "土", "にち": "日"}
_WEEKDAY = re.compile(rf"([{WEEKDAYS}])(?:曜日?|よう(?:び)?)")
_KANA_WEEKDAY = re.compile(r"(げつ|すい|もく|きん|にち|か|ど)(?:ようび|よう)")
_RULE_NOT_DAY = re.compile(r"第\d|隔週|毎週|かくしゅう|まいしゅう")
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})日")
_DAY_ONLY = re.compile(r"(?<![\d月])(\d{1,2})日(?!間)")
_KANJI_TEN = re.compile(r"([一二三]?)十([一二三四五六七八九]?)(?=日)")
_SPOKEN_DAYS = {  # 日 read in the native way (ついたち …) — common, and ASR writes them in kana
    "ついたち": 1, "ふつか": 2, "みっか": 3, "よっか": 4, "むいか": 6,
    "ここのか": 9, "とおか": 10, "はつか": 20,  # いつか, なのか, ようか: also everyday words
}
# あした, きょう, あさって with the first mora clipped by the VAD, as they open an utterance
_CLIPPED_DAY = re.compile(r"^(した|シタ|ょう|ョウ|ョー|さって|サッテ)(?=の|は|って|、|\s)")
_CLIPPED_OFFSET = {"した": 1, "シタ": 1, "ょう": 0, "ョウ": 0, "ョー": 0, "さって": 2, "サッテ": 2}
YEAR_END = ("年末", "ねんまつ", "大晦日", "おおみそか")
NEW_YEAR = ("年始", "正月", "しょうがつ", "元旦", "元日", "三が日")


def _tens(m: re.Match[str]) -> str:
    tens = "一二三".index(m[1]) + 1 if m[1] else 1
    ones = "一二三四五六七八九".index(m[2]) + 1 if m[2] else 0
    return str(tens * 10 + ones)


def _next_weekday(today: date, weekday: int, week_offset: int | None) -> date:
    if week_offset is None:  # 「火曜」 alone: the next one, today included
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=week_offset)
    return monday + timedelta(days=weekday)


def _month_day(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today - timedelta(days=7):  # 「12月3日」 said in January means next year
            return candidate
    return None


def _day_of_month(today: date, day: int) -> date | None:
    """「3日」: this month if still ahead (or today), otherwise next month."""
    year, month = today.year, today.month
    for _ in range(2):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def parse_date(text: str, today: date) -> date | None:
    """The date a caller means, or None when they named none."""
    t = nfkc(text)
    t = kanji_digits(_KANJI_TEN.sub(_tens, t))
    if m := _MONTH_DAY.search(t):
        return _month_day(today, int(m[1]), int(m[2]))
    week_offset = next((off for word, off in _WEEK_PREFIX if word in t), None)
    m = _WEEKDAY.search(t)
    kana = _KANA_WEEKDAY.search(t) if not m else None
    if (m or kana) and _RULE_NOT_DAY.search(t):  # 「第2水曜」「隔週の水曜」 describe a rule
        m = kana = None
    if m or kana:
        wd = WEEKDAYS.index(m[1]) if m else WEEKDAYS.index(_KANA_WEEKDAYS[kana[1]])
        return _next_weekday(today, wd, week_offset)
    for word, offset in _RELATIVE_DAYS:
        if word in t:
            return today + timedelta(days=offset)
    if m := _CLIPPED_DAY.match(t.strip()):
        return today + timedelta(days=_CLIPPED_OFFSET[m[1]])
    for word, day in _SPOKEN_DAYS.items():
        if word in t:
            return _day_of_month(today, day)
    if m := _DAY_ONLY.search(t):
        return _day_of_month(today, int(m[1]))
    if any(w in t for w in YEAR_END):
        return _month_day(today, 12, 31)
    if any(w in t for w in NEW_YEAR):
        return _month_day(today, 1, 1) if today.month != 1 else date(today.year, 1, 1)
    return None


def say_date(day: date, today: date) -> str:
    """A date for the ear: 今日, 明日, あさって, or 6月27日 月曜日."""
    delta = (day - today).days
    weekday = f"{WEEKDAYS[day.weekday()]}曜日"
    if delta == 0:
        return f"今日、{day.month}月{day.day}日 {weekday}"
    if delta == 1:
        return f"明日、{day.month}月{day.day}日 {weekday}"
    if delta == 2:
        return f"あさって、{day.month}月{day.day}日 {weekday}"
    year = f"{day.year}年" if day.year != today.year else ""
    return f"{year}{day.month}月{day.day}日 {weekday}"
