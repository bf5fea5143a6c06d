"""Sending on a call's websocket from several tasks at once, without ever raising.

The Twilio media stream and the browser test call both answer on the socket the call came in on,
from three places (the player's paced frames, the call's worker, the receive loop). One lock keeps
their messages whole and in order; a send on a dead socket only marks it closed, because the
receive loop is the one that notices a hang-up and ends the call, and the player must not die of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import WebSocket

log = logging.getLogger(__name__)


class SocketSender:
    """The send side of one call's websocket; carriers' transports build on it."""

    def __init__(self, websocket: WebSocket, call_id: str) -> None:
        self.websocket = websocket
        self.call_id = call_id
        self.closed = False
        self._lock = asyncio.Lock()

    async def _send(self, message: str | bytes) -> None:
        if self.closed:
            return
        try:
            async with self._lock:
                if isinstance(message, bytes):
                    await self.websocket.send_bytes(message)
                else:
                    await self.websocket.send_text(message)
        except Exception as e:  # the socket is gone; the receive loop ends the call
            log.info("call %s: send failed (%s); the socket is closing", self.call_id, e)
            self.closed = True

    async def close(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        async with self._lock:
            with contextlib.suppress(Exception):
                await self.websocket.close(code)
