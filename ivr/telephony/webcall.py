"""The browser test call: a websocket from the ``/call`` page is one call, driven through a ``VoiceCall``.

A carrier like the Twilio and AudioSocket ones: the page's microphone comes in as 20 ms frames at
the browser's rate and leaves ``InboundAudio`` as the 8 kHz μ-law-decoded frames a phone call
carries; the same ``VoiceCall`` (endpointer, ASR, dialogue, TTS, pacing) answers; the bot's
frames go back as they are played. Nothing in the call session knows it is a browser. What the
page shows (what the bot heard, each turn's intent and action, tickets) comes from the call's
``on_turn`` records, the same ones the turn log and the simulator read.

A transfer cannot ring a desk from a browser: the page is told staff would take over here and
the call ends. After hours the dialogue takes a ticket as on the phone, in the real ticket store.
Protocol in ``webcall_protocol.py``; who may call in ``webcall_access.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import WebSocket
from starlette import status

from ivr.audio.codec import pcm16_to_bytes
from ivr.speech.voice_call import TurnRecord, VoiceCall
from ivr.telephony.socket_sender import SocketSender
from ivr.telephony.webcall_access import may_call
from ivr.telephony.webcall_protocol import (
    ArrivalLimiter,
    Audio,
    Dtmf,
    Hangup,
    InboundAudio,
    Mark,
    Message,
    ProtocolError,
    Start,
    Typed,
    event,
    parse_message,
)

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # the page sends `start` as soon as the socket opens; silence this long is no call
AUDIO_TIMEOUT_S = 10.0  # the page streams audio all call long (silence too); a gap this long is a dead tab
MAX_BAD_MESSAGES = 100  # past this many malformed or surplus messages the socket is closed
MAX_MESSAGE_BYTES = 65536  # a 20 ms frame at 48 kHz is 1,920 bytes; anything this big is not our page
TRANSFER_NOTICE = "ここで職員が電話を引き継ぎます。これはテスト通話のため、実際には転送されません。"
NO_AUDIO_NOTICE = "通話が始まらないか、音声が届かなくなりました。通話を終了します。"
BUSY_NOTICE = "ただいま通話が混み合っています。しばらくしてからおかけ直しください。"


@dataclass
class WebCallStats:
    """Counters for logs and tests: what the test-call websocket has seen since start-up."""

    calls: int = 0
    rejected: int = 0  # refused: no access, server full, no start
    bad_messages: int = 0
    errors: int = 0


class WebCallTransport(SocketSender):
    """``CallTransport`` over one page's websocket. Sends never raise (``SocketSender``)."""

    async def send_event(self, kind: str, /, **fields: object) -> None:
        await self._send(event(kind, **fields))

    async def send_audio(self, frame: np.ndarray) -> None:
        await self._send(pcm16_to_bytes(frame))

    async def prompt_done(self, prompt: int) -> None:
        await self.send_event("prompt_done", prompt=prompt)  # the page answers with a mark once played

    async def clear(self) -> None:
        await self.send_event("clear")

    async def transfer(self, data: dict[str, Any]) -> None:
        target = data.get("target") or {}
        log.info("web call %s: transfer to staff (%s)", self.call_id, data.get("reason", ""))
        await self.send_event("transfer", reason=str(data.get("reason", "")), target=str(target.get("label", "")),
                              message=TRANSFER_NOTICE)
        await self.close(status.WS_1000_NORMAL_CLOSURE)

    async def hangup(self, reason: str) -> None:
        log.info("web call %s: bot hangs up (%s)", self.call_id, reason)
        await self.send_event("hangup", reason=reason)
        await self.close(status.WS_1000_NORMAL_CLOSURE)


def turn_event(record: TurnRecord) -> dict[str, object]:
    """What the page shows of one turn: what was heard, what the bot made of it and did."""
    reply = record.reply
    return {
        "kind": record.kind, "heard": record.transcript, "dropped": record.dropped, "intent": reply.intent,
        "action": str(reply.action), "reply": reply.text, "confidence": round(reply.confidence, 3),
        "asr_ms": round(record.asr_ms), "parts": record.parts,
        "events": json.loads(json.dumps([{"kind": e.kind, "data": e.data} for e in reply.events], default=str)),
    }


class WebCall:
    """One websocket from accept to close. Create per connection and ``await run()``."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, secret_key: str, stats: WebCallStats) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.secret_key = secret_key
        self.stats = stats
        self.call_id = f"web-{secrets.token_hex(6)}"
        self.call: VoiceCall | None = None
        self.transport = WebCallTransport(websocket, self.call_id)
        self.inbound: InboundAudio | None = None
        self.arrival = ArrivalLimiter()
        self.bad = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._greeting: asyncio.Task[None] | None = None

    async def run(self) -> None:
        settings = self.runtime.settings
        allowed = await asyncio.to_thread(may_call, self.websocket, token=settings.webcall_token,
                                          secret_key=self.secret_key, accounts=self.runtime.accounts)
        if not allowed:
            self.stats.rejected += 1
            log.warning("web call refused: not loopback, no staff login, no valid token")
            await self.websocket.close(status.WS_1008_POLICY_VIOLATION)  # before accept: HTTP 403
            return
        await self.websocket.accept()
        try:
            await self._serve()
        except Exception:
            self.stats.errors += 1
            log.exception("web call %s failed", self.call_id)
            await self.transport.send_event("error", message="サーバーでエラーが起きました。通話を終了します。")
            await self.transport.close(status.WS_1011_INTERNAL_ERROR)
        finally:
            await self._end()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not self.transport.closed:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await self.websocket.receive()
            except TimeoutError:
                waited = "no start" if self.call is None else "no audio"
                await self._refuse(f"{waited} in time", NO_AUDIO_NOTICE)
                return
            if message["type"] == "websocket.disconnect":
                return
            text, data = message.get("text"), message.get("bytes")
            if len(text or data or b"") > MAX_MESSAGE_BYTES:
                await self._refuse("a message too large for the protocol", "大きすぎるメッセージを受け取りました。",
                                   status.WS_1009_MESSAGE_TOO_BIG)
                return
            try:
                msg = parse_message(text, data)
                if not await self._handle(msg):
                    return
                if isinstance(msg, Audio) or (isinstance(msg, Start) and self.call is not None):
                    deadline = loop.time() + AUDIO_TIMEOUT_S
            except ProtocolError as e:
                if not await self._bad(str(e)):
                    return

    async def _handle(self, msg: Message) -> bool:
        """Act on one message; False ends the socket."""
        if isinstance(msg, Start):
            return await self._start(msg)
        call = self.call
        if call is None:
            raise ProtocolError(f"{type(msg).__name__.lower()} before start")
        if isinstance(msg, Audio):
            assert self.inbound is not None
            if not self.arrival.allow():
                raise ProtocolError("音声が実時間より速く届いたため、一部を捨てました (audio faster than real time)")
            for frame in self.inbound.push(msg.pcm):
                await call.audio(frame)
        elif isinstance(msg, Dtmf):
            await call.dtmf(msg.digit)
        elif isinstance(msg, Typed):
            await call.typed(msg.text)
        elif isinstance(msg, Mark):
            call.heard(msg.prompt)
        elif isinstance(msg, Hangup):
            log.info("web call %s: the page hung up", self.call_id)
            await call.hangup()
            await self.transport.close(status.WS_1000_NORMAL_CLOSURE)
            return False
        return True

    async def _start(self, start: Start) -> bool:
        if self.call is not None:
            raise ProtocolError("a second start")
        if self.runtime.full():
            await self._refuse(f"server full ({len(self.runtime.calls)} calls)", BUSY_NOTICE,
                               status.WS_1013_TRY_AGAIN_LATER)
            return False
        self.inbound = InboundAudio(start.rate)
        self.call = VoiceCall(self.runtime.session(self.call_id), self.runtime.speech, self.transport,
                              on_turn=self._on_turn)
        self.runtime.calls[self.call_id] = self.call
        self.stats.calls += 1
        log.info("web call %s started (browser audio at %d Hz)", self.call_id, start.rate)
        await self.transport.send_event("ready", call_id=self.call_id, rate=8000)
        # The greeting is synthesised in the background: the page streams its microphone from the
        # first moment, and frames left unread while the greeting is made would arrive as one
        # burst afterwards and be refused by ``arrival`` (or close the socket as too many).
        self._greeting = asyncio.get_running_loop().create_task(self._greet(self.call), name=f"greet-{self.call_id}")
        await asyncio.sleep(0)  # the greeting is prompt 1 before any caller message is read
        return True

    async def _greet(self, call: VoiceCall) -> None:
        try:
            await call.start()
        except Exception:
            self.stats.errors += 1
            log.exception("web call %s: the greeting failed", self.call_id)
            await self.transport.send_event("error", message="サーバーでエラーが起きました。通話を終了します。")
            await self.transport.close(status.WS_1011_INTERNAL_ERROR)

    def _on_turn(self, record: TurnRecord) -> None:
        task = asyncio.get_running_loop().create_task(self.transport.send_event("turn", **turn_event(record)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bad(self, reason: str) -> bool:
        """Count and report a bad message; False (close) once there are too many."""
        self.bad += 1
        self.stats.bad_messages += 1
        if self.bad <= 5 or self.bad % 50 == 0:
            log.warning("web call %s: ignoring a bad message (#%d): %s", self.call_id, self.bad, reason)
            await self.transport.send_event("error", message=reason)
        if self.bad <= MAX_BAD_MESSAGES:
            return True
        await self._refuse("too many bad messages", "不正なメッセージが多すぎるため、通話を終了します。",
                           status.WS_1008_POLICY_VIOLATION)
        return False

    async def _refuse(self, reason: str, notice: str, code: int = status.WS_1008_POLICY_VIOLATION) -> None:
        self.stats.rejected += 1
        log.warning("web call %s ended: %s", self.call_id, reason)
        await self.transport.send_event("error", message=notice)
        await self.transport.close(code)

    async def _end(self) -> None:
        """Whatever ended the socket, the call ends with it and leaves ``runtime.calls``."""
        call = self.call
        if call is None:
            return
        greeting = self._greeting
        if greeting is not None and not greeting.done():  # the page left while the greeting was made
            greeting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await greeting
        try:
            await self.runtime.end_call(self.call_id, call)  # a closed tab: as if the caller hung up
        finally:
            self.transport.closed = True
