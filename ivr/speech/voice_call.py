"""One phone call as audio: 20 ms frames and keypad digits in, paced speech and actions out.

The same class serves Twilio, AudioSocket and ``ivr sim --audio``; only the ``CallTransport``
differs. Per-call state lives here (endpointer, VAD state, prompt numbers, timings); the
dialogue state lives in the ``CallSession`` it drives. Caller turns are handled one at a time,
in order, by one worker task, so a fast caller cannot make two answers race each other.

Never lose a caller: a failure in ASR or TTS ends in a transfer (or a ticket after hours), and
if even speaking fails the transport is told to transfer without a notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ivr.dialogue.turns import Action, BotTurn, CallerTurn
from ivr.speech.asr_pool import AsrBusy
from ivr.speech.endpoint import BargeIn, Endpointer, NoInput, Pause, Utterance
from ivr.speech.playback import CallTransport, Player
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
class TurnRecord:
    """What happened in one caller turn: for `ivr sim --audio`, logs and the bench."""

    transcript: str
    reply: BotTurn
    speech_end: float = 0.0  # monotonic time the caller stopped speaking (0 for DTMF/silence)
    asr_ms: float = 0.0
    prompt: int = 0
    dropped: str = ""  # why the ASR text was dropped (hallucination, prompt echo)
    speculated: bool = False  # the text came from ASR started at a pause, before the turn ended


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
        self._turns: asyncio.Queue[CallerTurn | Utterance] = asyncio.Queue()
        self._prompt = 0  # number of the prompt being spoken (or last spoken)
        self._heard: dict[int, asyncio.Event] = {}
        self._speaking = False
        self._ms = 0  # caller audio received so far, in ms: the endpointer's clock
        self._digits = _Pending()
        self._worker: asyncio.Task[None] | None = None
        self._busy = False
        # ASR started at a pause, before the end-of-turn silence is over: (start_ms, end_ms) → result
        self._guess: tuple[tuple[int, int], asyncio.Future[AsrResult]] | None = None

    @property
    def idle(self) -> bool:
        """No caller turn waiting or being answered (the player may still be playing)."""
        return self._turns.empty() and not self._busy

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
        await self._speak(await self.session.start(), TurnRecord("", BotTurn("", Action.clarify)))

    async def audio(self, frame: np.ndarray) -> None:
        """One 20 ms frame (160 int16 samples). Raises ValueError on a malformed frame."""
        if self.ended:
            return
        frame = check_frame(frame)
        self._ms += 20
        for event in self.endpointer.push(frame, bot_speaking=self._speaking):
            if isinstance(event, BargeIn):
                await self._barge_in()
            elif isinstance(event, Pause):
                self._speculate(event)
            elif isinstance(event, Utterance):
                self._turns.put_nowait(event)
            elif isinstance(event, NoInput):
                self._turns.put_nowait(CallerTurn.silence())

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

    def heard(self, prompt: int) -> None:
        """The caller has heard the whole of ``prompt`` (Twilio's mark came back)."""
        event = self._heard.get(prompt)
        if event is not None:
            event.set()
        if prompt == self._prompt and self._speaking:
            self._speaking = False
            self.endpointer.bot_finished()

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
                raise
            except Exception:  # never silence: staff (or a ticket) takes the call
                log.exception("call %s: a turn failed", self.session.call_id)
                await self._fail("system_error")
            finally:
                self._busy = False

    async def _take(self, turn: CallerTurn | Utterance) -> None:
        record = TurnRecord("", BotTurn("", Action.clarify))
        if isinstance(turn, Utterance):
            record.speech_end = time.monotonic() - (self._ms - turn.end_ms) / 1000
            started = time.perf_counter()
            result, record.speculated = await self._transcribe(turn)
            record.asr_ms = (time.perf_counter() - started) * 1000
            record.transcript, record.dropped = result.text, result.dropped or ""
            if not result.text:  # noise, a cough, a hallucination: not a turn; keep listening
                self.endpointer.bot_finished()
                return
            caller = CallerTurn.speech(result.text)
        else:
            caller = turn
            record.transcript = f"[DTMF {turn.digits}]" if turn.digits else f"[{turn.kind}]"
        reply = await self.session.handle(caller)
        await self._speak(reply, record)

    def _speculate(self, pause: Pause) -> None:
        """Start ASR on a pause: if the caller stays silent the text is ready sooner by the rest
        of the end-of-turn silence (~500 ms). Only with the pool idle: under load a wasted guess
        would delay other callers' real turns."""
        self._drop_guess()
        if self.speech.asr.waiting or not self._turns.empty() or self._busy:
            return
        try:
            future = asyncio.wrap_future(self.speech.asr.submit(pause.pcm))
        except AsrBusy:
            return
        except Exception:  # a guess is optional; the real turn will meet (and escalate) the fault
            log.warning("call %s: speculative ASR refused", self.session.call_id, exc_info=True)
            return
        self._guess = ((pause.start_ms, pause.end_ms), future)

    def _drop_guess(self) -> None:
        if self._guess is not None:
            self._guess[1].cancel()  # a queued job is dropped; a running one finishes unused
            self._guess = None

    async def _transcribe(self, utterance: Utterance) -> tuple[AsrResult, bool]:
        guess, self._guess = self._guess, None
        if guess is not None and guess[0] == (utterance.start_ms, utterance.end_ms):
            return await guess[1], True  # the caller did stop at the pause: same audio, same text
        if guess is not None:
            guess[1].cancel()
        return await self.speech.asr.transcribe(utterance.pcm), False

    async def _speak(self, reply: BotTurn, record: TurnRecord) -> None:
        self._prompt += 1
        prompt = self._prompt
        record.reply, record.prompt = reply, prompt
        self.records.append(record)
        if self._on_turn is not None:
            self._on_turn(record)
        heard = self._heard[prompt] = asyncio.Event()
        seconds = 0.0
        if reply.text:
            self._speaking = True
            async with contextlib.aclosing(self.speech.tts.stream(reply.text)) as sentences:
                async for pcm in sentences:
                    if prompt != self._prompt or not self._speaking:
                        break  # the caller barged in: say no more of it (aclosing stops the synthesis)
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
        """A turn broke. Staff (or a ticket) take over; if even speaking fails, transfer silently."""
        try:
            reply = await self.session.system_error(reason)
            await self._speak(reply, TurnRecord("", reply))  # a transfer, or a ticket then goodbye
        except Exception:
            log.exception("call %s: could not even speak the error; transferring", self.session.call_id)
            self.ended = True
            with contextlib.suppress(Exception):
                await self.transport.transfer({"reason": f"{reason}:no_speech", "call_id": self.session.call_id})
