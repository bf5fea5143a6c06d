"""One caller turn out of several stretches of speech: a question spoken with pauses in it.

The endpointer ends a stretch of speech after ``end_of_turn_silence_ms``; Japanese callers pause
that long in mid-sentence (「冷蔵庫を買い替えたんですけど、（0.9 s）古いのは…」). Two rules, both
counted on the caller's audio clock (frames), never the wall clock, so the simulator and the
phone carriers decide alike:

- **hold**: when what was heard ends in a clause left open (``turn_ending`` says ``continues``),
  the turn is not taken until ``continuation_wait_ms`` of silence has passed;
- **merge**: when the caller starts again within ``merge_window_ms`` of stopping and before
  hearing ``merge_reply_ms`` of the bot's reply, the reply stops, the dialogue forgets the first
  part (its state is restored) and both stretches are understood as one.

"Starts again" is the endpointer's ``SpeechStarted``: speech that stands out from the line's
background. Babble or street noise on a bad line is a stretch of its own, never a continuation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ivr.speech.endpoint import Utterance
from ivr.speech.vad import LINE_RATE

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.dialogue.turns import BotTurn
    from ivr.speech.voice_call import TurnRecord

log = logging.getLogger(__name__)

JOIN_GAP_MS = 200  # silence put between two joined stretches: Whisper then reads a pause, not one word
HOLD_GUARD_S = 3.0  # a held turn is taken after its wait plus this much wall time even if frames stop coming


@dataclass(frozen=True)
class JoinConfig:
    continuation_wait_ms: int
    merge_window_ms: int
    merge_reply_ms: int

    def __post_init__(self) -> None:
        if min(self.continuation_wait_ms, self.merge_window_ms, self.merge_reply_ms) < 0:
            raise ValueError("turn-joining times must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> JoinConfig:
        return cls(settings.continuation_wait_ms, settings.merge_window_ms, settings.merge_reply_ms)


def join(first: Utterance, then: Utterance) -> Utterance:
    """``first`` followed by ``then``: samples ``then`` shares with ``first`` (its pre-roll may
    reach back into ``first``'s tail) are taken once; a longer pause becomes ``JOIN_GAP_MS``."""
    overlap_ms = max(0, first.end_ms - then.start_ms)
    rest = then.pcm[overlap_ms * LINE_RATE // 1000 :]
    gap = np.zeros(0 if overlap_ms else JOIN_GAP_MS * LINE_RATE // 1000, dtype=np.int16)
    return Utterance(
        pcm=np.concatenate([first.pcm, gap, rest]),
        start_ms=first.start_ms,
        end_ms=then.end_ms,
        truncated=then.truncated,
        speech_end_ms=then.speech_end_ms,
    )


@dataclass
class Part:
    """Speech heard so far of a turn that is not over: the next stretch is joined to it."""

    utterance: Utterance
    parts: int  # stretches already in it
    records: list[TurnRecord] = field(default_factory=list)  # replies it got before the caller went on


@dataclass
class Answering:
    """The turn the dialogue last acted on, while the caller could still turn out to go on."""

    utterance: Utterance
    parts: int
    snapshot: object  # the call state before it: restored if the turn is joined with what follows
    record: TurnRecord
    reply: BotTurn | None = None
    reply_from_ms: int | None = None  # caller clock when the reply's first audio went out
    resumed: bool = False  # the caller went on before the dialogue had answered

    def may_merge(self, onset_ms: int, config: JoinConfig) -> bool:
        """Speech starting at ``onset_ms`` continues this turn (rather than being a new one)."""
        if onset_ms <= self.utterance.speech_end_ms or onset_ms > self.utterance.speech_end_ms + config.merge_window_ms:
            return False
        if self.reply is not None and (self.reply.events or str(self.reply.action) not in ("answer", "clarify")):
            return False  # a ticket taken, a transfer or a goodbye: done, whatever comes next
        heard = 0 if self.reply_from_ms is None else onset_ms - self.reply_from_ms
        return heard <= config.merge_reply_ms


class TurnJoiner:
    """Per call: which stretches of speech make one turn. ``VoiceCall`` tells it the caller's
    clock (``tick``) and speech onsets; it says when to wait, what to join, and when a reply
    must be taken back."""

    def __init__(self, config: JoinConfig, end_of_turn_silence_ms: int) -> None:
        self.config = config
        self.end_of_turn_silence_ms = end_of_turn_silence_ms
        self.part: Part | None = None  # speech of a turn not over yet: the next utterance joins it
        self.answering: Answering | None = None  # the last turn acted on, while it may still go on
        self.onset_ms = -1  # onset of the newest caller speech
        self.ms = 0  # the caller's clock
        self._moved = asyncio.Event()

    def tick(self, ms: int) -> None:
        self.ms = ms
        self._moved.set()

    def joined(self, utterance: Utterance) -> tuple[Utterance, int, list[TurnRecord]]:
        """The utterance with any earlier part of the same turn in front of it; the stretch count;
        the records of the earlier part."""
        part, self.part = self.part, None
        if part is None:
            return utterance, 1, []
        return join(part.utterance, utterance), part.parts + 1, part.records

    def went_on(self, utterance: Utterance) -> bool:
        """The caller spoke again soon enough after ``utterance`` for it to be one turn."""
        gap = self.onset_ms - utterance.speech_end_ms
        return 0 < gap <= max(self.config.merge_window_ms, self.config.continuation_wait_ms)

    def keep(self, utterance: Utterance, parts: int, records: list[TurnRecord]) -> None:
        """Keep ``utterance`` for the next one; its records are marked as superseded."""
        for record in records:
            record.superseded = True
        self.part = Part(utterance, parts, records)

    async def hold(self, utterance: Utterance, in_speech: Callable[[], bool], ended: Callable[[], bool]) -> int:
        """What was heard ends in a clause left open: wait, on the caller's clock, until they have
        been silent ``continuation_wait_ms`` or speak again. Returns the extra wait in ms."""
        deadline = utterance.speech_end_ms + self.config.continuation_wait_ms
        waited_from = self.ms
        loop = asyncio.get_running_loop()
        guard = loop.time() + self.config.continuation_wait_ms / 1000 + HOLD_GUARD_S
        while not ended() and not self.went_on(utterance) and (self.ms < deadline or in_speech()):
            self._moved.clear()
            if loop.time() >= guard:
                log.warning("no caller audio while a turn was held; taking it")
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(guard - loop.time()):
                    await self._moved.wait()
        usual = utterance.speech_end_ms + self.end_of_turn_silence_ms  # taken then without a hold
        return max(0, min(self.ms, deadline) - max(waited_from, usual))

    def answer(self, utterance: Utterance | None, parts: int, snapshot: object, record: TurnRecord) -> Answering | None:
        """The dialogue is about to act on a turn (``None``: a key or a silence, never joined)."""
        self.answering = None if utterance is None else Answering(utterance, parts, snapshot, record)
        return self.answering

    def replied(self, answering: Answering | None, reply: BotTurn) -> bool:
        """The dialogue answered; True when the caller had already gone on (take it back)."""
        if answering is None:
            return False
        answering.reply = reply
        return answering.resumed and answering.may_merge(self.onset_ms, self.config)

    def speech_started(self, onset_ms: int) -> Answering | None:
        """The caller speaks; returns the answered turn whose reply must stop because they were
        only pausing (its dialogue state is to be restored), else None."""
        self.onset_ms = onset_ms
        answering = self.answering
        if answering is None:
            return None
        if answering.reply is None:
            answering.resumed = True  # the dialogue is still thinking: decided when it answers
            return None
        return answering if answering.may_merge(onset_ms, self.config) else None

    def take_back(self, answering: Answering) -> None:
        """Forget the answer given to ``answering``: it is the first part of a longer turn."""
        self.answering = None
        self.keep(answering.utterance, answering.parts, [answering.record])
