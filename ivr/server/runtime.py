"""What every call on this server shares: the models, the ticket queue, the staff line.

Loaded once at start-up (models take seconds); each call then gets its own ``CallSession``
(dialogue state) and, for audio carriers, its own ``VoiceCall`` (endpointer, VAD, playback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from analytics.metrics import CallMetrics
from analytics.recorder import TRANSPORTS, RecordedSession
from analytics.store import CallLog
from escalation.accounts import StaffAccounts
from escalation.notify import Notifier, NotifyingQueue
from escalation.policy import RoutingPolicy
from escalation.privacy import mask_number
from escalation.staff import OfficeHoursStaffLine, StaffLine
from escalation.store import TicketStore
from escalation.tickets import TicketQueue
from ivr.config import Settings, get_settings
from ivr.dialogue.session import CallSession
from ivr.dialogue.state import Brain
from ivr.speech.services import SpeechServices
from ivr.speech.voice_call import VoiceCall

if TYPE_CHECKING:
    from analytics.records import CallRecord
    from ivr.speech.turn_record import TurnRecord

log = logging.getLogger(__name__)


def _no_calls() -> list[str]:
    return []


@dataclass
class Runtime:
    settings: Settings
    brain: Brain
    speech: SpeechServices
    tickets: TicketQueue
    staff: StaffLine
    clock: Callable[[], datetime]
    calls: dict[str, VoiceCall] = field(default_factory=dict)  # live audio calls by carrier call id
    # Twilio gather calls between webhooks (CallSids): in no socket, yet in progress; the Twilio routes set it
    gather_calls: Callable[[], list[str]] = _no_calls
    store: TicketStore | None = None  # the durable store behind ``tickets`` (None: an in-memory queue, tests)
    accounts: StaffAccounts | None = None  # staff logins for the console (same database)
    draining: bool = False  # SIGTERM received (ivr/server/shutdown.py): new calls go straight to staff
    call_log: CallLog | None = None  # one record per call for the figures (same database; None: not kept)
    metrics: CallMetrics = field(default_factory=CallMetrics)  # GET /metrics
    saving: set[asyncio.Task[None]] = field(default_factory=set)  # call records being written

    @classmethod
    def load(cls, settings: Settings | None = None, speech: SpeechServices | None = None) -> Runtime:
        settings = settings or get_settings()
        brain = Brain.load(settings.data_dir, settings.embedding_model, settings.cache_dir)
        tz = ZoneInfo(brain.kb.municipality.timezone)
        brain.nlu.parse("あの、冷蔵庫は何ごみですか", datetime.now(tz).date())  # lazy parts load now, not mid-call
        hours = brain.kb.municipality.business_hours
        staff: StaffLine = OfficeHoursStaffLine(hours)
        if settings.ami_host:  # Asterisk: office hours AND someone logged into the staff queue
            from escalation.asterisk_staff import AsteriskStaffLine

            staff = AsteriskStaffLine.from_settings(settings, hours)
        store = TicketStore.from_settings(settings)  # SQLite: upgraded here; PostgreSQL: `ivr db upgrade` first
        log.info("ticket store: %s", store.engine.url.render_as_string(hide_password=True))
        return cls(
            settings=settings,
            brain=brain,
            speech=speech or SpeechServices.load(settings),
            tickets=NotifyingQueue(store, Notifier.from_settings(settings)),
            store=store,
            accounts=StaffAccounts(store.engine),
            call_log=CallLog(store.engine),
            staff=staff,
            clock=lambda: datetime.now(tz),
        )

    def session(self, call_id: str | None = None, caller_number: str = "") -> CallSession:
        # This server's settings (IVR_STAFF_AVAILABLE …), not the process environment's: tests and
        # embedders run several runtimes in one process. Empty target fields are the carrier's to fill.
        policy = RoutingPolicy.from_kb(self.brain.kb, self.staff, self.settings, defaults=False)
        return RecordedSession(self.brain, self.tickets, self.staff, self.clock, call_id=call_id,
                               caller_number=caller_number, policy=policy)

    async def end_call(self, call_id: str, call: VoiceCall) -> None:
        """A carrier's connection is gone: the call ends with it (as a caller's hang-up if it was
        still live, so a ticket being taken is kept) and leaves ``calls``, whatever fails."""
        try:
            if not call.ended:
                await call.hangup()
            await call.close()
        except Exception:
            log.exception("call %s: error while ending the call", call_id)
        finally:
            if self.calls.get(call_id) is call:
                del self.calls[call_id]
            self.record_call(call.session, TRANSPORTS.get(type(call.transport).__name__, "audio"), call.records)

    def record_call(self, session: CallSession, transport: str, voice_records: list[TurnRecord] | None = None,
                    idle: bool = False) -> asyncio.Task[None] | None:
        """A call is over: count it for /metrics and save its record in a worker thread (once per
        call; ``idle``: dropped unused, so it ended at its last turn). Never raises: a record that
        cannot be made or saved is logged, and the call was never held up for it."""
        recorder = getattr(session, "recorder", None)
        if recorder is None or recorder.recorded:
            return None
        try:
            record = recorder.record(transport, session.state.caller_number, voice_records, at_last_turn=idle)
            self.metrics.observe(record)
        except Exception:
            log.exception("call %s: could not make its record", session.call_id)
            return None
        if self.call_log is None:
            return None
        try:
            task = asyncio.get_running_loop().create_task(self._save_record(self.call_log, record))
        except RuntimeError:  # no event loop (a sync embedder): write it here
            asyncio.run(self._save_record(self.call_log, record))
            return None
        self.saving.add(task)
        task.add_done_callback(self.saving.discard)
        return task

    async def _save_record(self, call_log: CallLog, record: CallRecord) -> None:
        try:
            await asyncio.to_thread(call_log.save, record)
        except Exception:
            self.metrics.errors.labels("record_save").inc()
            log.exception("call %s: its record was not saved", record.call_id)

    async def drain_records(self) -> None:
        """Wait for the call records being written (shutdown, tests)."""
        if self.saving:
            await asyncio.gather(*list(self.saving), return_exceptions=True)

    def active_calls(self) -> int:
        """Calls in progress on every carrier: audio calls and gather calls between webhooks."""
        return len(self.calls) + len(self.gather_calls())

    def full(self) -> bool:
        """As many calls as ``IVR_MAX_CALLS`` are up, or the server is stopping: a new call goes to
        staff (or is refused)."""
        return self.draining or len(self.calls) >= self.settings.max_calls

    def live_calls(self) -> list[dict[str, object]]:
        """Calls in progress, for the staff console (caller numbers masked)."""
        out: list[dict[str, object]] = []
        for carrier_id, call in list(self.calls.items()):
            state = call.session.state
            first = state.transcript[0].at if state.transcript else None
            last = next((r.reply.intent for r in reversed(call.records) if r.reply is not None), "")
            out.append({"call_id": carrier_id, "carrier": type(call.transport).__name__,
                        "started_at": first.isoformat() if first else "", "caller": mask_number(state.caller_number),
                        "turns": state.turns, "last_intent": last})
        return out

    def close(self) -> None:
        self.speech.close()
        if self.store is not None:
            self.store.dispose()
