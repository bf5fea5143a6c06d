"""What flows through a call session: caller turns in, bot turns (with an action) out.

Transports (simulator, Twilio, Asterisk) only ever build ``CallerTurn``s and act on
``BotTurn``s, so the dialogue never knows which carrier it is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CallerKind(StrEnum):
    speech = "speech"  # recognised (or typed) words
    dtmf = "dtmf"  # keypad digits
    silence = "silence"  # no input before the timeout
    unclear = "unclear"  # speech was heard but could not be read: "not understood", never "no input"
    hangup = "hangup"


class Action(StrEnum):
    answer = "answer"  # spoke an answer; the call goes on
    clarify = "clarify"  # asked the caller something (a slot, a confirmation, a repeat)
    transfer = "transfer"  # hand the call to staff now
    ticket = "ticket"  # a ticket was committed (or is being taken) for a callback
    end = "end"  # hang up after speaking


@dataclass(frozen=True)
class CallerTurn:
    kind: CallerKind
    text: str = ""
    digits: str = ""
    confidence: float = 1.0  # how far the recogniser trusts ``text`` (AsrResult.confidence); 1 when typed
    heard_as: str = ""  # the expected answer the audio sounds most like (AsrResult.chosen), if any were

    @classmethod
    def speech(cls, text: str, confidence: float = 1.0, heard_as: str = "") -> CallerTurn:
        return cls(CallerKind.speech, text=text, confidence=confidence, heard_as=heard_as)

    @classmethod
    def dtmf(cls, digits: str) -> CallerTurn:
        return cls(CallerKind.dtmf, digits=digits)

    @classmethod
    def silence(cls) -> CallerTurn:
        return cls(CallerKind.silence)

    @classmethod
    def unclear(cls) -> CallerTurn:
        return cls(CallerKind.unclear)

    @classmethod
    def hangup(cls) -> CallerTurn:
        return cls(CallerKind.hangup)


@dataclass(frozen=True)
class Event:
    """Something the transport or staff console must act on or show."""

    kind: str  # transfer | ticket | hangup | error
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class BotTurn:
    text: str
    action: Action
    intent: str = ""
    confidence: float = 0.0
    slots: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def to_json(self, caller_text: str = "") -> dict[str, Any]:
        return {
            "text": caller_text,
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "slots": self.slots,
            "action": str(self.action),
            "reply": self.text,
            "events": [{"kind": e.kind, **e.data} for e in self.events],
        }
