"""Taking a callback ticket: details, callback number, name — then commit, then tell.

The ticket is committed to the queue *before* the caller hears its number. If the queue
fails, the call goes to staff; if the caller hangs up half-way, what was said is still
saved as an incomplete ticket.
"""

from __future__ import annotations

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
from ivr.dialogue.turns import Action, BotTurn, Event
from ivr.language.normalize import kanji_digits, nfkc

if TYPE_CHECKING:
    from ivr.dialogue.session import CallSession
    from ivr.language.understand import Parse

log = logging.getLogger(__name__)

AUTO_SUMMARY = {"system_error": "(システムエラーのため自動で受付)", "silence": "(途中から無言のため自動で受付)"}
PHONE_DIGITS = range(10, 12)  # Japanese numbers: 10 digits (landline) or 11 (mobile)
MAX_PHONE_TRIES = 2  # after two unclear numbers, keep what we have: staff can still read the log
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


@dataclass
class Step:
    """The ticket question the bot is waiting on."""

    name: str  # details | confirm_number | phone | name
    topic: str
    summary: str = ""
    phone: str = ""
    caller_name: str = ""
    tries: int = 0
    heard: list[str] = field(default_factory=list)


class CallbackFlow:
    Step = Step

    def __init__(self, state: CallState, tickets: TicketQueue, call_id: str, clock: Callable[[], datetime]) -> None:
        self.state = state
        self.tickets = tickets
        self.call_id = call_id
        self.clock = clock

    async def begin(self, topic: str, lead: str, session: CallSession) -> BotTurn:
        self.state.pending = Step("details", topic)
        return session.say(f"{lead}{prompts.ASK_DETAILS}", Action.ticket, intent=topic)

    async def answer(self, text: str, parse: Parse | None, session: CallSession) -> BotTurn:
        step = self.state.pending
        assert isinstance(step, Step)
        step.heard.append(text)
        if step.name == "details":
            step.summary = text
            return self._after_details(step, session)
        if step.name == "confirm_number":
            yes = parse.yes_no if parse else None
            if yes is None:
                return session.say(prompts.YES_OR_NO, Action.ticket, intent=step.topic)
            if yes:
                step.phone = self.state.caller_number
                return self._ask(step, "name", prompts.ASK_NAME, session)
            return self._ask(step, "phone", prompts.ASK_PHONE, session)
        if step.name == "phone":
            return self._take_phone(step, phone_digits(text), session)
        step.caller_name = text
        return await self.commit(step, session)

    async def answer_digits(self, digits: str, session: CallSession) -> BotTurn:
        step = self.state.pending
        assert isinstance(step, Step)
        if step.name == "phone":
            return self._take_phone(step, re.sub(r"\D", "", digits), session)
        if step.name == "confirm_number" and digits in ("1", "2"):
            if digits == "1":
                step.phone = self.state.caller_number
                return self._ask(step, "name", prompts.ASK_NAME, session)
            return self._ask(step, "phone", prompts.ASK_PHONE, session)
        prompt = {"details": prompts.ASK_DETAILS, "name": prompts.ASK_NAME}.get(step.name, prompts.YES_OR_NO)
        return session.say(prompt, Action.ticket, intent=step.topic)

    def ask_again(self, session: CallSession) -> BotTurn:
        """The answer to the pending ticket question was heard but not read: ask it again."""
        step = self.state.pending
        assert isinstance(step, Step)
        again = {"details": prompts.ASK_DETAILS, "phone": prompts.ASK_PHONE_AGAIN, "name": prompts.ASK_NAME}
        return session.say(prompts.UNCLEAR_TICKET + again.get(step.name, prompts.YES_OR_NO), Action.ticket,
                           intent=step.topic)

    def _after_details(self, step: Step, session: CallSession) -> BotTurn:
        if self.state.caller_number:
            return self._ask(step, "confirm_number", prompts.CONFIRM_CALLER_NUMBER, session)
        return self._ask(step, "phone", prompts.ASK_PHONE, session)

    def _take_phone(self, step: Step, digits: str, session: CallSession) -> BotTurn:
        if len(digits) not in PHONE_DIGITS and step.tries + 1 < MAX_PHONE_TRIES:
            step.tries += 1
            return session.say(prompts.ASK_PHONE_AGAIN, Action.ticket, intent=step.topic)
        step.phone = digits
        return self._ask(step, "name", prompts.ASK_NAME, session)

    @staticmethod
    def _ask(step: Step, name: str, text: str, session: CallSession) -> BotTurn:
        step.name = name
        return session.say(text, Action.ticket, intent=step.topic)

    def _request(self, step: Step, complete: bool) -> TicketRequest:
        return TicketRequest(
            call_id=self.call_id,
            topic=step.topic,
            summary=step.summary,
            callback_number=step.phone,
            caller_name=step.caller_name,
            area=self.state.area.name if self.state.area else self.state.town,
            complete=complete,
            created_at=self.clock(),
            transcript=list(self.state.transcript),
        )

    async def commit(self, step: Step, session: CallSession) -> BotTurn:
        try:
            ticket = await self.tickets.create(self._request(step, complete=True))
        except Exception:
            log.exception("call %s: ticket could not be stored", self.call_id)
            self.state.pending = None
            return await session.transfer_after_ticket_failure(step.topic)
        self.state.pending = AnythingElse()
        event = Event("ticket", {"number": ticket.number, "topic": step.topic, "complete": True})
        text = prompts.TICKET_TAKEN.format(number=ticket.number) + prompts.ANYTHING_ELSE
        return session.say(text, Action.ticket, intent=step.topic, events=[event])

    async def commit_now(self, reason: str, lead: str, session: CallSession) -> BotTurn:
        """After an error out of hours, or a caller who asked for staff and went silent: save the
        call so far (and any ticket answers already given) as a ticket straight away."""
        pending = self.state.pending
        step = Step("details", reason, summary=AUTO_SUMMARY.get(reason, AUTO_SUMMARY["system_error"]))
        if isinstance(pending, Step):
            step = dataclasses.replace(pending, summary=pending.summary or step.summary)
            step.phone = step.phone or self.state.caller_number
        try:
            ticket = await self.tickets.create(self._request(step, complete=False))
        except Exception:
            log.exception("call %s: ticket could not be stored", self.call_id)
            return await session.transfer_after_ticket_failure(reason)
        self.state.pending = None
        event = Event("ticket", {"number": ticket.number, "topic": reason, "complete": False})
        text = f"{lead}{prompts.TICKET_TAKEN.format(number=ticket.number)}{prompts.GOODBYE}"
        return session.say(text, Action.end, intent=reason, events=[event])

    async def commit_partial(self, session: CallSession) -> Ticket | None:
        """The caller hung up mid-ticket: keep what they said (staff can call back)."""
        step = self.state.pending
        if not isinstance(step, Step) or not (step.summary or step.heard):
            return None
        try:
            return await self.tickets.create(self._request(step, complete=False))
        except Exception:
            log.exception("call %s: partial ticket could not be stored", self.call_id)
            return None
