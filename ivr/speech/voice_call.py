"""One phone call as audio: 20 ms frames and keypad digits in, paced speech and actions out.

The same class serves Twilio, AudioSocket and ``ivr sim --audio``; only the ``CallTransport``
differs, and every decision about the caller's turns is taken on the caller's audio clock (the
frames received), so every carrier hears a caller the same way. Per-call state (endpointer,
VAD, prompt numbers, the turn being assembled) lives here, the dialogue's in its ``CallSession``.
Caller turns are handled one at a time, in order, so two answers cannot race each other.

A turn is what the caller meant as one: stretches of speech split by a mid-sentence pause are
joined (``turn_joining.py``), and speech that was heard but could not be read is "not
understood", never "no input" (``CallerTurn.unclear``).

Never lose a caller: a failure in ASR or TTS ends in a transfer (or a ticket after hours), see
``_fail``; ``hand_over`` does the same on purpose when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ivr.dialogue.turns import Action, BotTurn, CallerTurn, Event
from ivr.language.turn_end import TurnEnding, turn_ending
from ivr.speech.asr_pool import AsrBusy
from ivr.speech.endpoint import BargeIn, Endpointer, NoInput, Pause, SpeechStarted, Utterance
from ivr.speech.lead_in import lead_in_for, slot_question
from ivr.speech.playback import CallTransport, Player
from ivr.speech.services import APOLOGY
from ivr.speech.turn_joining import Answering, TurnJoiner, join
from ivr.speech.turn_record import TurnRecord
from ivr.speech.vad import SileroVad, check_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivr.dialogue.session import CallSession
    from ivr.speech.asr import AsrResult
    from ivr.speech.services import SpeechServices

log = logging.getLogger(__name__)

NUMBER_DIGIT_TIMEOUT_S = 4.0  # a phone number keyed without # is taken after this pause
SETTLED_RECHECK_S = 0.05  # idle twice this far apart: the player has handed over its last frames
HEARD_GRACE_S = 3.0  # wait this long past a prompt's length for the carrier's "heard" (a lost mark)


@dataclass
class _Pending:
    digits: list[str] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class VoiceCall:
    """Create with a started ``CallSession``-to-be; call ``start`` then feed ``audio``/``dtmf``."""

    def __init__(
        self,
        session: CallSession,
        speech: SpeechServices,
        transport: CallTransport,
        pace: bool = True,
        on_turn: Callable[[TurnRecord], None] | None = None,
    ) -> None:
        self.session = session
        self.speech = speech
        self.transport = transport
        self.endpointer = Endpointer(speech.endpoint, SileroVad())
        self.player = Player(transport, pace=pace)
        self.records: list[TurnRecord] = []
        self.ended = False
        self._on_turn = on_turn
        self._turns: asyncio.Queue[CallerTurn | Utterance | str] = asyncio.Queue()  # str: hand over
        self._prompt = 0  # number of the prompt being spoken (or last spoken)
        self._heard: dict[int, asyncio.Event] = {}
        self._speaking = False
        self._ms = 0  # caller audio received so far, in ms: the endpointer's clock
        self._digits = _Pending()
        self._worker: asyncio.Task[None] | None = None
        self._busy = False
        # ASR started at a pause, before the end-of-turn silence is over: (start_ms, end_ms) → result
        self._guess: tuple[tuple[int, int], asyncio.Future[AsrResult]] | None = None
        self.joiner = TurnJoiner(speech.join, speech.endpoint.end_of_turn_silence_ms)
        self._seq = 0

    @property
    def idle(self) -> bool:
        """No caller turn waiting or being answered (the player may still be playing)."""
        return self.ended or (self._turns.empty() and not self._busy)

    async def settled(self, timeout_s: float = 60.0) -> None:
        """Wait until every caller turn is answered and every frame played (simulator, tests,
        bench: carriers never wait for this). Raises TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while True:
                if self.idle and self.player.idle:
                    await asyncio.sleep(SETTLED_RECHECK_S)
                    if self.idle and self.player.idle:
                        return
                await asyncio.sleep(0.01)

    # --- what the transport calls ------------------------------------------------------

    async def start(self) -> None:
        self.player.start()
        self._worker = asyncio.create_task(self._work(), name=f"call-{self.session.call_id}")
        await self._speak(await self.session.start(), TurnRecord("", BotTurn("", Action.clarify), kind="greeting"))

    async def audio(self, frame: np.ndarray) -> None:
        """One 20 ms frame (160 int16 samples). Raises ValueError on a malformed frame."""
        if self.ended:
            return
        frame = check_frame(frame)
        self._ms += 20
        for event in self.endpointer.push(frame, bot_speaking=self._speaking):
            if isinstance(event, SpeechStarted):
                await self._caller_started(event.at_ms)
            elif isinstance(event, BargeIn):
                await self._barge_in()
            elif isinstance(event, Pause):
                self._speculate(event)
            elif isinstance(event, Utterance):
                self._turns.put_nowait(event)
            elif isinstance(event, NoInput):
                self._turns.put_nowait(CallerTurn.silence())
        self.joiner.tick(self._ms)

    async def dtmf(self, digit: str) -> None:
        """One keypad press. A key during a prompt stops it, like speech does."""
        if self.ended or not digit:
            return
        if self._speaking:
            await self._barge_in()
        if not self.session.wants_number():
            self._turns.put_nowait(CallerTurn.dtmf(digit))
            return
        pending = self._digits
        if pending.timer is not None:
            pending.timer.cancel()
        if digit == "#":
            self._flush_digits()
            return
        pending.digits.append(digit)
        pending.timer = asyncio.get_running_loop().call_later(NUMBER_DIGIT_TIMEOUT_S, self._flush_digits)

    async def typed(self, text: str) -> None:
        """A turn typed instead of spoken (the browser test call's text box): handled in turn
        with the spoken ones, as if ASR had read exactly ``text``; it stops a prompt as speech does."""
        if self.ended or not text.strip():
            return
        if self._speaking:
            await self._barge_in()
        self._turns.put_nowait(CallerTurn.speech(text.strip()))

    def heard(self, prompt: int) -> None:
        """The caller has heard the whole of ``prompt`` (Twilio's mark came back)."""
        event = self._heard.get(prompt)
        if event is not None:
            event.set()
        if prompt == self._prompt and self._speaking:
            self._speaking = False
            self.endpointer.bot_finished()

    def hand_over(self, reason: str) -> None:
        """The server is stopping: after the turn in hand, cut any prompt and hand on as on a failure."""
        if not self.ended:
            self._turns.put_nowait(reason)

    async def hangup(self) -> None:
        """The caller hung up: a ticket being taken is kept; nothing more is said."""
        if self.ended:
            return
        self.ended = True
        with contextlib.suppress(Exception):
            await self.session.handle(CallerTurn.hangup())
        await self.close()

    async def close(self) -> None:
        self.ended = True
        if self._digits.timer is not None:
            self._digits.timer.cancel()
        task = self._worker
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.player.stop()

    # --- the worker: one caller turn at a time -----------------------------------------

    async def _work(self) -> None:
        while not self.ended:
            turn = await self._turns.get()
            self._busy = True
            try:
                await self._take(turn)
            except asyncio.CancelledError:
                if self.ended:
                    raise
                log.exception("call %s: a turn was cancelled", self.session.call_id)  # a lost future, not us
                await self._fail("system_error")
            except Exception:  # never silence: staff (or a ticket) takes the call
                log.exception("call %s: a turn failed", self.session.call_id)
                await self._fail("system_error")
            finally:
                self._busy = False

    async def _take(self, turn: CallerTurn | Utterance | str) -> None:
        if isinstance(turn, str):
            await self._barge_in()
            await self._fail(turn)
            return
        if not isinstance(turn, Utterance):
            kind = "typed" if turn.text else str(turn.kind)
            text = f"[DTMF {turn.digits}]" if turn.digits else (turn.text or f"[{turn.kind}]")
            record = TurnRecord(text, BotTurn("", Action.clarify), kind=kind, start_ms=self._ms, end_ms=self._ms)
            await self._answer(turn, record, None, 1)
            return
        utterance, parts, earlier = self.joiner.joined(turn)  # after a pause, the caller went on: one turn
        record = TurnRecord("", BotTurn("", Action.clarify), start_ms=utterance.start_ms, end_ms=utterance.end_ms,
                            audio_ms=len(utterance.pcm) // 8, parts=parts)
        record.speech_end = time.monotonic() - (self._ms - utterance.speech_end_ms) / 1000
        started = time.perf_counter()
        result, record.speculated = await self._transcribe(utterance)
        record.asr_ms = (time.perf_counter() - started) * 1000
        record.transcript, record.dropped, record.confidence = result.text, result.dropped or "", result.confidence
        if not result.text and not utterance.stands_out and parts == 1:  # talk behind the caller, not the caller
            log.info("call %s: unreadable speech no louder than the line's background: ignored", self.session.call_id)
            self.endpointer.background_talk()
            return
        if not self.joiner.went_on(utterance) and result.text and turn_ending(result.text) is TurnEnding.continues:
            record.held_ms = await self.joiner.hold(utterance, lambda: self.endpointer.in_speech, lambda: self.ended)
        if self.joiner.went_on(utterance):  # the caller spoke again before we answered: wait for the rest
            self._keep_part(utterance, parts, [*earlier, record])
            return
        heard = CallerTurn.speech(result.text, result.confidence, result.chosen)
        caller = heard if result.text else CallerTurn.unclear()
        await self._answer(caller, record, utterance, parts)

    async def _answer(self, caller: CallerTurn, record: TurnRecord, utterance: Utterance | None, parts: int) -> None:
        """Let the dialogue act on a turn and speak its reply; if the caller turns out to have
        only paused (``_caller_started``), the dialogue's state is put back as it was."""
        snapshot = self.session.snapshot() if utterance is not None else None
        answering = self.joiner.answer(utterance, parts, snapshot, record)
        reply = await self.session.handle(caller)
        if self.joiner.replied(answering, reply):
            self._take_back(answering)
            return
        await self._speak(reply, record, answering)

    def _keep_part(self, utterance: Utterance, parts: int, records: list[TurnRecord]) -> None:
        self.joiner.keep(utterance, parts, records)
        for record in records:
            self._log(record)

    async def _caller_started(self, onset_ms: int) -> None:
        """The caller is speaking: if the reply to their last turn has barely begun, they were
        only pausing. Stop the reply and put the dialogue back; the next utterance is joined."""
        answering = self.joiner.speech_started(onset_ms)
        heard = self._heard.get(answering.record.prompt) if answering is not None else None
        if answering is None or (heard is not None and heard.is_set()):
            return  # a new turn: the caller has heard the whole reply (a carrier may send no audio meanwhile)
        self._take_back(answering)
        if self._speaking:
            self._speaking = False
            await self.player.cut(below=self._prompt + 1)
            self.heard(self._prompt)

    def _take_back(self, answering: Answering) -> None:
        log.info("call %s: the caller went on after a pause; one turn", self.session.call_id)
        assert answering.snapshot is not None
        self.session.restore(answering.snapshot)  # type: ignore[arg-type]
        self.joiner.take_back(answering)
        self._log(answering.record)

    def _speculate(self, pause: Pause) -> None:
        """Start ASR on a pause: if the caller stays silent the text is ready sooner by the rest
        of the end-of-turn silence (~500 ms). Only with the pool idle: under load a wasted guess
        would delay other callers' real turns."""
        self._drop_guess()
        if self.speech.asr.waiting or not self._turns.empty() or self._busy:
            return
        utterance = Utterance(pause.pcm, pause.start_ms, pause.end_ms, False, pause.speech_end_ms)
        if self.joiner.part is not None:
            utterance = join(self.joiner.part.utterance, utterance)
        try:
            future = asyncio.wrap_future(
                self.speech.asr.submit(utterance.pcm, **self._asked())
            )
        except AsrBusy:
            return
        except Exception:  # a guess is optional; the real turn will meet (and escalate) the fault
            log.warning("call %s: speculative ASR refused", self.session.call_id, exc_info=True)
            return
        self._guess = ((utterance.start_ms, utterance.end_ms), future)

    def _drop_guess(self) -> None:
        if self._guess is not None:
            self._guess[1].cancel()  # a queued job is dropped; a running one finishes unused
            self._guess = None

    async def _transcribe(self, utterance: Utterance) -> tuple[AsrResult, bool]:
        guess, self._guess = self._guess, None
        if guess is not None and guess[0] == (utterance.start_ms, utterance.end_ms) and not guess[1].cancelled():
            return await guess[1], True  # the caller did stop at the pause: same audio, same text
        if guess is not None:
            guess[1].cancel()
        return await self.speech.asr.transcribe(utterance.pcm, **self._asked()), False

    def _asked(self) -> dict[str, Any]:
        """The yes/no question (or the slot asked) the caller is likely answering, and its audio."""
        question = self.session.yes_no_question()
        lead_in = lead_in_for(question or slot_question(self.session.state), self.speech.tts)
        return {"question": question, "lead_in": lead_in, "choices": self.session.recovery.audio_choices()}

    async def _speak(self, reply: BotTurn, record: TurnRecord, answering: Answering | None = None) -> None:
        self._prompt += 1
        prompt = self._prompt
        record.reply, record.prompt = reply, prompt
        self.records.append(record)
        if self._on_turn is not None:
            try:
                self._on_turn(record)
            except Exception:  # an observer's bug must not cost the caller the call
                log.exception("call %s: on_turn failed", self.session.call_id)
        if record.kind != "greeting":
            self._log(record)
        heard = self._heard[prompt] = asyncio.Event()
        seconds = 0.0
        if reply.text:
            self._speaking = True
            async with contextlib.aclosing(self.speech.tts.stream(reply.text)) as sentences:
                async for pcm in sentences:
                    if prompt != self._prompt or not self._speaking:
                        break  # the caller barged in: say no more of it (aclosing stops the synthesis)
                    if answering is not None and answering.reply_from_ms is None:
                        answering.reply_from_ms = self._ms
                    seconds += len(pcm) / 8000
                    self.player.play(prompt, pcm)
            self.player.end_prompt(prompt)
        else:
            heard.set()
        if reply.action in (Action.transfer, Action.end):
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: 3.11's wait_for can swallow a cancel
                async with asyncio.timeout(seconds + HEARD_GRACE_S):
                    await heard.wait()
            await self._finish(reply)

    def _log(self, record: TurnRecord) -> None:
        if not record.seq:
            self._seq += 1
            record.seq = self._seq
        if self.speech.turn_log is not None:
            self.speech.turn_log.write(self.session.call_id, record)

    async def _finish(self, reply: BotTurn) -> None:
        self.ended = True
        if reply.action is Action.transfer:
            data = next((e.data for e in reply.events if e.kind == "transfer"), {"reason": reply.intent})
            await self.transport.transfer(dict(data))
        else:
            reason = next((e.data.get("reason", "") for e in reply.events if e.kind == "hangup"), "goodbye")
            await self.transport.hangup(str(reason or "goodbye"))

    async def _barge_in(self) -> None:
        if not self._speaking:
            return
        self._speaking = False
        await self.player.cut(below=self._prompt + 1)
        self.heard(self._prompt)

    def _flush_digits(self) -> None:
        pending = self._digits
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
        digits, pending.digits = "".join(pending.digits), []
        if digits:
            self._turns.put_nowait(CallerTurn.dtmf(digits))

    async def _fail(self, reason: str) -> None:
        """A turn broke: staff (or a ticket) take over. If that reply cannot be spoken (TTS broke), the
        pinned apology is, then a transfer; if even that fails, a transfer without a notice."""
        data = {"reason": f"{reason}:no_speech", "call_id": self.session.call_id}
        replies = [BotTurn(APOLOGY, Action.transfer, intent=reason, events=[Event("transfer", data)])]
        with contextlib.suppress(Exception):  # never raises; but nothing here may stop the transfer
            replies.insert(0, await self.session.system_error(reason))  # a transfer, or a ticket then goodbye
        for reply in replies:
            try:
                return await self._speak(reply, TurnRecord("", reply, kind="error"))
            except Exception:
                log.exception("call %s: could not speak %r", self.session.call_id, reply.text[:24])
        self.ended = True
        with contextlib.suppress(Exception):
            await self.transport.transfer(data)
