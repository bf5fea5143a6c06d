"""The Media Streams websocket: one socket is one call, driven through a ``VoiceCall``.

Twilio's ``<Connect><Stream>`` opens a websocket here and sends the caller's audio as base64
μ-law; we answer on the same socket (media, marks, clear). The ``VoiceCall`` owns the dialogue,
endpointing and 20 ms pacing; this module only translates the protocol, through
``TwilioTransport``, and keeps a bad socket from hurting anyone but itself.

Transfers: Twilio cannot be told "dial staff" over the socket. The call's TwiML is
``<Connect action="/twilio/after-stream">``, so when the bot has spoken its transfer notice (the
mark came back) we record the outcome for the CallSid and close the socket; Twilio then asks the
action URL what to do next and gets ``<Dial>`` / ``<Enqueue>`` of the target in the transfer's data
(the desk the routing policy chose for the reason). A socket that ends without an outcome (it
broke, or we failed) gets the deployment's staff line: never lose a caller. Its call record says
so (transferred, reason ``stream_broken`` or the protocol fault; failed on ``stream_error``, ours):
the caller did not hang up — Twilio's ``stop`` would have said so — but went on to staff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import WebSocket
from starlette import status

from ivr.speech.voice_call import VoiceCall
from ivr.telephony.socket_sender import SocketSender
from ivr.telephony.twilio_auth import STREAM_TOKEN_PARAM, StreamTokens, websocket_signed
from ivr.telephony.twilio_media import (
    Connected,
    Dtmf,
    Mark,
    Media,
    Message,
    ProtocolError,
    Reframer,
    Start,
    Stop,
    clear_message,
    mark_message,
    mark_name,
    media_message,
    parse_message,
    prompt_of_mark,
    supported_format,
)

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # Twilio sends `start` right after connecting; a socket silent this long is not a call
MAX_BAD_MESSAGES = 200  # past this many malformed messages the socket is closed (the caller then goes to staff)
LOGGED_BAD_MESSAGES = 5  # per socket, then only every 50th: a flood must not flood the log too
OUTCOME_TTL_S = 600.0  # Twilio asks the <Connect> action at once; anything older is a call long gone
BROKEN = "stream_broken"  # the socket ended with neither our decision nor Twilio's stop: the line broke
OUR_FAULT = "stream_error"  # an exception on our side ended the socket


@dataclass(frozen=True)
class Outcome:
    action: str  # "transfer" | "hangup"
    data: dict[str, Any] = field(default_factory=dict)


class StreamOutcomes:
    """How each stream ended, by CallSid, until Twilio asks the <Connect> action URL."""

    def __init__(self, ttl_s: float = OUTCOME_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._outcomes: dict[str, tuple[Outcome, float]] = {}

    def set(self, call_sid: str, outcome: Outcome, *, replace: bool = True) -> None:
        now = time.monotonic()
        for sid in [sid for sid, (_, until) in self._outcomes.items() if until <= now]:
            del self._outcomes[sid]
        if replace or call_sid not in self._outcomes:
            self._outcomes[call_sid] = (outcome, now + self.ttl_s)

    def pop(self, call_sid: str) -> Outcome | None:
        hit = self._outcomes.pop(call_sid, None)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None


@dataclass
class StreamStats:
    """Counters for logs and tests: what the media websocket has seen since start-up."""

    calls: int = 0  # VoiceCalls started
    rejected: int = 0  # sockets refused: signature, token, format, no start
    bad_messages: int = 0  # malformed or out-of-order messages ignored
    errors: int = 0  # sockets ended by an error on our side (those callers went to staff)


class TwilioTransport(SocketSender):
    """``CallTransport`` over one Media Streams socket. Sends never raise (``SocketSender``);
    closing the socket ends <Connect>, and Twilio then requests the action URL."""

    def __init__(self, websocket: WebSocket, stream_sid: str, call_sid: str, outcomes: StreamOutcomes) -> None:
        super().__init__(websocket, call_sid)
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.outcomes = outcomes
        self.decided = False  # the call said what follows (transfer or hang-up) before the socket closed

    async def send_audio(self, frame: np.ndarray) -> None:
        await self._send(media_message(self.stream_sid, frame))

    async def prompt_done(self, prompt: int) -> None:
        await self._send(mark_message(self.stream_sid, mark_name(prompt)))

    async def clear(self) -> None:
        await self._send(clear_message(self.stream_sid))

    async def transfer(self, data: dict[str, Any]) -> None:
        target = data.get("target") or {}
        log.info("call %s: transfer to staff (%s → %s)", self.call_sid, data.get("reason", ""), target.get("label", ""))
        self.decided = True
        self.outcomes.set(self.call_sid, Outcome("transfer", dict(data)))
        await self.close(status.WS_1000_NORMAL_CLOSURE)

    async def hangup(self, reason: str) -> None:
        log.info("call %s: bot hangs up (%s)", self.call_sid, reason)
        self.decided = True
        self.outcomes.set(self.call_sid, Outcome("hangup", {"reason": reason}))
        await self.close(status.WS_1000_NORMAL_CLOSURE)


class MediaStream:
    """One websocket from accept to close. Create per connection and ``await run()``."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, tokens: StreamTokens,
                 outcomes: StreamOutcomes, stats: StreamStats) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.tokens = tokens
        self.outcomes = outcomes
        self.stats = stats
        self.call: VoiceCall | None = None
        self.transport: TwilioTransport | None = None
        self.call_sid = ""
        self.bad = 0
        self.caller_left = False  # Twilio's stop: the caller hung up
        self.fault = ""  # why we closed the socket on a live call (its caller goes to staff)
        self._reframer = Reframer()

    async def run(self) -> None:
        if not websocket_signed(self.websocket, self.runtime.settings):
            self.stats.rejected += 1
            await self.websocket.close(status.WS_1008_POLICY_VIOLATION)  # before accept: HTTP 403
            return
        await self.websocket.accept()
        try:
            await self._serve()
        except Exception:  # our failure, not the caller's: staff take the call
            self.stats.errors += 1
            log.exception("media stream %s failed; the caller goes to staff", self.call_sid or "(no start)")
            if self.call_sid and self.call is not None:
                self.fault = self.fault or OUR_FAULT
                self.outcomes.set(self.call_sid, Outcome("transfer", {"reason": OUR_FAULT}), replace=False)
            await self._close(status.WS_1011_INTERNAL_ERROR)
        finally:
            await self._end()

    async def _serve(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not (self.transport is not None and self.transport.closed):
            if self.call is None:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await self.websocket.receive()
                except TimeoutError:
                    await self._reject(f"no valid start within {START_TIMEOUT_S:g} s")
                    return
            else:
                message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            try:
                msg = parse_message(raw if raw is not None else message.get("bytes") or b"")
            except ProtocolError as e:
                if not await self._bad(str(e)):
                    return
                continue
            if not await self._handle(msg):
                return

    async def _handle(self, msg: Message) -> bool:
        """Act on one message; False ends the socket."""
        if isinstance(msg, Start):
            return await self._start(msg)
        if isinstance(msg, Connected):
            return True
        call = self.call
        if call is None:
            return await self._bad(f"{type(msg).__name__.lower()} before start")
        if isinstance(msg, Media):
            if msg.track == "inbound":
                for frame in self._reframer.push(msg.payload):
                    await call.audio(frame)
        elif isinstance(msg, Dtmf):
            await call.dtmf(msg.digit)
        elif isinstance(msg, Mark):
            prompt = prompt_of_mark(msg.name)
            if prompt is None:
                return await self._bad(f"mark {msg.name!r} is not ours")
            call.heard(prompt)
        elif isinstance(msg, Stop):
            log.info("call %s: stream stopped by Twilio (the caller hung up)", self.call_sid)
            self.caller_left = True
            await call.hangup()
            await self._close(status.WS_1000_NORMAL_CLOSURE)  # a close frame, not a dropped connection (1006)
            return False
        return True

    async def _start(self, start: Start) -> bool:
        if self.call is not None:
            return await self._bad("a second start")
        token = start.custom_parameters.get(STREAM_TOKEN_PARAM, "")
        if not self.tokens.consume(start.call_sid, token):
            return await self._reject(f"start for {start.call_sid!r} without a valid one-time token")
        if not supported_format(start):  # an authentic call we cannot hear: staff take it
            self.outcomes.set(start.call_sid, Outcome("transfer", {"reason": "unsupported_media_format"}))
            return await self._reject(f"media format {start.encoding}/{start.sample_rate}/{start.channels}")
        self.call_sid = start.call_sid
        self.transport = TwilioTransport(self.websocket, start.stream_sid, start.call_sid, self.outcomes)
        session = self.runtime.session(start.call_sid, start.custom_parameters.get("from", ""))
        self.call = VoiceCall(session, self.runtime.speech, self.transport)
        self.runtime.calls[start.call_sid] = self.call
        self.stats.calls += 1
        log.info("call %s: media stream %s started", start.call_sid, start.stream_sid)
        await self.call.start()
        return True

    async def _bad(self, reason: str) -> bool:
        """Count and ignore a bad message; False (close) once there are too many."""
        self.bad += 1
        self.stats.bad_messages += 1
        if self.bad <= LOGGED_BAD_MESSAGES or self.bad % 50 == 0:
            log.warning("media stream %s: ignoring a bad message (#%d): %s", self.call_sid or "(no start)",
                        self.bad, reason)
        if self.bad <= MAX_BAD_MESSAGES:
            return True
        if self.call is not None:
            self.fault = "stream_protocol_errors"
            self.outcomes.set(self.call_sid, Outcome("transfer", {"reason": self.fault}))
        await self._close(status.WS_1008_POLICY_VIOLATION)
        return False

    async def _reject(self, reason: str) -> bool:
        self.stats.rejected += 1
        log.warning("media stream refused: %s", reason)
        await self._close(status.WS_1008_POLICY_VIOLATION)
        return False

    async def _close(self, code: int) -> None:
        if self.transport is not None:
            await self.transport.close(code)
        else:
            with contextlib.suppress(Exception):
                await self.websocket.close(code)

    async def _end(self) -> None:
        """Whatever ended the socket, the call ends with it and leaves ``runtime.calls``."""
        call = self.call
        if call is None:
            return
        if not self.caller_left and self.transport is not None and not self.transport.decided:
            reason = self.fault or BROKEN  # Twilio now asks the <Connect action>: staff take the caller
            log.warning("call %s: the stream ended mid-call (%s); the caller goes to staff", self.call_sid, reason)
            self.outcomes.set(self.call_sid, Outcome("transfer", {"reason": reason}), replace=False)
            recorder = getattr(call.session, "recorder", None)
            if recorder is not None:
                recorder.handed_to_staff(reason, fault=reason == OUR_FAULT)
        try:
            await self.runtime.end_call(self.call_sid, call)  # ends the dialogue as a hang-up would
        finally:
            if self.transport is not None:
                self.transport.closed = True
