"""Bad telephone lines for the call-success bench: the noise and damage real callers' lines carry.

Unlike bench/turn_set.py's steady hiss and rumble, the noise here is what is around a caller:
babble (other people talking: several synthetic voices at once, unrelated sentences), a street or
a car (low-frequency rumble whose level drifts, with passing swells), and a little hiss. On the
noisy conditions the line also damages the voice itself: level dips (the phone turned away), and
packet-loss gaps of 20–60 ms (a mobile or VoIP leg dropping frames, no concealment). Every line is
band-limited, half of the calls to a mobile codec's narrower band (AMR-NB-like, 300–3000 Hz), the
rest to the telephone band, then 8 kHz μ-law. Deterministic (seeded); made by script, never
committed as audio.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyopenjtalk
from scipy.signal import butter, sosfilt

from ivr.audio.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

CONDITIONS = {"clean": None, "20": 20.0, "10": 10.0}  # name → SNR (dB) against the nominal speech level
SPEECH_RMS_DBFS = -24.0  # the nominal speech level (as bench/turn_set.py levels its voices)
NOISE_MIX = {"babble": 0.4, "street": 0.45, "hiss": 0.15}  # shares of noise power
BABBLE_TALKERS = 4  # voices at once: fewer sounds like one neighbour (words Whisper would write), more like hiss
BABBLE_S = 11.0  # the babble bed's length, looped (not a multiple of a frame or of the noise loop)
STREET_SWELL_S = (3.0, 7.0)  # a passing car every few seconds: the rumble swells by up to 6 dB
LANDLINE_BAND_HZ = (300.0, 3400.0)
MOBILE_BAND_HZ = (300.0, 3000.0)  # a narrowband mobile codec's effective band
DIP_CHANCE = 0.3  # noisy lines: some utterances of a second or more have a quiet stretch …
DIP_MS = (200, 400)  # … this long …
DIP_DB = (6.0, 12.0)  # … this much down (the phone turned away; 15–20 dB erased half of a short word)
DIP_MIN_S = 1.0  # a one-word answer is said into the phone
LOSS_PER_S = 0.5  # noisy lines: packet-loss bursts per second of speech, on average
LOSS_MS = (20, 60)  # a burst drops one to three 20 ms frames

BABBLE_TEXTS = [  # what the people around the caller are saying: nothing about garbage
    "きのうの試合は最後まで見ましたか",
    "駅前に新しいパン屋さんができたそうです",
    "来週の会議は午後からに変更になりました",
    "子どもたちは公園で遊んでいますよ",
    "この電車は次の駅で急行の通過を待ちます",
    "今日は少し寒いので上着を持っていきます",
    "お昼ごはんは何にしようかと考えています",
    "週末は家族で買い物に行く予定です",
]


def _band(band: tuple[float, float]) -> np.ndarray:
    return butter(6, band, btype="bandpass", fs=SAMPLE_RATE, output="sos")


def _db(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(max(float(np.mean(x**2)), 1e-12))


@cache
def _babble_bed() -> np.ndarray:
    """``BABBLE_TALKERS`` voices at once, each speaking the babble sentences in its own order,
    speed and pitch, looped to ``BABBLE_S``: unit power at 8 kHz."""
    n = int(BABBLE_S * SAMPLE_RATE)
    bed = np.zeros(n)
    rng = np.random.default_rng(4242)
    for _ in range(BABBLE_TALKERS):
        parts = []
        for text in rng.permutation(BABBLE_TEXTS):
            audio, rate = pyopenjtalk.tts(str(text), speed=float(rng.uniform(0.9, 1.2)),
                                          half_tone=float(rng.uniform(-4, 4)))
            parts.append(resample(np.asarray(audio, np.float32) / 32768.0, rate, SAMPLE_RATE))
            parts.append(np.zeros(int(rng.uniform(0.1, 0.5) * SAMPLE_RATE)))
        voice = np.concatenate(parts)
        voice = np.roll(np.resize(voice, n), int(rng.integers(0, n)))
        bed += _unit(voice) * _db(float(rng.uniform(-4, 0)))
    return _unit(bed)


def noise(n: int, condition: str, seed: int, band: tuple[float, float] = LANDLINE_BAND_HZ) -> np.ndarray:
    """``n`` samples of the noise around a caller at ``condition``'s SNR (zeros when clean)."""
    snr = CONDITIONS[condition]
    if snr is None:
        return np.zeros(n)
    rng = np.random.default_rng(seed)
    bed = _babble_bed()
    babble = np.take(bed, np.arange(n) + int(rng.integers(0, len(bed))), mode="wrap")
    street = np.cumsum(rng.standard_normal(n))
    street -= np.convolve(street, np.ones(801) / 801, mode="same")  # brown noise without its drift
    t = np.arange(n) / SAMPLE_RATE
    period = float(rng.uniform(*STREET_SWELL_S))
    street *= _db(6.0) ** (0.5 + 0.5 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)))
    hiss = rng.standard_normal(n)
    out = np.zeros(n)
    for share, part in zip(NOISE_MIX.values(), (babble, street, hiss), strict=True):
        out += _unit(sosfilt(_band(band), part)) * np.sqrt(share)
    return out * _db(SPEECH_RMS_DBFS - snr)


def damage(voice: np.ndarray, condition: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The voice as a noisy line delivers it: maybe a level dip; packet-loss gaps are cut later,
    on the mixed line. Clean lines leave it alone."""
    if CONDITIONS[condition] is None or rng.random() >= DIP_CHANCE or len(voice) < DIP_MIN_S * SAMPLE_RATE:
        return voice, ""
    ms = SAMPLE_RATE // 1000
    length = int(rng.integers(*DIP_MS)) * ms
    depth = float(rng.uniform(*DIP_DB))
    at = int(rng.uniform(0.3, 0.7) * len(voice)) - length // 2
    gain = np.ones(len(voice))
    gain[max(0, at) : at + length] = _db(-depth)
    return voice * gain, f"dip {length // ms}ms -{depth:.0f}dB"


def packet_loss(pcm: np.ndarray, start: int, end: int, condition: str,
                rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Zero whole 20 ms frames in bursts across the speech (``start``..``end``): what a jitter
    buffer with no concealment plays. Clean lines lose nothing. Returns the line and the frames lost."""
    if CONDITIONS[condition] is None:
        return pcm, 0
    frame = SAMPLE_RATE // 50
    out = pcm.copy()
    seconds = (end - start) / SAMPLE_RATE
    lost = 0
    for _ in range(int(rng.poisson(LOSS_PER_S * seconds))):
        frames = int(rng.integers(LOSS_MS[0] // 20, LOSS_MS[1] // 20 + 1))
        at = (int(rng.integers(start, max(start + 1, end))) // frame) * frame
        out[at : at + frames * frame] = 0
        lost += frames
    return out, lost


def on_line(voice: np.ndarray, condition: str, seed: int, mobile: bool, lead_ms: int = 500,
            tail_ms: int = 200) -> tuple[np.ndarray, int, int, str]:
    """A levelled 8 kHz voice (float, as bench/turn_set.py makes it) said on a bad line: int16 after
    μ-law, where its audible part is (sample indices), and what was done to it."""
    rng = np.random.default_rng(seed)
    band = MOBILE_BAND_HZ if mobile else LANDLINE_BAND_HZ
    said, detail = damage(sosfilt(_band(band), voice), condition, rng)
    lead, tail = lead_ms * SAMPLE_RATE // 1000, tail_ms * SAMPLE_RATE // 1000
    padded = np.concatenate([np.zeros(lead), said, np.zeros(tail)])
    mixed = padded + noise(len(padded), condition, seed + 1, band)
    pcm = np.clip(np.rint(mixed * 32767.0), -32768, 32767).astype(np.int16)
    start, end = lead, lead + len(said)
    pcm, lost = packet_loss(pcm, start, end, condition, rng)
    if lost:
        detail = f"{detail} lost {lost * 20}ms".strip()
    return ulaw_decode(ulaw_encode(pcm)), start, end, detail


def line_loop(condition: str, seed: int, mobile: bool, seconds: float = 7.3) -> np.ndarray:
    """The line's noise while the caller is quiet (int16 after μ-law), looped by the call drivers."""
    band = MOBILE_BAND_HZ if mobile else LANDLINE_BAND_HZ
    pcm = np.clip(np.rint(noise(int(seconds * SAMPLE_RATE), condition, seed, band) * 32767.0), -32768, 32767)
    return ulaw_decode(ulaw_encode(pcm.astype(np.int16)))
