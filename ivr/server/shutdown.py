"""Stopping `ivr serve` (SIGTERM, SIGINT) without dropping a caller.

uvicorn's own handling closes the listening socket and every websocket at once: a Twilio caller
mid-call would be cut off, and the request Twilio then makes to the ``<Connect action>`` URL (which
sends a caller to staff) would find no server. So the first signal only starts a drain:

1. new calls go straight to staff (``Runtime.draining``: /twilio/voice answers ``<Dial>``, AudioSocket
   and the browser call refuse, as when the server is full);
2. calls in progress go on for up to ``IVR_SHUTDOWN_GRACE_S``: most end by themselves;
3. those still up are handed on (``VoiceCall.hand_over``): the apology, then staff — or a ticket
   taken when no one is in — as on a failure, with ``HANDOVER_S`` to get off the line; any still
   there then are transferred without a word;
4. the server answers HTTP ``AFTER_STREAM_S`` longer, for Twilio to fetch the ``<Dial>`` of the
   streams just closed; then uvicorn's own shutdown runs (the app lifespan: AudioSocket, AMI) and
   the process exits 0.

Twilio gather calls (``Runtime.gather_calls``) live in no socket: we cannot speak to them, only answer
their next webhook. From step 1 that answer is the hand-over (``twilio_voice``), and steps 2–3 wait
for them as for the audio calls (grace, then ``HANDOVER_S``): a call whose caller is still hearing
a long reply gets its webhook answered, not refused by a server gone. One that sends none by then
(the caller hung up and the number has no status callback) is let go. Step 4 then covers Twilio's
fetch of the apology clip the last answer named.

The whole stop is bounded: grace + ``HANDOVER_S`` + ``AFTER_STREAM_S`` (~37 s by default), within
systemd's 90 s; give Docker a ``stop_grace_period`` of that. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from ivr.server.runtime import Runtime

log = logging.getLogger(__name__)

HANDOVER_S = 15.0  # the apology and the transfer notice take ~6 s to say; a ticket's number read back ~10 s
AFTER_STREAM_S = 2.0  # Twilio asks the <Connect> action URL as soon as a stream's socket closes
POLL_S = 0.1
HANDOVER_REASON = "shutdown"


async def drain(runtime: Runtime, grace_s: float, *, handover_s: float = HANDOVER_S,
                after_s: float = AFTER_STREAM_S) -> None:
    """Steps 1–4 above; returns when the server may stop serving."""
    runtime.draining = True
    had_calls = runtime.active_calls() > 0
    log.info("stopping: %d call(s) in progress (%d Twilio gather), new calls go to staff; waiting up to %g s "
             "for them to end", runtime.active_calls(), len(runtime.gather_calls()), grace_s)
    await _until_no_calls(runtime, grace_s)
    for call_id, call in list(runtime.calls.items()):
        log.info("call %s: handed on (the server is stopping)", call_id)
        call.hand_over(HANDOVER_REASON)
    await _until_no_calls(runtime, handover_s)
    for call_id, call in list(runtime.calls.items()):  # stuck (a hung turn): staff, without a word
        log.warning("call %s: still up after the handover; transferring it now", call_id)
        with contextlib.suppress(Exception):
            await call.close()
            await call.transport.transfer({"reason": f"{HANDOVER_REASON}:no_speech", "call_id": call_id})
    for call_sid in runtime.gather_calls():  # no webhook in grace + HANDOVER_S: most likely hung up
        log.warning("call %s (gather): no webhook since the stop began; leaving it", call_sid)
    if had_calls:
        await asyncio.sleep(after_s)
    log.info("stopping: no calls left")


async def _until_no_calls(runtime: Runtime, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while runtime.active_calls() and loop.time() < deadline:
        await asyncio.sleep(POLL_S)


class GracefulServer(uvicorn.Server):
    """uvicorn, with ``drain`` between the first stop signal and uvicorn's own shutdown."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.signalled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def serve(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """A signal handler (main thread, between two bytecodes of the loop): only schedules work.
        Not recorded as uvicorn would: it re-raises recorded signals at exit, and a drained stop
        is a clean one (exit status 0)."""
        if self.signalled or self._loop is None or not self.started:
            self.should_exit = True  # a second signal, or one before start-up finished: stop now
            return
        self.signalled = True
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        grace = self.runtime.settings.shutdown_grace_s
        self._drain = asyncio.create_task(drain(self.runtime, grace), name="drain")
        self._drain.add_done_callback(self._drained)

    def _drained(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("stopping: the drain failed", exc_info=task.exception())
        self.should_exit = True
