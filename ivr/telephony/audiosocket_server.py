"""The AudioSocket server: Asterisk's ``AudioSocket()`` connects here, one TCP connection per call.

Each connection drives a ``VoiceCall`` exactly as the other carriers do; this module only speaks
the protocol (``ivr.telephony.audiosocket``) and keeps one bad connection from hurting any other.

How a call leaves the bot (the dialplan is docker/asterisk/extensions.conf):

* transfer: AMI ``Redirect`` of the caller's channel to the target's context and extension (the desk
  the routing policy chose; the staff context, exten s, when none), then a hang-up frame.
  Without AMI (or if Redirect fails) the hang-up frame alone does it: ``AudioSocket()`` returns
  and the dialplan sends every caller to staff unless ``IVR_RESULT`` is ``end``.
* normal end: AMI ``Setvar IVR_RESULT=end``, then a hang-up frame; the dialplan hangs up.
  Without AMI nothing can tell the dialplan, so the line is left open for the caller to hang up
  (they do, after the goodbye); one still there after ``linger_s`` is handed to staff.
* broken connection (malformed frames, silence, a write that fails): logged, a transfer is
  attempted and the connection closed; the dialplan again sends the caller to staff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import numpy as np

from escalation.policy import DEFAULT_EXTEN, Target
from ivr.speech.voice_call import VoiceCall
from ivr.telephony.ami import RESULT_END, RESULT_VARIABLE, AmiBridge, AmiChannel, AmiError
from ivr.telephony.audiosocket import (
    ErrorCode,
    FrameDecoder,
    Kind,
    ProtocolError,
    Reframer,
    encode_audio,
    encode_hangup,
)

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 4096  # per read: ~12 frames; bounded so a peer can never make us buffer much
READ_TIMEOUT_S = 5.0  # Asterisk sends a frame every 20 ms while the call is up; 5 s of nothing is a dead peer
WRITE_TIMEOUT_S = 2.0  # Asterisk drains 20 ms frames as they come; a write stuck this long is a dead peer
STOP_GRACE_S = 2.0  # at shutdown, time for handed-over connections to close before the loop goes
LINGER_S = 20.0  # without AMI, after the goodbye: time for the caller to hang up before staff take them
REDIRECT_TIMEOUT_S = 1.0  # a transfer's Redirect unanswered this long: the dialplan transfers (no dead air)


class AudioSocketTransport:
    """``CallTransport`` over one AudioSocket connection (AMI for transfers when there is one)."""

    def __init__(self, writer: asyncio.StreamWriter, call_id: str, ami: AmiBridge | None,
                 staff_context: str, linger_s: float = LINGER_S) -> None:
        self.writer = writer
        self.call_id = call_id
        self.ami = ami
        self.staff_context = staff_context
        self.linger_s = linger_s
        self.call: VoiceCall | None = None
        self.lookup: asyncio.Task[AmiChannel | None] | None = None  # the AMI channel, being found
        self.closed = False
        self.broken = ""  # why writing failed, if it did
        self.outcome = ""  # redirect | dialplan | end | linger: how the call left us, for logs and tests
        self.prompt_sent = 0  # the last prompt whose final frame has gone out

    async def send_audio(self, frame: np.ndarray) -> None:
        await self._write(encode_audio(frame))

    async def prompt_done(self, prompt: int) -> None:
        self.prompt_sent = max(self.prompt_sent, prompt)
        if self.call is not None:  # no marks in AudioSocket: what is sent is as good as heard
            self.call.heard(prompt)

    async def clear(self) -> None:
        """Nothing to clear: the Player paces frames, so nothing of ours waits in a buffer."""

    async def transfer(self, data: dict[str, Any]) -> None:
        """AMI Redirect to the target the routing policy chose (its context and extension); without
        one (errors, shutdown) to the staff context. Without AMI the dialplan reaches staff."""
        self.outcome = "dialplan"
        try:
            channel = await self.channel()
            target = Target.from_data(data)
            context = (target.asterisk_context if target else "") or self.staff_context
            exten = (target.asterisk_exten if target else "") or DEFAULT_EXTEN
            if channel is not None and self.ami is not None:
                async with asyncio.timeout(REDIRECT_TIMEOUT_S):  # a stuck Asterisk must not leave dead air
                    await self.ami.redirect(channel.name, context, exten)
                self.outcome = "redirect"
        except Exception as exc:  # AmiError, a timeout, a bug: whatever it is, the dialplan reaches staff
            log.warning("call %s: Redirect failed (%r); the dialplan will transfer", self.call_id, exc)
        finally:
            log.info("call %s: transfer (%s) via %s", self.call_id, data.get("reason", ""), self.outcome)
            await self.close()  # either way AudioSocket() returns into a path that reaches staff

    async def hangup(self, reason: str) -> None:
        channel = await self.channel()
        if channel is not None and self.ami is not None:
            try:
                await self.ami.setvar(channel.name, RESULT_VARIABLE, RESULT_END)
                self.outcome = "end"
                await self.close()
                return
            except AmiError as exc:
                log.warning("call %s: could not mark the end (%s)", self.call_id, exc)
        self.outcome = "linger"
        log.info("call %s: ended (%s) without AMI; waiting %.0f s for the caller to hang up",
                 self.call_id, reason, self.linger_s)
        await asyncio.sleep(self.linger_s)
        await self.close()

    async def channel(self) -> AmiChannel | None:
        if self.lookup is None or self.lookup.cancelled():
            return None
        try:
            return await asyncio.shield(self.lookup)
        except Exception:
            return None

    async def close(self) -> None:
        """Send the hang-up frame (AudioSocket() returns to the dialplan) and close the socket."""
        if self.closed:
            return
        with contextlib.suppress(Exception):
            await self._write(encode_hangup())
        self.abort()

    def abort(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()

    async def _write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.writer.write(data)
            async with asyncio.timeout(WRITE_TIMEOUT_S):  # not wait_for: on 3.11 it can swallow a cancel
                await self.writer.drain()
        except (OSError, TimeoutError) as exc:  # the reader sees the close and hands the caller to staff
            self.broken = f"write failed: {exc or type(exc).__name__}"
            self.abort()


class AudioSocketServer:
    """``running()`` listens on ``settings.host:audiosocket_port`` for as long as the app runs."""

    def __init__(self, runtime: Runtime, ami: AmiBridge | None = None, *, host: str | None = None,
                 port: int | None = None, pace: bool = True, linger_s: float = LINGER_S) -> None:
        self.runtime = runtime
        self.ami = ami
        self.host = runtime.settings.host if host is None else host
        self.port = runtime.settings.audiosocket_port if port is None else port
        self.pace = pace
        self.linger_s = linger_s
        self.transports: dict[str, AudioSocketTransport] = {}  # live calls by UUID
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        if ami is not None:
            ami.on_hangup(self._channel_hung_up)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AudioSocket listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening; callers still talking to the bot are handed to staff, not dropped."""
        if self._server is not None:
            self._server.close()
        for transport in list(self.transports.values()):
            if transport.call is not None and not transport.call.ended:
                await transport.call.close()
                await transport.transfer({"reason": "shutdown", "call_id": transport.call_id})
        for _ in range(int(STOP_GRACE_S / 0.02)):  # let each connection finish its clean-up
            if not self.transports:
                break
            await asyncio.sleep(0.02)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AudioSocketServer]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        decoder, reframer = FrameDecoder(), Reframer()
        call: VoiceCall | None = None
        transport: AudioSocketTransport | None = None
        broken = ""
        try:
            while not broken:
                async with asyncio.timeout(READ_TIMEOUT_S):
                    data = await reader.read(READ_CHUNK_BYTES)
                if not data:
                    broken = f"truncated frame ({decoder.pending} bytes) at EOF" if decoder.pending else ""
                    break
                for frame in decoder.feed(data):
                    if frame.kind is Kind.UUID:
                        transport, call = self._answer(str(frame.uuid), writer)
                        await call.start()
                    elif frame.kind is Kind.AUDIO and call is not None:
                        for pcm in reframer.push(frame.payload):
                            await call.audio(pcm)
                    elif frame.kind is Kind.DTMF and call is not None:
                        await call.dtmf(frame.digit)
                    elif frame.kind is Kind.ERROR and frame.error_code != ErrorCode.CALLER_HUNG_UP:
                        broken = f"Asterisk reported error 0x{frame.error_code:02x}"
                    if frame.kind in (Kind.HANGUP, Kind.ERROR) or (transport and transport.closed):
                        raise EOFError
        except EOFError:
            pass
        except ProtocolError as exc:
            broken = f"protocol error: {exc}"
        except TimeoutError:
            broken = f"nothing received for {READ_TIMEOUT_S:.0f} s"
        except (OSError, ValueError) as exc:
            broken = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug of ours must not strand the caller either
            log.exception("AudioSocket %s: unexpected error", peer)
            broken = f"{type(exc).__name__}: {exc}"
        finally:
            if transport is not None and transport.broken:
                broken = broken or transport.broken
            if broken:
                log.warning("AudioSocket %s (call %s): %s; closing it", peer, transport and transport.call_id, broken)
            await self._finish(call, transport, writer, broken)

    def _answer(self, call_id: str, writer: asyncio.StreamWriter) -> tuple[AudioSocketTransport, VoiceCall]:
        if call_id in self.transports:  # Asterisk makes a UUID per call; a repeat must not hijack a live one
            raise ProtocolError(f"UUID {call_id} is already in a call")
        if self.runtime.full():  # IVR_MAX_CALLS: the socket closes and the dialplan's next step (staff) runs
            raise ProtocolError(f"{len(self.runtime.calls)} calls up (IVR_MAX_CALLS); not answering {call_id}")
        settings = self.runtime.settings
        transport = AudioSocketTransport(writer, call_id, self.ami, settings.ami_staff_context, self.linger_s)
        call = VoiceCall(self.runtime.session(call_id), self.runtime.speech, transport, pace=self.pace)
        transport.call = call
        if self.ami is not None:
            transport.lookup = asyncio.create_task(self._learn_channel(call))
        self.transports[call_id] = transport
        self.runtime.calls[call_id] = call
        log.info("AudioSocket call %s answered", call_id)
        return transport, call

    async def _learn_channel(self, call: VoiceCall) -> AmiChannel | None:
        """The caller's channel (for Redirect/Setvar) and number (Asterisk sends no caller ID here)."""
        assert self.ami is not None
        channel = await self.ami.find_channel(call.session.call_id)
        if channel is not None and channel.caller_number:
            call.session.state.caller_number = channel.caller_number
        return channel

    async def _finish(self, call: VoiceCall | None, transport: AudioSocketTransport | None,
                      writer: asyncio.StreamWriter, broken: str) -> None:
        try:
            if call is None or transport is None:
                return
            if broken and not call.ended:  # the bot can no longer speak: staff take the caller
                await call.close()
                await transport.transfer({"reason": "carrier_error", "call_id": transport.call_id})
            elif not call.ended:  # Asterisk closed the socket or sent a hang-up: the caller is gone
                await call.hangup()
            await call.close()
            if transport.lookup is not None and not transport.lookup.done():
                transport.lookup.cancel()
        finally:
            if transport is not None:
                self.transports.pop(transport.call_id, None)
                self.runtime.calls.pop(transport.call_id, None)
                await transport.close()
            if call is not None:
                self.runtime.record_call(call.session, "audiosocket", call.records)
            with contextlib.suppress(Exception):
                writer.close()

    def _channel_hung_up(self, call_id: str) -> None:
        """AMI saw the caller's channel hang up: end the call now, even if the socket lingers."""
        transport = self.transports.get(call_id)
        if transport is None or transport.call is None or transport.call.ended:
            return
        task = asyncio.create_task(transport.call.hangup(), name=f"hangup-{call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        transport.abort()
