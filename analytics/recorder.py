"""Building a call's record as the call goes: every caller turn and the bot's reply, with timings.

``RecordedSession`` is the ``CallSession`` the server's runtime gives every call (each carrier):
the dialogue itself knows nothing of records, and the simulator's sessions stay unrecorded. The
outcome is decided once, when the carrier says the call is over (``CallRecorder.record``):

- an error in a turn (``Event("error")``) → failed (reason: what broke); a hand-over because the
  server is stopping is no fault: it counts as the transfer (or ticket) it became;
- a transfer → transferred (reason: the topic or fault that needed staff); also a call the carrier
  put through to staff outside the dialogue (``CallRecorder.handed_to_staff``: a Twilio media stream
  that broke goes to staff by the ``<Connect action>``), unless the call had failed;
- a ticket → ticket (reason: the ticket's desk reason; its number kept);
- no answer given at all before the call ended → abandoned;
- otherwise answered: the call was contained.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from analytics.records import (
    ABANDONED,
    ANSWERED,
    FAILED,
    NOT_UNDERSTOOD,
    PRIVATE_STEPS,
    TICKET,
    TRANSFERRED,
    CallRecord,
    TurnSummary,
)
from escalation.privacy import mask_number
from ivr.dialogue.callback import Step
from ivr.dialogue.session import CallSession
from ivr.dialogue.turns import Action, BotTurn, CallerKind, CallerTurn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ivr.speech.turn_record import TurnRecord

log = logging.getLogger(__name__)
PLANNED = frozenset({"shutdown"})  # a hand-over when the server stops (ivr/server/shutdown.py) is no fault
DIGIT_RUN = re.compile(r"[0-9０-９](?:[0-9０-９\-－ー‐ 　]{4,}[0-9０-９])")  # a number said anywhere else

# carrier transport classes → the transport named in the record
TRANSPORTS = {"TwilioTransport": "twilio_stream", "AudioSocketTransport": "audiosocket",
              "WebCallTransport": "webcall", "RecordingTransport": "sim_audio"}


@dataclass
class _Entry:
    caller: CallerTurn | None  # None: a fault outside the dialogue (CallSession.system_error)
    reply: BotTurn
    offset_s: float  # since the call started
    reply_ms: float


class CallRecorder:
    """The turns of one call, kept in memory until the call ends (a few dozen at most)."""

    def __init__(self, call_id: str, clock: Callable[[], datetime]) -> None:
        self.call_id = call_id
        self.started_at = clock()
        self._t0 = time.monotonic()  # durations from the monotonic clock: a fixed test clock still measures
        self.entries: list[_Entry] = []
        self.recorded = False
        self.staff_reason = ""  # handed_to_staff: the carrier took the call to staff
        self.staff_fault = False

    def turn(self, caller: CallerTurn | None, reply: BotTurn, started: float, private: str = "") -> None:
        """One turn answered; ``started``: ``time.perf_counter()`` when it came in; ``private``:
        what to keep instead of the caller's words (their number or name)."""
        now = time.perf_counter()
        if caller is not None and caller.text:
            caller = dataclasses.replace(caller, text=private or mask_digits(caller.text))
        self.entries.append(_Entry(caller, reply, time.monotonic() - self._t0, (now - started) * 1000))

    def handed_to_staff(self, reason: str, fault: bool = False) -> None:
        """The carrier sends the caller to staff whatever the dialogue said (a broken media stream:
        Twilio asks the ``<Connect action>``, which answers ``<Dial>``). ``fault``: our own error
        did it (the call failed), not the line."""
        self.staff_reason, self.staff_fault = reason, fault

    def record(self, transport: str, caller_number: str = "",
               voice_records: Iterable[TurnRecord] | None = None, at_last_turn: bool = False) -> CallRecord:
        """The call's record, now that it has ended. ``voice_records`` (audio calls): the voice
        call's turn records, for ASR times; turns the voice call took back (the caller had only
        paused, and the joined turn was answered again) are left out. ``at_last_turn``: the call
        was found idle long after, so it ended at its last turn, not now."""
        self.recorded = True
        entries = self.entries
        asr: dict[int, float] = {}
        if voice_records is not None:
            spoken: set[int] = set()
            for r in voice_records:
                spoken.add(id(r.reply))
                if r.kind == "speech":
                    asr[id(r.reply)] = r.asr_ms
            entries = [e for e in entries if id(e.reply) in spoken or (e.caller is not None
                                                                       and e.caller.kind is CallerKind.hangup)]
        outcome, reason, ticket = outcome_of(entries)
        if self.staff_reason and outcome not in (FAILED, TRANSFERRED):  # the dialogue's own fault or transfer first
            outcome, reason = (FAILED if self.staff_fault else TRANSFERRED), self.staff_reason
        turns = [_summary(n, e, self.started_at, asr.get(id(e.reply))) for n, e in enumerate(entries, 1)]
        elapsed = (entries[-1].offset_s if entries else 0.0) if at_last_turn else time.monotonic() - self._t0
        ended = self.started_at + timedelta(seconds=elapsed)
        return CallRecord(call_id=self.call_id, transport=transport, started_at=self.started_at, ended_at=ended,
                          outcome=outcome, reason=reason, ticket_number=ticket,
                          caller_masked=mask_number(caller_number), turns=turns)


def mask_digits(text: str) -> str:
    """Numbers of 6 digits or more in what a caller said, masked as phone numbers are in logs."""
    return DIGIT_RUN.sub(lambda m: mask_number(unicodedata.normalize("NFKC", m.group())) or "*", text)


def outcome_of(entries: list[_Entry]) -> tuple[str, str, str]:
    """(outcome, reason, ticket number) of a call's turns, by the rules in the module docstring."""
    ticket_number, ticket_reason, transfer, error = "", "", "", ""
    answered = False
    for e in entries:
        answered = answered or e.reply.action is Action.answer
        for event in e.reply.events:
            if event.kind == "error" and not error and event.data.get("reason") not in PLANNED:
                error = str(event.data.get("reason") or "system_error")
            elif event.kind == "ticket":
                ticket_number = str(event.data.get("number") or ticket_number)
                ticket_reason = str(event.data.get("reason") or ticket_reason or "general")
            elif event.kind == "transfer" and not transfer:
                transfer = str(event.data.get("topic") or event.data.get("reason") or e.reply.intent)
        if e.reply.action is Action.transfer and not transfer:
            transfer = e.reply.intent or "transfer"
    if error:
        return FAILED, error, ticket_number
    if transfer:
        return TRANSFERRED, transfer, ticket_number
    if ticket_reason:
        return TICKET, ticket_reason, ticket_number
    return (ANSWERED if answered else ABANDONED), "", ""


def _summary(n: int, e: _Entry, started_at: datetime, asr_ms: float | None) -> TurnSummary:
    kind = str(e.caller.kind) if e.caller is not None else "error"
    unclear = e.caller is not None and e.caller.kind is CallerKind.unclear
    return TurnSummary(
        n=n, at=started_at + timedelta(seconds=e.offset_s), kind=kind,
        text=e.caller.text if e.caller is not None else "", intent=e.reply.intent, confidence=e.reply.confidence,
        action=str(e.reply.action), item=e.reply.slots.get("item", ""), asr_ms=asr_ms,
        reply_ms=round(e.reply_ms, 1), understood=not unclear and e.reply.intent != NOT_UNDERSTOOD,
    )


class RecordedSession(CallSession):
    """A ``CallSession`` that keeps its call's record (``recorder``). Recording never costs the
    caller anything: a failure in it is logged and the turn's reply goes out unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = CallRecorder(self.call_id, self.clock)

    async def handle(self, turn: CallerTurn) -> BotTurn:
        started, live, pending = time.perf_counter(), not self.state.ended, self.state.pending
        private = PRIVATE_STEPS.get(pending.name, "") if isinstance(pending, Step) else ""
        reply = await super().handle(turn)
        if live:
            self._record(turn, reply, started, private)
        return reply

    async def system_error(self, reason: str) -> BotTurn:
        started = time.perf_counter()
        reply = await super().system_error(reason)
        self._record(None, reply, started)
        return reply

    def _record(self, turn: CallerTurn | None, reply: BotTurn, started: float, private: str = "") -> None:
        try:
            self.recorder.turn(turn, reply, started, private)
        except Exception:
            log.exception("call %s: could not record a turn", self.call_id)
