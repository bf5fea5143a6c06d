"""Gather-mode calls in progress: their dialogue state by CallSid, and which of them are still up.

In gather mode Twilio holds the call and we only see it in webhooks: between two of them no socket,
no task, nothing in ``runtime.calls``. Yet such a call is in progress — its caller is listening to
our reply or talking, and Twilio will POST ``/twilio/gather`` again in a few seconds. The drain on
SIGTERM (``ivr/server/shutdown.py``) must wait for that webhook (to answer it with the hand-over,
not leave it to find no server), and ``ivr_active_calls`` must count the call.

A call is in progress from its first webhook until an ending TwiML (``<Dial>``, ``<Hangup>``) or the
status callback removes it. A caller who hangs up on a number without a status callback leaves no
trace, so a call whose last webhook is older than the longest gap between two webhooks
(``GatherSessions.live_s``) no longer counts as in progress; its dialogue state is kept longer
(``idle_s``), for a webhook that still comes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ivr.config import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivr.dialogue.session import CallSession

SESSION_IDLE_S = 1800.0  # a gather session unused this long is dropped even without a status callback
# Longest gap between two webhooks of a live call, besides Twilio's no-input timeout: our longest reply
# played out (the greeting and menu, ~25 s) + a caller's long turn (~15 s) + Twilio's recognition, rounded up.
TURN_GAP_S = 45.0


def live_window_s(no_input_timeout_ms: int) -> float:
    """How long after its last webhook a gather call still counts as in progress."""
    return TURN_GAP_S + no_input_timeout_ms / 1000


# with IVR_NO_INPUT_TIMEOUT_MS's default; the Twilio routes set the server's own
DEFAULT_LIVE_S = live_window_s(Settings.model_fields["no_input_timeout_ms"].default)


class GatherSessions:
    """Gather-mode dialogue state by CallSid, between webhooks (Twilio holds the call, we the talk)."""

    def __init__(self, idle_s: float = SESSION_IDLE_S, live_s: float = DEFAULT_LIVE_S) -> None:
        self.idle_s = idle_s
        self.live_s = live_s
        self._sessions: dict[str, tuple[CallSession, float]] = {}
        self.on_expire: Callable[[CallSession], object] | None = None  # the runtime records a dropped call

    def get(self, call_sid: str) -> CallSession | None:
        """The call's session (None if unknown or expired); a webhook came: the call is live again."""
        now = time.monotonic()
        for sid in [sid for sid, (_, used) in self._sessions.items() if now - used > self.idle_s]:
            session = self._sessions.pop(sid)[0]
            if self.on_expire is not None:
                self.on_expire(session)
        hit = self._sessions.get(call_sid)
        if hit is None:
            return None
        self._sessions[call_sid] = (hit[0], now)
        return hit[0]

    def put(self, call_sid: str, session: CallSession) -> None:
        self._sessions[call_sid] = (session, time.monotonic())

    def pop(self, call_sid: str) -> CallSession | None:
        hit = self._sessions.pop(call_sid, None)
        return hit[0] if hit is not None else None

    def in_progress(self) -> list[str]:
        """CallSids of the calls still up: a webhook within ``live_s`` and no ending yet."""
        now = time.monotonic()
        return [sid for sid, (_, used) in list(self._sessions.items()) if now - used <= self.live_s]

    def __contains__(self, call_sid: object) -> bool:
        return call_sid in self._sessions
