"""Typed models of the knowledge base.

The models are strict (unknown keys are errors) so that a typo in a staff edit is caught by
``ivr data validate`` instead of silently changing what the bot says.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

INFERRED = "inferred"  # basis of a fact that follows from a category rule, not a city page
KATAKANA_READING = re.compile(r"^[\u30a0-\u30ffー]+$")
TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]*$")
WEEKDAYS_JA = "月火水木金土日"  # index = date.weekday()


def _none_to_empty(value: object) -> object:
    """YAML turns an empty value into None; staff mean "nothing", so read it as ''."""
    return "" if value is None else value


Text = Annotated[str, BeforeValidator(_none_to_empty)]


def _katakana(value: str) -> str:
    if not KATAKANA_READING.fullmatch(value):
        raise ValueError("reading must be katakana (long vowels as ー)")
    return value


KanaReading = Annotated[str, AfterValidator(_katakana)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    id: str
    title: str
    url: Text = ""


class Phone(Strict):
    id: str
    name: str
    number: str
    spoken: str  # how the number is said aloud, e.g. 0742の34の1111
    basis: str


class MonthDayRange(Strict):
    """A yearly range such as 12-29 → 01-03 (it may wrap over the new year)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, value: str) -> str:
        if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", value):
            raise ValueError("must be MM-DD, e.g. 12-29")
        return value

    def contains(self, day: date) -> bool:
        key = day.strftime("%m-%d")
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


class BusinessHours(Strict):
    weekdays: list[str]
    open: time
    close: time
    closed_on_public_holidays: bool = True
    year_end_closure: MonthDayRange | None = None
    basis: str

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d not in WEEKDAYS_JA or len(d) != 1]
        if bad:
            raise ValueError(f"unknown weekday(s) {bad}; use 月 火 水 木 金 土 日")
        return value


class Validity(Strict):
    valid_from: date | None = None
    valid_until: date | None = None
    basis: str


class Municipality(Strict):
    name: str
    reading: str
    department: Text = ""
    code: Text = ""  # 全国地方公共団体コード, when known
    phones: list[Phone] = Field(default_factory=list)
    business_hours: BusinessHours | None = None
    validity: Validity | None = None
    timezone: str = "Asia/Tokyo"
    remarks: dict[str, str] = Field(default_factory=dict)
    sources: list[Source]

    def phone(self, phone_id: str) -> Phone | None:
        return next((p for p in self.phones if p.id == phone_id), None)


class Category(Strict):
    name: str
    reading: KanaReading
    aliases: list[str] = Field(default_factory=list)
    labels_5374: list[str] = Field(default_factory=list)
    collected: bool  # False: the city does not collect it (say what to do instead)
    scheduled: bool  # True: areas.csv has a rule column for it
    how: Text = ""
    when: Text = ""
    bag: Text = ""
    basis: str


class Item(Strict):
    name: str
    reading: KanaReading
    aliases: list[str] = Field(default_factory=list)
    mishearings: list[str] = Field(default_factory=list)
    category: str
    note: Text = ""
    fee: Text = ""
    basis: str


class SuspensionPolicy(StrEnum):
    skip = "skip"  # no collection on a suspended day (Nara)
    shift_week = "shift_week"  # collected one week later instead (Kanazawa)


class HolidayPolicy(StrEnum):
    collect = "collect"  # most Japanese cities collect on public holidays
    skip = "skip"
    next_day = "next_day"


class Suspension(Strict):
    start: date
    end: date
    annual: bool = False  # repeat every year on the same month-days (year-end closures)
    policy: SuspensionPolicy = SuspensionPolicy.skip

    def contains(self, day: date) -> bool:
        if not self.annual:
            return self.start <= day <= self.end
        span = MonthDayRange(start=self.start.strftime("%m-%d"), end=self.end.strftime("%m-%d"))
        return span.contains(day)


class Collector(Strict):
    name: str
    holiday_policy: HolidayPolicy = HolidayPolicy.collect
    suspensions: list[Suspension] = Field(default_factory=list)
    basis: str


# The window of one winter an entry of year_end.yaml speaks for: wide enough for a last
# collection in mid-December and a late first one in January, narrow enough that a typo in the
# year (2062 for 2026) cannot pass.
YEAR_END_WINDOW_START = (12, 1)
YEAR_END_WINDOW_END = (1, 31)


def year_end_window(year: int) -> tuple[date, date]:
    """The days the winter ``year`` (``year``-12 → ``year``+1-01) covers in year_end.yaml."""
    return date(year, *YEAR_END_WINDOW_START), date(year + 1, *YEAR_END_WINDOW_END)


class DayRange(Strict):
    """A run of days off, both ends included."""

    start: date  # the first day without collection (or with the centre closed)
    end: date  # the last such day

    @model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def dates(self) -> list[date]:
        """Every date the entry states, for checking that they belong to its winter."""
        return [self.start, self.end]


class YearEndClosure(DayRange):
    """One collector's days without collection over one new year, as the city announced them."""

    collector: str  # a collector name in collectors.yaml
    spoken: Text = ""  # how callers know its areas, e.g. 市の収集課の地域 ('' → the collector's name)
    last_day: date | None = None  # the last collection of the old year, when the city states one
    first_day: date | None = None  # the first collection of the new year, when the city states one

    @model_validator(mode="after")
    def _around_the_closure(self) -> YearEndClosure:
        if self.last_day and self.last_day >= self.start:
            raise ValueError(f"last_day {self.last_day} must be before start {self.start}")
        if self.first_day and self.first_day <= self.end:
            raise ValueError(f"first_day {self.first_day} must be after end {self.end}")
        return self

    def dates(self) -> list[date]:
        return [*super().dates(), *(d for d in (self.last_day, self.first_day) if d)]


class SelfHaulClosure(DayRange):
    """When the centre that takes garbage brought by residents (持ち込み) is closed."""

    place: Text = ""  # e.g. 清美センター; '' → the answer says 持ち込み only


class YearEnd(Strict):
    """One winter's year-end and new-year schedule (year_end.yaml). Cities announce it every
    autumn, so staff add one entry a year; ``ivr data validate`` warns when the coming one is missing."""

    year: int = Field(ge=2000, le=2100)  # the winter: 2026 means 2026-12 → 2027-01
    collection: list[YearEndClosure] = Field(default_factory=list)
    self_haul: SelfHaulClosure | None = None
    note: Text = ""  # said after the dates (臨時収集, a category's own last day …), written for the ear
    basis: str

    @model_validator(mode="after")
    def _inside_the_winter(self) -> YearEnd:
        first, last = year_end_window(self.year)
        ranges: list[DayRange] = [*self.collection, *([self.self_haul] if self.self_haul else [])]
        for r in ranges:
            if any(not first <= d <= last for d in r.dates()):
                raise ValueError(f"dates of year {self.year} must lie between {first} and {last}")
        names = [c.collector for c in self.collection]
        if len(set(names)) < len(names):
            raise ValueError("a collector is listed twice")
        return self

    def closure_for(self, collector: str) -> YearEndClosure | None:
        return next((c for c in self.collection if c.collector == collector), None)


class Area(Strict):
    name: str  # as the source writes it, e.g. 大宮町１丁目（大宮通り北側）
    town: str  # 大宮町
    reading: str
    chome: Text = ""  # "1-9", "1,2" or ""
    qualifier: Text = ""  # 大宮通り北側
    zone: Text = ""
    collector: Text = ""
    district: Text = ""
    rules: dict[str, str] = Field(default_factory=dict)  # category name → rule cell

    def chome_numbers(self) -> list[int]:
        """The 丁目 the area covers, [] when it is not split by 丁目."""
        numbers: list[int] = []
        for part in self.chome.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                low, high = part.split("-", 1)
                numbers.extend(range(int(low), int(high) + 1))
            else:
                numbers.append(int(part))
        return numbers


class Action(StrEnum):
    answer = "answer"
    ask_slot = "ask_slot"
    transfer = "transfer"
    ticket = "ticket"


class Slot(StrEnum):
    area = "area"
    item = "item"
    date = "date"
    category = "category"


class Handler(StrEnum):
    collection_day = "collection_day"
    item_category = "item_category"
    next_collection = "next_collection"
    today_collection = "today_collection"
    operator = "operator"
    repeat = "repeat"
    goodbye = "goodbye"
    out_of_scope = "out_of_scope"
    year_end = "year_end"  # answered from year_end.yaml
    holidays = "holidays"  # public holidays, Obon, Golden Week: from the collectors' policies


MIN_TOPIC_EXAMPLES = 8  # fewer phrasings leave intent matching guessing on dialect and fillers


class Topic(Strict):
    id: str
    title: str
    action: Action
    slots: list[Slot] = Field(default_factory=list)
    handler: Handler | None = None
    examples: list[str]
    answer: str
    basis: str
    # Optional guard for topics with costly actions: at least one keyword (or its reading) must be
    # in the caller's words, else the next-best topic is taken (植木鉢 alone is no truck accident).
    keywords: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not TOPIC_ID.fullmatch(value):
            raise ValueError("must be lowercase ascii snake_case")
        return value

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        if len(value) < MIN_TOPIC_EXAMPLES:
            raise ValueError(f"needs at least {MIN_TOPIC_EXAMPLES} example phrasings")
        return value

    @field_validator("answer")
    @classmethod
    def _answer_for_the_ear(cls, value: str) -> str:
        if re.search(r"https?://|www\.", value):
            raise ValueError("an answer is spoken: no URLs")
        return value



TWILIO_NUMBER = re.compile(r"^\+[1-9]\d{7,14}$")  # Twilio's <Dial> wants E.164
ASTERISK_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")  # a dialplan context or queue name
ASTERISK_EXTEN = re.compile(r"^[A-Za-z0-9_*#+\-]+$")  # an extension (s, 100, oogata …)


class RouteTarget(Strict):
    """Where staff take one kind of hand-off (routing.yaml). Empty carrier fields fall back to
    the deployment's settings (IVR_STAFF_NUMBER / IVR_STAFF_QUEUE / IVR_AMI_STAFF_CONTEXT), so a
    city can start with one staff line and split it later without touching code."""

    label: str  # the desk's Japanese name, for logs and the console (e.g. 大型ごみ受付)
    topics: list[str] = Field(default_factory=list)  # FAQ topic ids handed to this desk
    twilio_number: Text = ""  # <Dial> this number (E.164)
    twilio_queue: Text = ""  # or <Enqueue> into this Twilio queue
    asterisk_context: Text = ""  # AMI Redirect to this dialplan context …
    asterisk_exten: Text = ""  # … and extension ('' → s)
    basis: str

    @field_validator("twilio_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        if value and not TWILIO_NUMBER.fullmatch(value):
            raise ValueError("must be an E.164 number such as +81742341111")
        return value

    @field_validator("twilio_queue", "asterisk_context")
    @classmethod
    def _name(cls, value: str) -> str:
        if value and not ASTERISK_NAME.fullmatch(value):
            raise ValueError("letters, digits, - and _ only")
        return value

    @field_validator("asterisk_exten")
    @classmethod
    def _exten(cls, value: str) -> str:
        if value and not ASTERISK_EXTEN.fullmatch(value):
            raise ValueError("not a dialplan extension")
        return value


class Routing(Strict):
    """routing.yaml: one target per hand-off reason (oogata, collection, …)."""

    targets: dict[str, RouteTarget] = Field(default_factory=dict)
