"""What every call on this server shares: the models, the ticket queue, the staff line.

Loaded once at start-up (models take seconds); each call then gets its own ``CallSession``
(dialogue state) and, for audio carriers, its own ``VoiceCall`` (endpointer, VAD, playback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from escalation.staff import OfficeHoursStaffLine, StaffLine
from escalation.tickets import InMemoryTicketQueue, TicketQueue
from ivr.config import Settings, get_settings
from ivr.dialogue.session import CallSession
from ivr.dialogue.state import Brain
from ivr.speech.services import SpeechServices
from ivr.speech.voice_call import VoiceCall

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    brain: Brain
    speech: SpeechServices
    tickets: TicketQueue
    staff: StaffLine
    clock: Callable[[], datetime]
    calls: dict[str, VoiceCall] = field(default_factory=dict)  # live audio calls by carrier call id

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
        return cls(
            settings=settings,
            brain=brain,
            speech=speech or SpeechServices.load(settings),
            tickets=InMemoryTicketQueue(),
            staff=staff,
            clock=lambda: datetime.now(tz),
        )

    def session(self, call_id: str | None = None, caller_number: str = "") -> CallSession:
        return CallSession(self.brain, self.tickets, self.staff, self.clock, call_id=call_id,
                           caller_number=caller_number)

    def close(self) -> None:
        self.speech.close()
