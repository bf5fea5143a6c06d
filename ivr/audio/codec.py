"""Telephone audio helpers: G.711 μ-law, 20 ms frames, resampling and WAV files.

Everything on the line is 8 kHz mono; these helpers are the one place where other rates,
sample formats and channel layouts are turned into that. ``audioop`` (which did μ-law) is
gone from Python 3.13, so μ-law is done here with numpy lookup tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 8000  # telephone narrowband (G.711)
FRAME_MS = 20  # the packet size of RTP telephony (Twilio media streams, Asterisk)
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160

INT16_MIN, INT16_MAX = -32768, 32767

# G.711 μ-law constants, on the 14-bit magnitude scale the standard is defined on.
_ULAW_BIAS = 33  # 0x84 >> 2
_ULAW_CLIP = 0x1FFF - _ULAW_BIAS  # largest magnitude before the bias
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def _build_ulaw_tables() -> tuple[np.ndarray, np.ndarray]:
    """All 65536 int16 → code and all 256 code → int16 mappings, computed once.

    Written here because no maintained library does μ-law since ``audioop`` left the standard
    library. Negative samples are scaled by truncating division (``-x // 4`` towards zero), as
    libsndfile (soundfile) does; ITU G.191 rounds 127 of the 65536 inputs one step differently,
    both being G.711 within its 14-bit resolution. Tests hold this to soundfile exactly.
    """
    x = np.arange(INT16_MIN, INT16_MAX + 1, dtype=np.int32)
    magnitude = np.minimum(np.abs(x) >> 2, _ULAW_CLIP) + _ULAW_BIAS
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude)
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0xF)
    encode = (np.where(x < 0, 0x7F, 0xFF) ^ code).astype(np.uint8)

    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x7, u & 0xF
    value = (((mantissa << 3) + 0x84) << exponent) - 0x84
    decode = np.where(u & 0x80, -value, value).astype(np.int16)
    return encode, decode


_ULAW_ENCODE, _ULAW_DECODE = _build_ulaw_tables()


def _as_int16(pcm: np.ndarray) -> np.ndarray:
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16:
        raise TypeError(f"expected int16 samples, got {pcm.dtype}")
    return pcm


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 samples → G.711 μ-law bytes (one byte per sample)."""
    return _ULAW_ENCODE[_as_int16(pcm).astype(np.int32) - INT16_MIN].tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes → int16 samples."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples on the int16 scale → int16, rounded and clipped rather than wrapped."""
    return np.clip(np.rint(samples), INT16_MIN, INT16_MAX).astype(np.int16)


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample with soxr (1-D mono or 2-D frames × channels).

    int16 in → int16 out (computed in float so overshoot near full scale clips instead of
    wrapping); float in → float out of the same dtype.
    """
    pcm = np.asarray(pcm)
    if src_rate == dst_rate:
        return pcm.copy()
    if pcm.dtype == np.int16:
        return to_int16(soxr.resample(pcm.astype(np.float32), src_rate, dst_rate))
    if not np.issubdtype(pcm.dtype, np.floating):
        raise TypeError(f"expected int16 or float samples, got {pcm.dtype}")
    return soxr.resample(pcm, src_rate, dst_rate).astype(pcm.dtype, copy=False)


def frames(pcm: np.ndarray) -> Iterator[np.ndarray]:
    """20 ms frames of 160 int16 samples; the last one is padded with silence."""
    pcm = _as_int16(pcm)
    for start in range(0, len(pcm), FRAME_SAMPLES):
        frame = pcm[start:start + FRAME_SAMPLES]
        if len(frame) < FRAME_SAMPLES:
            frame = np.concatenate([frame, np.zeros(FRAME_SAMPLES - len(frame), dtype=np.int16)])
        yield frame


def pcm16_to_bytes(pcm: np.ndarray) -> bytes:
    """int16 samples → little-endian bytes (the wire format of linear16 media streams)."""
    return _as_int16(pcm).astype("<i2", copy=False).tobytes()


def bytes_to_pcm16(data: bytes) -> np.ndarray:
    """Little-endian 16-bit bytes → int16 samples (a writable copy in native byte order)."""
    if len(data) % 2:
        raise ValueError(f"16-bit audio needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def read_wav(path: Path | str) -> np.ndarray:
    """Any file soundfile reads (PCM16, μ-law, float; any rate; stereo) → mono int16 at 8 kHz."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1) * 32768.0
    return to_int16(resample(mono, rate, SAMPLE_RATE))


def write_wav(path: Path | str, pcm: np.ndarray, rate: int = SAMPLE_RATE, ulaw: bool = False) -> None:
    """Write mono int16 samples (already at ``rate``) as 16-bit PCM or μ-law WAV."""
    sf.write(str(path), _as_int16(pcm), rate, subtype="ULAW" if ulaw else "PCM_16", format="WAV")
