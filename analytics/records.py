"""What one call leaves behind for the figures: the call's outcome and a short summary per turn.

A record is built by the call session as the call goes (``analytics.recorder``) and saved once,
when the carrier says the call is over. It holds no caller number except a masked one, so the
figures can be kept as long as the city wants; the caller's words (turn texts) are blanked after
the retention period like a ticket's transcript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Outcomes of a call. "answered" is the contained call: the bot answered and no staff were needed.
ANSWERED = "answered"
TRANSFERRED = "transferred"  # handed to staff during the call (reason: the topic or fault that needed them)
TICKET = "ticket"  # a callback ticket was taken (reason: the ticket's desk reason)
ABANDONED = "abandoned"  # the call ended before the bot answered any question
FAILED = "failed"  # something broke mid-call (ASR, TTS, the dialogue); staff or a ticket took over
OUTCOMES = (ANSWERED, TRANSFERRED, TICKET, ABANDONED, FAILED)

# What a caller says while giving their number or name is kept out of the records (the ticket has it).
PRIVATE_STEPS = {"phone": "［電話番号］", "name": "［お名前］", "confirm_number": "［電話番号の確認］"}

NOT_UNDERSTOOD = "not_understood"  # the intent of a bot turn that could not read the caller
# Dialogue moves, not questions: left out of "top intents".
MECHANICS = frozenset({"", "greeting", "filler", "yes_no", "silence", "hangup", NOT_UNDERSTOOD, "repeat",
                       "goodbye", "system_error", "call_too_long"})


@dataclass
class TurnSummary:
    """One caller turn and the bot's answer to it, as the figures need it."""

    n: int  # 1, 2, … within the call
    at: datetime  # aware (UTC when read back)
    kind: str  # speech | dtmf | silence | unclear | hangup | error (a fault outside the dialogue)
    text: str = ""  # what the caller said (blanked after the retention period); "" for keys, silence
    intent: str = ""  # what the bot took the turn to be about (BotTurn.intent), "not_understood" if nothing
    confidence: float = 0.0
    action: str = ""  # the bot's action: answer | clarify | transfer | ticket | end
    item: str = ""  # the item the caller was asking about at this turn ("" if none)
    asr_ms: float | None = None  # speech recognition time (audio calls only)
    reply_ms: float = 0.0  # time to compute the bot's turn (understanding + dialogue + any ticket write)
    understood: bool = True


@dataclass
class CallRecord:
    call_id: str
    transport: str  # twilio_stream | twilio_gather | audiosocket | webcall | sim | …
    started_at: datetime
    ended_at: datetime
    outcome: str
    reason: str = ""
    ticket_number: str = ""
    caller_masked: str = ""  # escalation.privacy.mask_number: never the whole number
    turns: list[TurnSummary] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.ended_at - self.started_at).total_seconds())

    @property
    def items(self) -> list[str]:
        """The items asked about in this call, each once, in the order they came up."""
        return list(dict.fromkeys(t.item for t in self.turns if t.item))
