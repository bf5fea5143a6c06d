"""Our own TTS audio for Twilio's <Play> in gather mode: short-lived clips behind unguessable URLs.

In gather mode Twilio plays what a URL serves, so each reply is synthesised here (the city's
voice, not Twilio's) and kept in memory as an 8 kHz μ-law WAV (what the phone line carries, so
Twilio need not transcode) until Twilio has fetched it. The id is the only key: random, 128 bits,
gone after a few minutes, so a clip cannot be guessed or fetched later by someone else.
"""

from __future__ import annotations

import io
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import soundfile as sf

from ivr.audio.codec import SAMPLE_RATE

CLIP_TTL_S = 300.0  # Twilio fetches a clip within seconds; five minutes covers a retry and a slow call leg
MAX_CLIPS = 2000  # ≈ 2000 × 5 s × 8 kB/s = 80 MB at worst; beyond that the oldest clips go first
CLIP_ID_BYTES = 16  # 128 random bits: unguessable


def ulaw_wav(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """int16 samples → a μ-law WAV file in memory (soundfile writes the header)."""
    out = io.BytesIO()
    sf.write(out, np.asarray(pcm, dtype=np.int16), rate, subtype="ULAW", format="WAV")
    return out.getvalue()


class AudioStore:
    """Clips by id, each forgotten ``ttl_s`` after it was stored."""

    def __init__(self, ttl_s: float = CLIP_TTL_S, max_clips: int = MAX_CLIPS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_clips = max_clips
        self._clock = clock
        self._clips: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def put(self, wav: bytes) -> str:
        self._expire()
        while len(self._clips) >= self.max_clips:
            self._clips.popitem(last=False)
        clip_id = secrets.token_urlsafe(CLIP_ID_BYTES)
        self._clips[clip_id] = (wav, self._clock() + self.ttl_s)
        return clip_id

    def get(self, clip_id: str) -> bytes | None:
        self._expire()
        hit = self._clips.get(clip_id)
        return hit[0] if hit is not None else None

    def __len__(self) -> int:
        return len(self._clips)

    def _expire(self) -> None:
        now = self._clock()
        while self._clips:
            oldest = next(iter(self._clips))
            if self._clips[oldest][1] > now:
                break
            del self._clips[oldest]
