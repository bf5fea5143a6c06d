"""The browser test call's websocket protocol as plain data: what the page sends, what we send.

The page (``/call``) captures the microphone with an AudioWorklet and sends it as it is, at the
browser's own rate: one binary message per 20 ms of 16-bit little-endian mono PCM. Control is
JSON text. The server does the telephone part (soxr down to 8 kHz, G.711 μ-law and back) so the
bot hears exactly what a phone caller's audio would give it, and sends its own voice back as
the 8 kHz frames a carrier would get (the browser resamples them for playback).

Page → server (text): ``start`` {rate}, ``dtmf`` {digit}, ``text`` {text}, ``mark`` {prompt}
(a prompt has finished playing, as Twilio's marks come back), ``hangup``. Binary: audio frames.
Server → page (text): ``ready``, ``turn``, ``prompt_done``, ``clear``, ``transfer``, ``hangup``,
``error``. Binary: the bot's audio, 160 int16 samples per message.

No I/O here, so the protocol is tested without sockets. Anything malformed raises
``ProtocolError``; the socket handler counts it and carries on, as the Twilio one does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soxr

from ivr.audio.codec import FRAME_SAMPLES, SAMPLE_RATE, bytes_to_pcm16, to_int16, ulaw_decode, ulaw_encode
from ivr.telephony.twilio_media import DTMF_KEYS

# The rates browsers run an AudioContext at (Chrome's default follows the sound card: 44.1 or
# 48 kHz; a page may ask for 16 kHz). Anything else is refused rather than guessed at.
BROWSER_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
FRAME_MS = 20  # one message of caller audio: the same 20 ms a phone carrier sends
MAX_TEXT_CHARS = 4096  # a control message is ~100 characters; a typed turn is capped below
MAX_TYPED_CHARS = 500  # a typed caller turn; the dialogue reads at most this much of a spoken one anyway
# Arrival: a token bucket of frames. Real time refills it (50 frames a second); a burst of up to
# 3 s is let through: a congested Wi-Fi link, or this server's loop held up by ASR on 2 cores
# (in the browser test a 1 s allowance dropped frames the page had sent perfectly paced). More
# than that is a client sending faster than anyone talks, and its frames are dropped.
ARRIVAL_BURST_FRAMES = 150
ARRIVAL_FRAMES_PER_S = 1000 / FRAME_MS
# soxr's streaming quality. HQ holds audio back in ~145 ms blocks (from 48 kHz it gave output only
# every 7th 20 ms frame), and the end of every caller turn waited for that; MQ every 3rd (5th from
# 16 kHz); LQ every 2nd (3rd from 16 kHz), ≤ 60 ms, with images still > 120 dB down. LQ's price is
# its passband: -0.3 dB at 3 kHz, -8 dB at 3.4 kHz, the edge of the phone band anyway.
RESAMPLE_QUALITY = "LQ"


class ProtocolError(ValueError):
    """A message that is not valid test-call protocol."""


@dataclass(frozen=True)
class Start:
    rate: int


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Typed:
    text: str


@dataclass(frozen=True)
class Mark:
    prompt: int


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # one 20 ms frame at the call's rate, checked against it by ``InboundAudio``


Message = Start | Dtmf | Typed | Mark | Hangup | Audio


def parse_message(text: str | None, data: bytes | None) -> Message:
    """One websocket message → a ``Message``; raises ``ProtocolError`` on anything else."""
    if data is not None and text is None:
        return Audio(bytes(data))
    if text is None:
        raise ProtocolError("empty message")
    if len(text) > MAX_TEXT_CHARS:
        raise ProtocolError(f"text message of {len(text)} characters (at most {MAX_TEXT_CHARS})")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"not JSON: {e.msg}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a control message must be a JSON object")
    kind = msg.get("type")
    if kind == "start":
        rate = msg.get("rate")
        if not isinstance(rate, int) or isinstance(rate, bool) or rate not in BROWSER_RATES:
            raise ProtocolError(f"start: rate must be one of {sorted(BROWSER_RATES)}, got {rate!r}")
        return Start(rate)
    if kind == "dtmf":
        digit = msg.get("digit")
        if not isinstance(digit, str) or len(digit) != 1 or digit not in DTMF_KEYS:
            raise ProtocolError(f"dtmf: digit must be one of 0-9 * #, got {digit!r}")
        return Dtmf(digit)
    if kind == "text":
        typed = msg.get("text")
        if not isinstance(typed, str) or not typed.strip():
            raise ProtocolError("text: a non-empty string is needed")
        return Typed(typed.strip()[:MAX_TYPED_CHARS])
    if kind == "mark":
        prompt = msg.get("prompt")
        if not isinstance(prompt, int) or isinstance(prompt, bool) or prompt < 0:
            raise ProtocolError(f"mark: prompt must be a prompt number, got {prompt!r}")
        return Mark(prompt)
    if kind == "hangup":
        return Hangup()
    raise ProtocolError(f"unknown message type {kind!r}")


def event(kind: str, /, **fields: object) -> str:
    """A server → page control message."""
    return json.dumps({"type": kind, **fields}, ensure_ascii=False)


class InboundAudio:
    """The caller's side of the line: browser frames in, the 8 kHz μ-law-decoded 20 ms frames a
    phone call would carry out. Streaming soxr keeps its filter state across frames, so 20 ms
    pieces resample as one continuous signal (no clicks at frame edges)."""

    def __init__(self, rate: int) -> None:
        if rate not in BROWSER_RATES:
            raise ProtocolError(f"unsupported rate {rate}")
        self.rate = rate
        self.frame_bytes = rate * FRAME_MS // 1000 * 2
        self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLE_QUALITY)
        self._pending = np.zeros(0, dtype=np.int16)

    def push(self, data: bytes) -> list[np.ndarray]:
        """One browser frame → zero or more 160-sample line frames (soxr holds a few ms back)."""
        if len(data) != self.frame_bytes:
            raise ProtocolError(
                f"audio frame of {len(data)} bytes: at {self.rate} Hz a 20 ms frame is {self.frame_bytes}"
            )
        pcm = bytes_to_pcm16(data).astype(np.float32)
        line = to_int16(self._resampler.resample_chunk(pcm))
        line = ulaw_decode(ulaw_encode(line))  # G.711, as every phone call is carried
        pending = np.concatenate([self._pending, line]) if self._pending.size else line
        n = len(pending) // FRAME_SAMPLES
        self._pending = pending[n * FRAME_SAMPLES :]
        return [pending[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


class ArrivalLimiter:
    """Frames may arrive no faster than real time, give or take ``ARRIVAL_BURST_FRAMES``."""

    def __init__(self, burst: int = ARRIVAL_BURST_FRAMES, per_s: float = ARRIVAL_FRAMES_PER_S,
                 clock: Callable[[], float] | None = None) -> None:
        self.burst = burst
        self.per_s = per_s
        self._clock = clock or time.monotonic
        self._tokens = float(burst)
        self._last = self._clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.per_s)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
