"""Taking a callback ticket: details, place, callback number, name — then commit, then tell.

The session drives this flow as it drives the topic handlers: it calls ``begin`` / ``answer`` /
``answer_digits`` … and gets back a ``FlowReply`` (what to say, the committed ticket if any, or
"the store failed"); it builds the bot turn, the events and any transfer itself. The flow never
calls back into the session, so it can be read and tested on its own.

The ticket is committed to the queue *before* the caller hears its number. If the queue fails,
the reply says so and the session sends the caller to staff; if the caller hangs up half-way,
what was said is still saved as an incomplete ticket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import jaconv

from escalation.tickets import Ticket, TicketQueue, TicketRequest
from ivr.dialogue import prompts
from ivr.dialogue.state import AnythingElse, CallState
from ivr.dialogue.turns import Event
from ivr.language.normalize import kanji_digits, nfkc

if TYPE_CHECKING:
    from ivr.language.understand import Parse

log = logging.getLogger(__name__)

AUTO_SUMMARY = {"system_error": "(システムエラーのため自動で受付)", "silence": "(途中から無言のため自動で受付)"}
PHONE_DIGITS = range(10, 12)  # Japanese numbers: 10 digits (landline) or 11 (mobile)
STORE_TIMEOUT_S = 1.0  # a commit takes ~10–50 ms; a database silent this long is down (→ staff)
MAX_PHONE_TRIES = 2  # after two unclear numbers, keep what we have: staff can still read the log
NUMBER_CONFIRM_TRIES = 3  # unclear answers to 「今おかけの…でよろしいですか」 before that number is kept, unconfirmed
UNCONFIRMED = "（未確認）"  # after a kept number in the staff summary: call it, but the caller never said はい
PLACE_REASONS = frozenset({"collection", "illegal_dumping", "animal"})  # staff must go and look: a place is needed
NO_NAME_MAX_CHARS = 8  # 「いいえ」「結構です」: declining the name, not a name; longer answers are a name
# What staff read first in the console: built from the slots, never generated text.
SUMMARY_TEMPLATE = "【{title}】場所: {place} / 品目: {item} / 折り返し: {phone} / お名前: {name} / お話: {details}"
UNKNOWN = "不明"
_KANA_DIGITS = [("ゼロ", "0"), ("ぜろ", "0"), ("れい", "0"), ("まる", "0"), ("いち", "1"), ("に", "2"),
                ("さん", "3"), ("よん", "4"), ("し", "4"), ("ご", "5"), ("ろく", "6"), ("なな", "7"),
                ("しち", "7"), ("はち", "8"), ("きゅう", "9"), ("きゅ", "9"), ("く", "9")]
_KANA_DIGITS.sort(key=lambda pair: -len(pair[0]))  # しち before し


def phone_digits(text: str) -> str:
    """「0742の34の1111」 or 「ゼロナナヨンニ…」 → 0742341111."""
    digits = re.sub(r"\D", "", kanji_digits(nfkc(text)))
    if len(digits) >= 6:
        return digits
    kana = re.sub(r"[^ぁ-ん]", "", jaconv.kata2hira(nfkc(text)))  # ー and other marks dropped
    out = ""
    while kana:
        for word, digit in _KANA_DIGITS:
            if kana.startswith(word):
                out += digit
                kana = kana[len(word):]
                break
        else:
            kana = kana[1:]
    return out if len(out) > len(digits) else digits


# 「山本です」「山田と申します」「佐藤といいます」: staff want the name, not the sentence around it.
# A yes first (「はい、山田です」) answers 「お名前をお願いします」 and is no part of the name.
_NAME_FRAME = re.compile(
    r"^(?:(?:えー?と?|あの|はい|ええ|うん)[、。 ]*)*"
    r"(.+?)(?:と申します|といいます|って言います|です|でございます)?[。、！!]*$"
)


def spoken_name(text: str) -> str:
    """The name in a caller's answer to 「お名前をお願いします」 (the text itself if no frame is found)."""
    cleaned = nfkc(text).strip()
    match = _NAME_FRAME.match(cleaned)
    return (match.group(1).strip() if match else cleaned) or cleaned


@dataclass
class Step:
    """The ticket question the bot is waiting on, and what the caller has told so far."""

    name: str  # details | place | confirm_number | phone | name
    topic: str  # the FAQ topic (or escalation cause) the ticket is about
    reason: str = "general"  # the desk (escalation.tickets.REASONS)
    urgency: str = "normal"
    title: str = ""  # the topic's title, for the staff summary
    summary: str = ""  # the caller's own account
    place: str = ""  # the place, when it had to be asked for
    item: str = ""
    phone: str = ""
    caller_name: str = ""
    phone_unconfirmed: bool = False  # the caller's own number, kept with no clear はい to it
    tries: int = 0
    name_asked_again: bool = False  # a bare はい to 「お名前を」 is asked once more, then taken as no name
    heard: list[str] = field(default_factory=list)


@dataclass
class FlowReply:
    """What the flow wants said; the session turns it into a bot turn."""

    text: str
    ticket: Ticket | None = None  # committed by this reply
    end: bool = False  # say goodbye and end the call after ``text``
    store_failed: bool = False  # the queue refused the ticket: the session transfers to staff
    step: Step | None = None  # the ticket's step, when the reply ends it (committed or failed)


class CallbackFlow:
    Step = Step

    def __init__(self, state: CallState, tickets: TicketQueue, call_id: str, clock: Callable[[], datetime]) -> None:
        self.state = state
        self.tickets = tickets
        self.call_id = call_id
        self.clock = clock

    @property
    def step(self) -> Step | None:
        pending = self.state.pending
        return pending if isinstance(pending, Step) else None

    def begin(self, topic: str, lead: str, reason: str, urgency: str, title: str = "") -> FlowReply:
        item = self.state.item.name if self.state.item else ""
        self.state.pending = Step("details", topic, reason, urgency, title or topic, item=item)
        return FlowReply(f"{lead}{prompts.ASK_DETAILS}")

    async def answer(self, text: str, parse: Parse | None) -> FlowReply:
        step = self.step
        assert step is not None
        step.heard.append(text)
        if step.name == "details":
            step.summary = text
            self._note(step, parse)
            if step.reason in PLACE_REASONS and not self._area():
                return self._ask(step, "place", prompts.ASK_PLACE)
            return self._after_place(step)
        if step.name == "place":
            step.place = text
            self._note(step, parse)
            return self._after_place(step)
        if step.name == "confirm_number":
            yes = parse.answer(confirming=True) if parse else None
            return self._unclear_number(step) if yes is None else self._number_confirmed(step, yes)
        if step.name == "phone":
            return self._take_phone(step, phone_digits(text))
        short = parse is not None and len(parse.normalized) <= NO_NAME_MAX_CHARS
        if short and parse.yes_no and not step.name_asked_again:  # a bare はい: the name comes next
            step.name_asked_again = True
            return FlowReply(prompts.ASK_NAME_AGAIN)
        no_name = short and parse.yes_no is not None  # いいえ / 結構です declines; a second bare はい gives none
        step.caller_name = "" if no_name else spoken_name(text)
        return await self.commit(step)

    async def answer_digits(self, digits: str) -> FlowReply:
        step = self.step
        assert step is not None
        if step.name == "phone":
            return self._take_phone(step, re.sub(r"\D", "", digits))
        if step.name == "confirm_number" and digits in ("1", "2"):
            return self._number_confirmed(step, digits == "1")
        if step.name == "name":  # any key: no name (the prompt offers #)
            return await self.commit(step)
        prompt = {"details": prompts.ASK_DETAILS, "place": prompts.ASK_PLACE}.get(step.name, prompts.YES_OR_NO)
        return FlowReply(prompt)

    def ask_again(self) -> FlowReply:
        """The answer to the pending ticket question was heard but not read: ask it again."""
        step = self.step
        assert step is not None
        if step.name == "confirm_number":
            return self._unclear_number(step, prompts.UNCLEAR_TICKET)
        again = {"details": prompts.ASK_DETAILS, "place": prompts.ASK_PLACE, "phone": prompts.ASK_PHONE_AGAIN,
                 "name": prompts.ASK_NAME}
        return FlowReply(prompts.UNCLEAR_TICKET + again.get(step.name, prompts.YES_OR_NO))

    # --- the questions ----------------------------------------------------------------

    def _note(self, step: Step, parse: Parse | None) -> None:
        """Keep an item or a town the caller named in passing: staff need both."""
        if parse is None:
            return
        if parse.item is not None and not step.item:
            step.item = parse.item.name
        if parse.area_town and not self._area():
            self.state.set_area(parse.area_town, parse.areas)

    def _area(self) -> str:
        return self.state.area.name if self.state.area else self.state.town

    def _after_place(self, step: Step) -> FlowReply:
        if self.state.caller_number:
            text = prompts.CONFIRM_CALLER_NUMBER.format(digits=prompts.say_phone(self.state.caller_number))
            return self._ask(step, "confirm_number", text)
        return self._ask(step, "phone", prompts.ASK_PHONE)

    def _number_confirmed(self, step: Step, yes: bool) -> FlowReply:
        if yes:
            step.phone = self.state.caller_number
            return self._ask(step, "name", prompts.ASK_NAME)
        return self._ask(step, "phone", prompts.ASK_PHONE)

    def _unclear_number(self, step: Step, lead: str = "") -> FlowReply:
        """No clear はい/いいえ to the caller's own number: asked again, then that number is kept (the line
        they call from) and marked for staff. Asking on looped a caller whose はい a bad line garbled
        (dev4 calls at 20 dB: eight 「はい、か、いいえ」 in a row, and the ticket was never taken)."""
        step.tries += 1
        if step.tries < NUMBER_CONFIRM_TRIES:
            return FlowReply(lead + prompts.YES_OR_NO)
        step.phone, step.phone_unconfirmed = self.state.caller_number, True
        return self._ask(step, "name", prompts.NUMBER_KEPT + prompts.ASK_NAME)

    def _take_phone(self, step: Step, digits: str) -> FlowReply:
        if len(digits) not in PHONE_DIGITS and step.tries + 1 < MAX_PHONE_TRIES:
            step.tries += 1
            return FlowReply(prompts.ASK_PHONE_AGAIN)
        step.phone = digits
        return self._ask(step, "name", prompts.ASK_NAME)

    @staticmethod
    def _ask(step: Step, name: str, text: str) -> FlowReply:
        step.name, step.tries = name, 0
        return FlowReply(text)

    # --- the ticket -------------------------------------------------------------------

    def summary(self, step: Step) -> str:
        place = " ".join(p for p in (self._area(), step.place) if p) or UNKNOWN
        return SUMMARY_TEMPLATE.format(title=step.title or step.topic, place=place, item=step.item or "なし",
                                       phone=step.phone + UNCONFIRMED * step.phone_unconfirmed if step.phone
                                       else UNKNOWN, name=step.caller_name or UNKNOWN,
                                       details=step.summary or UNKNOWN)

    def request(self, step: Step, complete: bool) -> TicketRequest:
        return TicketRequest(
            call_id=self.call_id,
            topic=step.topic,
            summary=self.summary(step),
            callback_number=step.phone,
            caller_name=step.caller_name,
            area=" ".join(p for p in (self._area(), step.place) if p),
            complete=complete,
            created_at=self.clock(),
            transcript=list(self.state.transcript),
            reason=step.reason,
            urgency=step.urgency,
            caller_number=self.state.caller_number,
            item=step.item,
        )

    async def _store(self, step: Step, complete: bool) -> Ticket | None:
        """The committed ticket, or None: the store failed, or hung past STORE_TIMEOUT_S (a database
        that does not answer must not leave the caller in silence; staff take them instead)."""
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                return await self.tickets.create(self.request(step, complete))
        except Exception:
            log.exception("call %s: ticket could not be stored", self.call_id)
            return None

    async def commit(self, step: Step) -> FlowReply:
        """Every answer is in: commit, and only then read the number out."""
        ticket = await self._store(step, complete=True)
        if ticket is None:
            self.state.pending = None
            return FlowReply(prompts.TICKET_FAILED, store_failed=True, step=step)
        self.state.pending = AnythingElse()
        return FlowReply(taken_text(ticket) + prompts.ANYTHING_ELSE, ticket=ticket, step=step)

    async def commit_now(self, topic: str, lead: str, reason: str, urgency: str, title: str = "") -> FlowReply:
        """After an error out of hours, or a caller who asked for staff and went silent: save the
        call so far (and any ticket answers already given) as a ticket straight away."""
        pending = self.step
        step = Step("details", topic, reason, urgency, title or topic,
                    summary=AUTO_SUMMARY.get(topic, AUTO_SUMMARY["system_error"]))
        if pending is not None:
            step = dataclasses.replace(pending, summary=pending.summary or step.summary)
            step.phone = step.phone or self.state.caller_number
        ticket = await self._store(step, complete=False)
        if ticket is None:
            return FlowReply(prompts.TICKET_FAILED, store_failed=True, step=step)
        self.state.pending = None
        return FlowReply(f"{lead}{taken_text(ticket)}{prompts.GOODBYE}", ticket=ticket, end=True, step=step)

    async def commit_partial(self) -> Ticket | None:
        """The caller hung up mid-ticket: keep what they said (staff can call back)."""
        step = self.step
        if step is None or not (step.summary or step.heard):
            return None
        step.phone = step.phone or self.state.caller_number
        return await self._store(step, complete=False)


def taken_text(ticket: Ticket) -> str:
    """The number digit by digit (1、0、2、4: a caller writes digits down, not 千二十四)."""
    template = prompts.TICKET_JOINED if ticket.joined else prompts.TICKET_TAKEN
    return template.format(digits=prompts.say_digits(ticket.number))


def ticket_event(ticket: Ticket) -> Event:
    """What the carrier and the staff console are told about a ticket just taken."""
    r = ticket.request
    return Event("ticket", {"number": ticket.number, "topic": r.topic, "reason": r.reason, "urgency": r.urgency,
                            "complete": r.complete, "joined": ticket.joined})
