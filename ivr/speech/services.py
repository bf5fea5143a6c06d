"""The speech models every call shares, loaded once per process.

Whisper (~150 MB) and the voice cache are loaded once and shared; only the endpointer and VAD
state are per call. ``SpeechServices.load`` is slow (a few seconds: the Whisper model, the
voice cache), so servers do it at start-up, before the first call rings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.config import Settings, get_settings
from ivr.dialogue import prompts
from ivr.speech import tts_workers
from ivr.speech.asr_pool import AsrPool
from ivr.speech.endpoint import EndpointConfig
from ivr.speech.tts import Synthesizer, render_unit, shutdown_synthesis, synthesis_executor
from ivr.speech.turn_joining import JoinConfig
from ivr.speech.turn_log import TurnLog

if TYPE_CHECKING:
    from ivr.knowledge.base import KnowledgeBase
    from ivr.speech.prerender import Prerenderer

log = logging.getLogger(__name__)

# What a caller hears when a call fails, before staff take it. Pinned in memory at load: it must
# play even when synthesis is the thing that failed (the system-error transfer says exactly this).
APOLOGY = prompts.SYSTEM_ERROR + prompts.TRANSFERRING


@dataclass
class SpeechServices:
    asr: AsrPool
    tts: Synthesizer
    endpoint: EndpointConfig
    join: JoinConfig = field(default_factory=lambda: JoinConfig.from_settings(get_settings()))
    turn_log: TurnLog | None = None
    prerenderer: Prerenderer | None = None  # item answers being rendered in the background

    @classmethod
    def load(cls, settings: Settings | None = None) -> SpeechServices:
        settings = settings or get_settings()
        tts_workers.configure(tts_workers.workers_for(settings))
        synthesis_executor().submit(render_unit, "あ", 1.0).result()  # start the TTS processes now, not mid-call
        asr = AsrPool.from_settings(settings)
        # The first decode sets up CTranslate2's buffers and stalled the whole process ~300 ms:
        # pay that here, before any call's audio is flowing.
        asr.transcriber.transcribe(render_unit("ごみの日", 1.0))
        tts = Synthesizer.from_settings(settings)
        tts.pin(APOLOGY + prompts.TICKET_FAILED)  # …and the transfer when the ticket store is down
        return cls(
            asr=asr,
            tts=tts,
            endpoint=EndpointConfig.from_settings(settings),
            join=JoinConfig.from_settings(settings),
            turn_log=TurnLog(settings.turn_log) if settings.turn_log else None,
        )

    def prerender_answers(self, kb: KnowledgeBase) -> None:
        """Start rendering the item answers the voice cache lacks, in the background (``prerender``)."""
        from ivr.speech.prerender import Prerenderer, answer_texts

        self.prerenderer = Prerenderer(self.tts)
        self.prerenderer.start(answer_texts(kb))

    def close(self) -> None:
        if self.prerenderer is not None:
            self.prerenderer.stop()
        log.info("speech synthesis: %d units synthesised this run", self.tts.rendered)
        self.asr.close(wait=False)
        shutdown_synthesis()
