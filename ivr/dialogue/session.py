"""One phone call: the caller's turns in, the bot's turns out, every piece of state in one class.

The session is transport-agnostic (simulator, Twilio, Asterisk drive it the same way) and
async: understanding runs in a worker thread so the event loop stays free for audio. Any
error inside a turn ends in a ticket or a transfer — never in silence.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from escalation.policy import RoutingPolicy, Transfer
from escalation.staff import StaffLine
from escalation.tickets import TicketQueue, TranscriptLine
from ivr.dialogue import prompts
from ivr.dialogue.callback import CallbackFlow, FlowReply, Step, ticket_event
from ivr.dialogue.follow_ups import follow_up
from ivr.dialogue.handlers import TopicRunner
from ivr.dialogue.recovery import ITEM_QUESTION, Recovery
from ivr.dialogue.replies import REPLY_MAX_CHARS, not_a_goodbye
from ivr.dialogue.state import AnythingElse, AskSlot, Brain, CallState, Confirm, ConfirmItem, ConfirmTown, OfferStaff
from ivr.dialogue.turns import Action, BotTurn, CallerKind, CallerTurn, Event
from ivr.language.understand import Parse
from ivr.speech.sentences import sentences

log = logging.getLogger(__name__)

ACCEPT_CONFIDENCE = 0.55  # at or above: act on the intent (calibrated: right ≥ ~90% of the time)
CONFIRM_CONFIDENCE = 0.30  # between the two: ask "is it about …?"; below: not understood
MAX_SILENCES = 3  # the third silent timeout in a row ends the call politely
MAX_CALL_SECONDS = 600  # a garbage question takes 1–2 minutes; past 10 the caller needs staff
MAX_UTTERANCE_CHARS = 300  # a spoken turn is far shorter; longer input is noise and slows g2p
MAX_TURNS = 40  # the same cap in turns, for simulated clocks that do not move
DTMF_MENU = {"1": "item_category", "2": "collection_day", "3": "oversize_booking", "4": "self_haul", "0": "operator"}
REPEAT_KEYS = {"9", "*"}
ALWAYS_OVERRIDE = {"operator", "goodbye", "repeat", "emergency_fire"}  # heard even mid-question
OVERRIDE_WHILE_TICKETING = {"emergency_fire"}  # while taking a ticket, free text is the answer
# Titles for the staff summary of tickets that come from no FAQ topic.
CAUSE_TITLES = {"system_error": "システムエラー", "silence": "無言", "call_too_long": "長時間の通話",
                "operator": "職員への取次", "shutdown": "サーバー停止時の取次"}


class CallSession:
    """Per-call state and the dialogue policy. Create one per call; call ``start`` first."""

    def __init__(
        self,
        brain: Brain,
        tickets: TicketQueue,
        staff: StaffLine,
        clock: Callable[[], datetime],
        call_id: str | None = None,
        caller_number: str = "",
        policy: RoutingPolicy | None = None,
    ) -> None:
        """``policy``: transfer or ticket, and where to (default: routing.yaml, ``staff``'s availability)."""
        self.brain = brain
        self.call_id = call_id or uuid.uuid4().hex[:12]
        self.clock = clock
        self.staff = staff
        self.policy = policy or RoutingPolicy.for_call(brain.kb, staff)
        self.state = CallState(caller_number=caller_number)
        self.topics = TopicRunner(brain, self.state)
        self.recovery = Recovery(brain, self.state)  # unsure items, not-understood ladder, area by postal code
        self.callback = CallbackFlow(self.state, tickets, self.call_id, clock)
        self._started = time.monotonic()

    # --- public API -----------------------------------------------------------------

    async def start(self) -> BotTurn:
        text = prompts.GREETING.format(city=self.brain.kb.municipality.name) + prompts.MENU
        return self.say(text, Action.clarify, intent="greeting")

    async def handle(self, turn: CallerTurn) -> BotTurn:
        """One caller turn → one bot turn. Never raises: errors go to a ticket or staff."""
        if self.state.ended:
            return BotTurn("", Action.end)
        self.state.turns += 1
        if turn.text:
            self.state.transcript.append(TranscriptLine("caller", turn.text, self.clock()))
        try:
            reply = await self._dispatch(turn)
        except Exception:  # the caller must never be left in silence
            log.exception("call %s: error in a turn", self.call_id)
            reply = await self._escalate("system_error", prompts.SYSTEM_ERROR, complete=False)
            reply.events.append(Event("error", {"call_id": self.call_id}))
        self._said(reply)
        return reply

    async def system_error(self, reason: str) -> BotTurn:
        """ASR, TTS or the carrier failed mid-call: staff now, or a ticket after hours. Never raises."""
        reply = await self._escalate(reason, prompts.SYSTEM_ERROR, complete=False)
        reply.events.append(Event("error", {"call_id": self.call_id, "reason": reason}))
        self._said(reply)
        return reply

    def _said(self, reply: BotTurn) -> None:
        self.state.transcript.append(TranscriptLine("bot", reply.text, self.clock()))
        if reply.action in (Action.transfer, Action.end):
            self.state.ended = True

    def yes_no_question(self) -> str | None:
        """The yes/no question the bot has just asked (its last sentence), or None: a bare はい or
        いいえ is likely next, and the recogniser should expect it rather than throw it away."""
        pending = self.state.pending
        asked = (pending.name == "confirm_number" if isinstance(pending, Step)
                 else isinstance(pending, (Confirm, OfferStaff, AnythingElse)))
        if not asked:
            return None
        return next(reversed(sentences(self.state.last_text)), None)  # 「ぽりたんく、ですね？」 as said

    def snapshot(self) -> CallState:
        """The state now, for ``restore``: a caller who only paused must not be acted on at half a question."""
        state = copy.copy(self.state)
        state.transcript = list(state.transcript)
        state.area_rows = list(state.area_rows)
        pending = state.pending
        if dataclasses.is_dataclass(pending) and not isinstance(pending, type):
            pending = copy.copy(pending)  # AskSlot.tries, a ticket Step's fields change in place
            for f in dataclasses.fields(pending):
                if isinstance(getattr(pending, f.name), list):
                    setattr(pending, f.name, list(getattr(pending, f.name)))
            state.pending = pending
        return state

    def restore(self, snapshot: CallState) -> None:
        """Back to ``snapshot`` (in place: the topic runner and callback flow share the object)."""
        self.state.__dict__.update(copy.copy(snapshot).__dict__)

    def wants_number(self) -> bool:
        """Asking for a phone number: keypad digits then come as one string ending in #."""
        pending = self.state.pending
        return (isinstance(pending, Step) and pending.name == "phone") or self.recovery.wants_postal_code()

    # --- dispatch ---------------------------------------------------------------------

    async def _dispatch(self, turn: CallerTurn) -> BotTurn:
        if turn.kind is CallerKind.hangup:
            return await self._hangup()
        if self._too_long():
            return await self._escalate("call_too_long", prompts.CALL_TOO_LONG)
        if turn.kind is CallerKind.silence:
            return await self._silence()
        self.state.silences = 0
        if turn.kind is CallerKind.unclear:
            return self._unclear()
        if turn.kind is CallerKind.dtmf:
            return await self._dtmf(turn.digits.strip())
        text = turn.text.strip()[:MAX_UTTERANCE_CHARS]
        if not text:
            return await self._silence()
        parse = await asyncio.to_thread(self.brain.nlu.parse, text, self.clock().date())
        parse.heard_confidence, parse.heard_as = turn.confidence, turn.heard_as
        if not parse.normalized and parse.answer(confirming=isinstance(self.state.pending, Confirm)) is None:
            # only fillers (えーと…): still thinking; ねえ, a filler, is a no to a read-back (yes_no)
            reply = self.recovery.filler_reply(text)
            return self.say(reply, Action.clarify, parse, "filler") if reply else self._unclear()
        return await self._speech(parse)

    async def _speech(self, parse: Parse) -> BotTurn:
        pending = self.state.pending
        parse = not_a_goodbye(pending, parse)  # 「保聴です」 answers the slot, 「りね」 to a read-back is unclear
        strong = parse.confidence >= ACCEPT_CONFIDENCE
        answer = parse.answer(confirming=isinstance(pending, Confirm))
        bare_yes_no = answer is not None and len(parse.normalized) <= REPLY_MAX_CHARS
        taking_ticket = isinstance(pending, Step)
        if not taking_ticket:  # what was named counts even if this turn asks or confirms
            self.state.remember(parse)
        if isinstance(pending, AnythingElse) and (again := follow_up(self.brain.kb, self.state, pending.topic, parse)):
            return await self._run(*again)  # 「プラは？」 after a collection day: that day, of プラ
        overrides = OVERRIDE_WHILE_TICKETING if taking_ticket else ALWAYS_OVERRIDE
        if (instead := self.recovery.not_booked(parse)) or strong and parse.intent in overrides and not bare_yes_no:
            return await self._run(instead or parse.intent, parse)  # エアコン for a 大型ごみ booking: where it goes
        if taking_ticket:  # a name or a description is not a new question (佐藤です is no goodbye)
            return await self._flow(await self.callback.answer(parse.text, parse), parse)
        if isinstance(pending, Confirm) and answer is None and not strong:
            if self.topics.answers_slot_of(pending.topic, parse):  # 「あおやま」 after 「…ですか」: a yes
                return await self._run(pending.topic, parse)
        if isinstance(pending, (Confirm, OfferStaff, AnythingElse)) and self._unclear_answer(parse, answer):
            return self.say(prompts.UNCLEAR_YES_NO, Action.clarify, parse, "not_understood")
        if isinstance(pending, (Confirm, OfferStaff, AnythingElse)) and answer is not None:
            # a bare はい/いいえ answers the question; 「はい、あと冷蔵庫は？」 is a new question
            if answer is False or bare_yes_no or not strong:
                return await self._yes_no(pending, answer, parse)
        if pending is None and bare_yes_no:
            return self.say(prompts.GO_AHEAD, Action.clarify, parse, "yes_no")  # nothing was asked
        if isinstance(pending, AskSlot):
            if self.topics.fill_pending(pending, parse) or self.recovery.fill_area(pending, parse):
                return await self._run(pending.topic, parse)
            if (read_back := self.recovery.guess_slot(pending, parse)) is not None:  # 「あおやま、ですね？」
                return self.say(read_back, Action.clarify, parse, pending.topic)
            if not (strong and parse.intent != pending.topic or self.topics.asks_anew(pending, parse)):  # ask again
                return await self._run(pending.topic, parse)
        return await self._understood(parse)

    async def _understood(self, parse: Parse) -> BotTurn:
        intent, confidence = parse.intent, parse.confidence
        if confidence < ACCEPT_CONFIDENCE and (guessed := self.topics.guess_from_entities(parse)):
            intent, confidence = guessed, ACCEPT_CONFIDENCE
        if parse.thing_unheard and (confidence < ACCEPT_CONFIDENCE or parse.category or intent == "out_of_scope"):
            return await self._run(ITEM_QUESTION, parse)  # 野工を処分したい, 家電のことで聞きたい: which thing?
        if confidence >= ACCEPT_CONFIDENCE and self.recovery.may_take(intent, parse):
            return await self._run(intent, parse)
        if confidence >= CONFIRM_CONFIDENCE and intent in self.brain.kb.topic_by_id and self.recovery.may_confirm(
                intent, parse):
            topic = self.brain.kb.topic_by_id[intent]
            self.state.pending = Confirm(intent, parse)
            return self.say(prompts.confirm_topic(topic.title, topic.handler), Action.clarify, parse, intent)
        return self._not_understood(parse)

    async def _run(self, intent: str, parse: Parse | None, sure: bool = False) -> BotTurn:
        """Act on a topic: answer, ask for a slot, transfer or take a ticket. ``sure``: confirmed."""
        self.state.failures = 0
        intent, read_back = self.recovery.prepare(intent, parse, sure)
        if read_back is not None:  # 「れいぞうこ、ですね？」 before answering a doubtful item
            return self.say(read_back, Action.clarify, parse, intent)
        previous, self.state.pending = self.state.pending, None
        result = self.topics.run(intent, self.clock().date(), previous)
        if result.needs_staff:
            return await self._escalate(intent, result.text)
        if result.ticket:
            reason = self.policy.reason_for(intent)
            flow = self.callback.begin(intent, result.text, reason, self.policy.urgency_for(reason, intent),
                                       self._title(intent))
            return await self._flow(flow, parse)
        if result.repeat:  # the caller is still answering what was asked before
            self.state.pending = previous
            return self.say(result.text, Action.answer, parse, intent)
        if result.ask is not None:
            self.state.pending = result.ask
            return self.say(result.text, Action.clarify, parse, intent)
        if result.end:
            return self.say(result.text, Action.end, parse, intent)
        if result.offer_staff:  # what is known was said; staff only if the caller wants them
            self.state.pending = OfferStaff(topic=intent, answered=True)
            return self.say(result.text, Action.answer, parse, intent)
        self.state.pending = AnythingElse(intent)
        return self.say(f"{result.text}{prompts.ANYTHING_ELSE}", Action.answer, parse, intent)

    async def _yes_no(self, pending: Confirm | OfferStaff | AnythingElse, yes: bool, parse: Parse | None) -> BotTurn:
        self.state.pending = None
        if isinstance(pending, ConfirmTown):  # はい: the town; いいえ: the area question again
            self.recovery.town_answered(pending, yes)
            return await self._run(pending.topic, None)
        if isinstance(pending, ConfirmItem):
            if yes:
                return await self._run(pending.topic, pending.parse, sure=True)
            if parse is not None and parse.item not in (None, pending.parse.item) and parse.item_how != "fuzzy":
                return await self._run(ITEM_QUESTION, parse)  # いいえ、包丁です; not いやー as ワイヤー by its sound
            text, self.state.pending = self.recovery.item_rejected(pending)
            return self.say(text, Action.clarify, parse, ITEM_QUESTION)
        if isinstance(pending, Confirm):
            if yes:
                return await self._run(pending.topic, pending.parse, sure=True)
            self.recovery.topic_refused(pending)
            return self.say(prompts.ASK_AGAIN, Action.clarify, parse)
        if isinstance(pending, OfferStaff):
            if yes:
                return await self._escalate(pending.topic, "")
            if pending.answered:  # they have their answer: no apology, go on
                self.state.pending = AnythingElse()
                return self.say(prompts.DECLINED_STAFF, Action.clarify, parse)
            return self.say(prompts.ASK_AGAIN, Action.clarify, parse)
        # AnythingElse: はい → go ahead; いいえ → goodbye
        if yes:
            return self.say(prompts.GO_AHEAD, Action.clarify, parse)
        return await self._run("goodbye", parse)

    async def _dtmf(self, digits: str) -> BotTurn:
        pending = self.state.pending
        if isinstance(pending, Step):
            return await self._flow(await self.callback.answer_digits(digits))
        if isinstance(pending, (Confirm, OfferStaff, AnythingElse)) and digits in ("1", "2"):
            return await self._yes_no(pending, digits == "1", None)
        if isinstance(pending, AskSlot) and (found := self.recovery.fill_postal_code(digits)) is not None:
            reply = await self._run(pending.topic, None)  # the town's answer; if none, asked again or staff
            reply.text = reply.text if found else prompts.POSTAL_CODE_UNKNOWN + reply.text
            return reply
        if isinstance(pending, AskSlot) and pending.choices and digits.isdigit():
            if self.topics.pick_choice(pending, int(digits)):
                return await self._run(pending.topic, None)
            return self.say(self.state.last_text, Action.clarify, intent=pending.topic)  # not an option
        if digits in REPEAT_KEYS:
            return await self._run("repeat", None)
        topic = DTMF_MENU.get(digits[:1])
        if topic is None:
            return self.say(prompts.MENU, Action.clarify)
        return await self._run(topic, None)

    # --- escalation, silence, hang-up -------------------------------------------------

    async def _escalate(self, cause: str, lead: str, complete: bool = True) -> BotTurn:
        """Transfer when staff can take the call; otherwise take a ticket for a callback.
        ``cause``: the topic (or what went wrong) that needs staff; the policy names the desk."""
        reason = self.policy.reason_for(cause)
        pending = self.state.pending
        if isinstance(pending, Step):  # mid-ticket (silence, an error): the ticket's desk, not "general"
            reason = pending.reason
        decision = await self.policy.decide(reason, self.clock(), topic=cause)
        if isinstance(decision, Transfer):
            return self._transfer(cause, decision, f"{lead}{prompts.TRANSFERRING}")
        if not complete:  # an error: keep what we have as a ticket straight away
            flow = await self.callback.commit_now(cause, lead, decision.reason, decision.urgency, self._title(cause))
            return await self._flow(flow, intent=cause)
        flow = self.callback.begin(cause, f"{lead}{prompts.AFTER_HOURS}", decision.reason, decision.urgency,
                                   self._title(cause))
        return await self._flow(flow, intent=cause)

    def _transfer(self, cause: str, decision: Transfer, text: str) -> BotTurn:
        target = decision.target
        data = {"reason": target.reason, "topic": cause, "target": target.to_data(), "call_id": self.call_id}
        return self.say(text, Action.transfer, intent=cause, events=[Event("transfer", data)])

    async def _flow(self, reply: FlowReply, parse: Parse | None = None, intent: str = "") -> BotTurn:
        """A reply of the callback flow as a bot turn: a committed ticket's event, the end of the call,
        or — when the store failed — a transfer to staff (a ticket must never be lost silently)."""
        step = reply.step or self.callback.step
        topic = intent or (step.topic if step else "")
        if reply.store_failed:
            reason = self.policy.reason_for(topic) if step is None else step.reason
            cause = f"{topic}:ticket_failed"
            return self._transfer(cause, Transfer(self.policy.target_for(reason)), reply.text + prompts.TRANSFERRING)
        events = []
        if reply.ticket is not None:
            events.append(ticket_event(reply.ticket))
            topic = reply.ticket.request.topic
        return self.say(reply.text, Action.end if reply.end else Action.ticket, parse, topic, events)

    def _title(self, cause: str) -> str:
        topic = self.brain.kb.topic_by_id.get(cause)
        return topic.title if topic else CAUSE_TITLES.get(cause, cause)

    async def _silence(self) -> BotTurn:
        self.state.silences += 1
        if self.state.silences >= MAX_SILENCES:
            step = self.callback.step
            if step is not None:  # they asked for staff: never just hang up
                flow = await self.callback.commit_now("silence", prompts.SILENCE_TICKET, step.reason, step.urgency)
                return await self._flow(flow, intent="silence")
            return self.say(prompts.SILENCE_END, Action.end, intent="silence",
                             events=[Event("hangup", {"reason": "silence"})])
        return BotTurn(self.recovery.silence_prompt(), Action.clarify, intent="silence", slots=self.state.slot_dict())

    async def _hangup(self) -> BotTurn:
        events = [Event("hangup", {"reason": "caller"})]
        if self.callback.step is not None:
            ticket = await self.callback.commit_partial()
            if ticket is not None:
                events.append(ticket_event(ticket))
        self.state.ended = True
        return BotTurn("", Action.end, intent="hangup", events=events)

    @staticmethod
    def _unclear_answer(parse: Parse, answer: bool | None) -> bool:
        """A short, unclear reply to a yes/no question that names nothing: most likely a misheard
        はい/いいえ (a lone いいえ read よいよ), so asking again with the keys beats a new question."""
        named = parse.item or parse.category or parse.area_town or parse.date
        return (answer is None and parse.confidence < ACCEPT_CONFIDENCE and not named
                and len(parse.normalized) <= REPLY_MAX_CHARS)

    def _unclear(self) -> BotTurn:
        """Speech was heard but not read: ask again in the terms of the question pending."""
        pending = self.state.pending
        if isinstance(pending, Step):
            return self.say(self.callback.ask_again().text, Action.ticket, intent=pending.topic)
        if isinstance(pending, (Confirm, OfferStaff, AnythingElse)):
            return self.say(prompts.UNCLEAR_YES_NO, Action.clarify, intent="not_understood")
        return self._not_understood(None)

    def _not_understood(self, parse: Parse | None) -> BotTurn:
        text, pending = self.recovery.not_understood(parse)  # again → the keypad menu → staff
        if pending is not None:
            self.state.pending = pending
        return self.say(text, Action.clarify, parse, "not_understood")

    def _too_long(self) -> bool:
        return self.state.turns > MAX_TURNS or time.monotonic() - self._started > MAX_CALL_SECONDS

    def say(self, text: str, action: Action, parse: Parse | None = None, intent: str = "",
            events: list[Event] | None = None) -> BotTurn:
        if action in (Action.clarify, Action.ticket):
            text = self.recovery.vary(text)  # never the same re-prompt twice in a row
        if action is not Action.end and text:
            self.state.last_text = text
        return BotTurn(
            text=text,
            action=action,
            intent=intent or (parse.intent if parse else ""),
            confidence=parse.confidence if parse else 1.0,
            slots=self.state.slot_dict(),
            events=events or [],
        )
