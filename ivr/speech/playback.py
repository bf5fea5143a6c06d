"""Outbound audio on a steady 20 ms clock, and what a carrier must do for the bot.

Carriers (Twilio, AudioSocket, the simulator) differ only in how a frame, a mark or a transfer
leaves this process; ``CallTransport`` is that difference. The ``Player`` owns pacing: the
phone network plays 20 ms per frame, so sending faster only fills the carrier's buffer (and a
barge-in then has more to clear), and sending late makes the caller hear gaps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ivr.audio.codec import FRAME_MS, frames

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
LATE_FRAME_MS = 40.0  # a frame this far behind its slot is an audible gap (the limit)
REANCHOR_MS = 200.0  # after a stall this long, restart the clock instead of bursting to catch up
# Each prompt's first frames go out at once, so the carrier holds this much ahead of its playout:
# a stall of the server (a CPU burst from ASR on 2 cores) up to this long is not heard. Twilio's
# `clear` and AudioSocket's short socket buffer keep barge-in as quick as before.
PLAYOUT_LEAD_MS = 200.0


class CallTransport(Protocol):
    """What a carrier does for a call; every method may be awaited from the call's tasks."""

    async def send_audio(self, frame: np.ndarray) -> None:
        """One 20 ms frame of 8 kHz int16 audio, already paced."""

    async def prompt_done(self, prompt: int) -> None:
        """The last frame of ``prompt`` was sent. Carriers that can tell when the caller heard it
        (Twilio marks) call ``VoiceCall.heard`` later; the others call it at once."""

    async def clear(self) -> None:
        """Barge-in: drop any of our audio the carrier still has buffered."""

    async def transfer(self, data: dict[str, Any]) -> None:
        """Hand the caller to staff (the spoken notice has been heard)."""

    async def hangup(self, reason: str) -> None:
        """End the call (the goodbye has been heard)."""


@dataclass
class PlayoutStats:
    """How well the clock was kept: the bench's "no frame later than 40 ms behind its slot"."""

    frames: int = 0
    late_frames: int = 0
    max_late_ms: float = 0.0
    first_audio: dict[int, float] = field(default_factory=dict)  # prompt → monotonic time of its first frame

    def record(self, late_ms: float) -> None:
        self.frames += 1
        self.max_late_ms = max(self.max_late_ms, late_ms)
        if late_ms > LATE_FRAME_MS:
            self.late_frames += 1


@dataclass(frozen=True)
class _Audio:
    prompt: int
    pcm: np.ndarray


@dataclass(frozen=True)
class _PromptEnd:
    prompt: int


class Player:
    """One per call: a queue of prompt audio in, paced frames out to the transport."""

    def __init__(
        self,
        transport: CallTransport,
        pace: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.transport = transport
        self.pace = pace
        self.stats = PlayoutStats()
        self._clock = clock
        self._sleep = sleep
        self._queue: asyncio.Queue[_Audio | _PromptEnd] = asyncio.Queue()
        self._dropped_below = 0  # prompts numbered below this were cut off by a barge-in
        self._next_slot: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="player")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def play(self, prompt: int, pcm: np.ndarray) -> None:
        self._queue.put_nowait(_Audio(prompt, pcm))

    def end_prompt(self, prompt: int) -> None:
        self._queue.put_nowait(_PromptEnd(prompt))

    async def cut(self, below: int) -> None:
        """Barge-in: forget every queued frame of prompts numbered below ``below``."""
        self._dropped_below = max(self._dropped_below, below)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._next_slot = None
        await self.transport.clear()

    @property
    def idle(self) -> bool:
        return self._queue.empty()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item.prompt < self._dropped_below:
                continue
            if isinstance(item, _PromptEnd):
                self._next_slot = None  # silence between prompts: the next one starts a new clock
                await self.transport.prompt_done(item.prompt)
                continue
            for frame in frames(item.pcm):
                if item.prompt < self._dropped_below:
                    break  # cut off mid-sentence
                await self._wait_for_slot()
                if item.prompt < self._dropped_below:
                    break  # cut while this frame waited for its slot
                self.stats.first_audio.setdefault(item.prompt, self._clock())
                await self.transport.send_audio(frame)

    async def _wait_for_slot(self) -> None:
        """Wait until PLAYOUT_LEAD_MS before this frame's playout slot; record how late it went."""
        if not self.pace:
            self.stats.record(0.0)
            return
        lead = PLAYOUT_LEAD_MS / 1000
        now = self._clock()
        if self._next_slot is None or (now - self._next_slot) * 1000 > REANCHOR_MS:
            stalled = 0.0 if self._next_slot is None else (now - self._next_slot) * 1000
            if stalled:
                log.warning("playout %.0f ms behind (audio came late or the loop stalled); clock restarted", stalled)
            self.stats.record(stalled)  # a stall counts as one late frame; the first frame is on time
            self._next_slot = now  # frame 0 plays now; the next frames up to the lead follow at once
        else:
            wait = self._next_slot - lead - now
            if wait > 0:
                await self._sleep(wait)
            if self._next_slot is None:  # cut (barge-in) while waiting: the next audio starts a new clock
                self._next_slot = self._clock()
            self.stats.record(max(0.0, (self._clock() - self._next_slot) * 1000))
        self._next_slot += FRAME_SECONDS
