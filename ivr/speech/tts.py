"""Text to telephone speech with pyopenjtalk (pyopenjtalk-plus: dictionary and voice bundled).

pyopenjtalk gives 48 kHz float audio; the line wants 8 kHz int16, so every unit is resampled
with soxr, scaled, and trimmed of the engine's ~300 ms lead/tail silence (pauses between
units are added here, at a controlled length). A reply is synthesised unit by unit (see
``sentences``) so the first one can play while the rest are made: ~27 ms + ~6.5 ms of CPU
per character, which at ≤ 18 characters a unit keeps the first audio near 150 ms.

Processes: pyopenjtalk-plus serialises its engines itself and holds the GIL while it
synthesises (two threads ran as slow as two calls in a row). On a worker thread it stalled the
event loop up to ~50 ms — longer than a 20 ms frame slot, so live calls' audio would stutter.
Calls (``stream``, and ``whole`` for gather mode's clips) therefore synthesise in shared worker
*processes* (``tts_workers``: one, or one per core when no core is Whisper's); ``synthesize`` and
``render`` (prompts built offline, tests) run in the caller's thread. A unit several replies want
at the same moment is synthesised once and shared (``_shared``).

If a worker dies (killed, out of memory), the units it was making are made in a thread here
instead (a stutter, not silence) and new workers are started; until one is ready, units are made
in threads. The apology said when a call fails is pinned in memory (``pin``), so it plays even
when synthesis itself is what failed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING

import numpy as np

from ivr.audio import codec
from ivr.language import user_dictionary
from ivr.speech import tts_workers
from ivr.speech.sentences import split_sentences, spoken_length

if TYPE_CHECKING:
    from ivr.config import Settings
    from voices.cache import VoiceCache

log = logging.getLogger(__name__)

SAMPLE_RATE = codec.SAMPLE_RATE
VOICE = "mei_normal"  # the HTS voice pyopenjtalk-plus bundles
AUDIO_FORMAT = 1  # bump when the processing below changes: it names pre-rendered audio
OUTPUT_GAIN = 0.5  # speech at ~-22 dBFS RMS, the nominal telephone level; HTS peaks (p99 1.7× FS) then fit
SILENCE_LEVEL = 300  # |sample| under this (about -40 dBFS) is the engine's lead/tail silence
EDGE_MS = 30  # silence kept at each end of a unit so trimming does not clip the first consonant
SENTENCE_PAUSE_MS = 300  # after 。！？: about what the engine itself leaves between sentences
CLAUSE_PAUSE_MS = 150  # after a unit cut at 、: a comma pause, so the cut is not heard
LRU_UNITS = 512  # uncached units kept (area/item answers recur across calls): ≤ ~25 MB at 8 kHz

# The worker pool lives in tts_workers; these names are this module's API (services, fault tests).
synthesis_executor = tts_workers.executor
shutdown_synthesis = tts_workers.shutdown
synthesis_worker_pids = tts_workers.worker_pids
_worker_ready = tts_workers.worker_ready


def render_unit(unit: str, speed: float) -> np.ndarray:
    """Synthesise one unit to 8 kHz int16 (CPU-bound: ~7 ms a character); picklable for the worker."""
    import pyopenjtalk

    if not spoken_length(unit):
        return silence(0)
    user_dictionary.ensure_installed()
    wave, rate = pyopenjtalk.tts(unit, speed=speed)
    if not len(wave):
        return silence(0)
    pcm = codec.to_int16(codec.resample(wave.astype(np.float32) * OUTPUT_GAIN, rate, SAMPLE_RATE))
    return trim(pcm)


def voice_key(speed: float) -> str:
    """Everything that changes the audio of a text: names the pre-rendered prompts' folder."""
    words = user_dictionary.ensure_installed() or "none"
    return f"{VOICE}-{version('pyopenjtalk-plus')}-speed{speed:g}-dict{words}-fmt{AUDIO_FORMAT}"


def silence(ms: int) -> np.ndarray:
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def pause_after(unit: str) -> int:
    """Milliseconds of silence after ``unit`` when more follows."""
    return CLAUSE_PAUSE_MS if unit.rstrip().endswith(("、", "，", ",")) else SENTENCE_PAUSE_MS


def trim(pcm: np.ndarray) -> np.ndarray:
    """Drop the engine's lead and tail silence, keeping EDGE_MS at each end."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > SILENCE_LEVEL)
    if not loud.size:
        return pcm[:0]
    edge = SAMPLE_RATE * EDGE_MS // 1000
    return pcm[max(loud[0] - edge, 0):loud[-1] + edge + 1]


@dataclass
class _Making:
    """One unit being synthesised, and how many replies are waiting for it."""

    task: asyncio.Task[np.ndarray]
    owner: Synthesizer  # a copy of a synthesizer (the fault tests' broken one) shares none of its work
    waiting: int = 0


class Synthesizer:
    """Replies as 8 kHz int16 audio: pre-rendered units from the voice cache, the rest synthesised.

    ``cache`` must hold this speed's voice (``voice_key(speed)``); ``rendered`` counts the
    units actually synthesised, so callers and tests can see what the caches saved.
    """

    def __init__(self, speed: float = 1.0, cache: VoiceCache | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.voice = voice_key(speed)
        if cache is not None and cache.voice != self.voice:
            raise ValueError(f"voice cache holds {cache.voice!r}, this synthesizer speaks {self.voice!r}")
        self.cache = cache
        self.rendered = 0
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pinned: dict[str, np.ndarray] = {}  # units that must play whatever fails (``pin``)
        self._making: dict[str, _Making] = {}  # units being synthesised now, shared by all who want them
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Synthesizer:
        """Speed from IVR_TTS_SPEED, prompts from IVR_VOICES_DIR (default <cache_dir>/voices)."""
        from ivr.config import get_settings
        from voices.cache import VoiceCache

        settings = settings or get_settings()
        directory = settings.voices_dir or settings.cache_dir / "voices"
        cache = VoiceCache(directory, voice_key(settings.tts_speed))
        cache.load()
        return cls(settings.tts_speed, cache)

    # --- units ---------------------------------------------------------------------------

    def cached(self, unit: str) -> np.ndarray | None:
        """A unit's audio if pinned, pre-rendered or recently synthesised; a dict lookup, no synthesis."""
        pinned = self._pinned.get(unit)
        if pinned is not None:
            return pinned
        if self.cache is not None:
            hit = self.cache.get(unit)
            if hit is not None:
                return hit
        with self._lock:
            hit = self._recent.get(unit)
            if hit is not None:
                self._recent.move_to_end(unit)
            return hit

    def pin(self, text: str) -> None:
        """Keep ``text``'s units in memory for the whole run (rendered here if not cached): what must
        be said even when the synthesis process is down, i.e. the apology before a transfer."""
        for unit in split_sentences(text):
            hit = self._pinned.get(unit)
            if hit is None:
                hit = self.cached(unit)
                self._pinned[unit] = hit if hit is not None else self.render(unit)

    def pinned(self, text: str) -> np.ndarray | None:
        """``text``'s audio from pinned units only (no synthesis, cannot fail), or None."""
        units = split_sentences(text)
        if not units or any(unit not in self._pinned for unit in units):
            return None
        return self.synthesize(text)

    def render(self, unit: str) -> np.ndarray:
        """Synthesise one unit in this thread, bypassing the caches."""
        if spoken_length(unit):
            self.rendered += 1
        return render_unit(unit, self.speed)

    def sentence_audio(self, sentence: str) -> np.ndarray:
        """One unit's audio: the caches first, else synthesised and kept for the rest of the run."""
        hit = self.cached(sentence)
        if hit is not None:
            return hit
        return self._remember(sentence, self.render(sentence))

    def _remember(self, sentence: str, pcm: np.ndarray) -> np.ndarray:
        with self._lock:
            self._recent[sentence] = pcm
            self._recent.move_to_end(sentence)
            while len(self._recent) > LRU_UNITS:
                self._recent.popitem(last=False)
        return pcm

    async def _render_elsewhere(self, unit: str) -> np.ndarray:
        executor = synthesis_executor()
        pcm = None
        if _worker_ready.is_set():
            try:
                pcm = await asyncio.get_running_loop().run_in_executor(executor, render_unit, unit, self.speed)
            except BrokenProcessPool:
                log.warning("a TTS worker process died; starting others, this unit is made here")
                tts_workers.replace_broken(executor)
        if pcm is None:  # the worker is (re)starting: a thread now beats silence until it is ready
            pcm = await asyncio.to_thread(render_unit, unit, self.speed)
        if spoken_length(unit):
            self.rendered += 1
        return self._remember(unit, pcm)

    async def _shared(self, unit: str) -> np.ndarray:
        """``unit`` from the worker, made once however many calls want it at the same moment (50
        callers asking about the same town all wait for one synthesis). Cancelled by the last
        caller still waiting (a barge-in), the synthesis is cancelled too."""
        loop = asyncio.get_running_loop()
        making = self._making.get(unit)
        if making is None or making.owner is not self or making.task.get_loop() is not loop:
            making = _Making(loop.create_task(self._render_elsewhere(unit)), self)
            self._making[unit] = making
            making.task.add_done_callback(lambda _, m=making: self._done_making(unit, m))
        making.waiting += 1
        try:
            return await asyncio.shield(making.task)
        finally:
            making.waiting -= 1
            if not making.waiting and not making.task.done():
                making.task.cancel()
                self._done_making(unit, making)  # whoever wants it next starts it again

    def _done_making(self, unit: str, making: _Making) -> None:
        if self._making.get(unit) is making:
            del self._making[unit]

    # --- whole replies -----------------------------------------------------------------------

    def synthesize(self, text: str) -> np.ndarray:
        """The whole reply, units joined with their pauses ('' → empty audio)."""
        units = split_sentences(text)
        return _joined(units, [self.sentence_audio(unit) for unit in units])

    def synthesize_ulaw(self, text: str) -> bytes:
        return codec.ulaw_encode(self.synthesize(text))

    async def whole(self, text: str) -> np.ndarray:
        """The whole reply, equal to ``synthesize(text)``, for a caller that plays nothing until it
        has all of it (Twilio's <Play> of a clip): every missing unit is asked of the workers at
        once, so they share them out, and a reply waits once in the queue, not once per unit."""
        units = split_sentences(text)
        return _joined(units, await asyncio.gather(*(self._unit_now(unit) for unit in units)))

    async def _unit_now(self, unit: str) -> np.ndarray:
        hit = self.cached(unit)
        return hit if hit is not None else await self._shared(unit)

    async def stream(self, text: str) -> AsyncIterator[np.ndarray]:
        """Yield each unit's audio (with the pause that follows it) as soon as it is ready.

        The next unit is synthesised while the current one plays; cached units come without
        a trip to the worker. Joined, the chunks equal ``synthesize(text)``. Closing the
        generator early (barge-in) cancels the unit not yet started.
        """
        units = split_sentences(text)
        loop = asyncio.get_running_loop()

        def start(i: int) -> asyncio.Future[np.ndarray]:
            hit = self.cached(units[i])
            if hit is not None:
                done: asyncio.Future[np.ndarray] = loop.create_future()
                done.set_result(hit)
                return done
            return asyncio.ensure_future(self._shared(units[i]))

        upcoming = start(0) if units else None
        try:
            for i, unit in enumerate(units):
                assert upcoming is not None
                audio = await upcoming
                last = i == len(units) - 1
                upcoming = None if last else start(i + 1)
                yield audio if last else np.concatenate([audio, silence(pause_after(unit))])
        finally:
            if upcoming is not None:
                upcoming.cancel()


def _joined(units: list[str], audio: list[np.ndarray]) -> np.ndarray:
    """Each unit's audio followed by the pause after it (none after the last); '' → empty audio."""
    parts: list[np.ndarray] = []
    for i, (unit, pcm) in enumerate(zip(units, audio, strict=True)):
        parts.append(pcm)
        if i < len(units) - 1:
            parts.append(silence(pause_after(unit)))
    return np.concatenate(parts) if parts else silence(0)
