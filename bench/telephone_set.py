"""A telephone test set for the speech bench: caller questions as they arrive over a phone line.

Each question is synthesised with pyopenjtalk at several speeds and pitches (so the set is not
one voice at one rate), band-limited to the telephone band (300–3400 Hz), mixed with noise at
two levels, and passed through 8 kHz μ-law — the path a caller's voice takes to the bot.
Deterministic (fixed seeds), so figures from two runs compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyopenjtalk
from scipy.signal import butter, sosfilt

from ivr.audio.codec import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

# What callers ask, in the words they use (dialect and fillers included).
QUESTIONS = [
    "冷蔵庫を捨てたいんですけど",
    "粗大ごみの申し込みをしたいです",
    "明日は何ごみの日ですか",
    "乾電池は何ごみですか",
    "スプレー缶の捨て方を教えてください",
    "燃えるごみの収集日はいつですか",
    "ペットボトルはどうやって出せばいいですか",
    "蛍光灯はどこに出せばいいですか",
    "えーと、古い自転車をほかしたいんやけど",
    "プラスチックの日は何曜日ですか",
    "大宮町一丁目の燃えないごみの日を教えてください",
    "あの、テレビはどうしたらええの",
    "職員の人と話したいです",
    "ごみが収集されていないんですが",
    "フライパンは燃えないごみですか",
    "段ボールはいつ出したらいいですか",
    "包丁の捨て方を教えてください",
    "エアコンを処分したいんですけど",
    "年末年始のごみの収集はありますか",
    "布団は大型ごみになりますか",
    "使い捨てカイロは何ごみですか",
    "クリーンセンターに自分で持ち込みたいです",
    "はい、お願いします",
    "いいえ、以上です",
]
VOICES = [(1.0, 0.0), (0.9, -2.0), (1.15, 2.0)]  # (speed, half-tone pitch shift): slow/low, fast/high callers
NOISE_SNR_DB = (20.0, 10.0)  # a quiet room, and a street or a kitchen fan
BAND_HZ = (300.0, 3400.0)  # the telephone band
LEAD_SILENCE_MS = 300  # the line is open before the caller speaks


@dataclass(frozen=True)
class Sample:
    text: str
    speed: float
    pitch: float
    snr_db: float
    pcm: np.ndarray  # int16 at 8 kHz, after μ-law
    speech_end: int  # sample index just after the voice's last audible sound (before noise was added)

    @property
    def label(self) -> str:
        return f"x{self.speed:g} {self.pitch:+g}st {self.snr_db:g}dB"


SPEECH_FLOOR = 10 ** (-45 / 20)  # quieter than this (dBFS) the voice has ended: the engine's tail silence


def _telephone(audio48k: np.ndarray, snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    pcm = resample(audio48k.astype(np.float32) / 32768.0, 48000, SAMPLE_RATE)
    sos = butter(4, BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    voice = sosfilt(sos, pcm)
    lead = np.zeros(LEAD_SILENCE_MS * SAMPLE_RATE // 1000)
    voice = np.concatenate([lead, voice, lead])
    power = float(np.mean(voice[len(lead) : -len(lead)] ** 2)) or 1e-9
    noise = sosfilt(sos, rng.standard_normal(len(voice))) * np.sqrt(power / 10 ** (snr_db / 10))
    mixed = np.clip((voice + noise) * 32767.0, -32768, 32767).astype(np.int16)
    end = int(np.flatnonzero(np.abs(voice) > SPEECH_FLOOR)[-1]) + 1
    return ulaw_decode(ulaw_encode(mixed)), end


def build(limit: int | None = None) -> list[Sample]:
    """Questions × voices × noise levels, spread so that a prefix of the list mixes them."""
    rng = np.random.default_rng(5374)
    out: list[Sample] = []
    for i, text in enumerate(QUESTIONS):
        speed, pitch = VOICES[i % len(VOICES)]
        audio, _sr = pyopenjtalk.tts(text, speed=speed, half_tone=pitch)
        for snr in NOISE_SNR_DB:
            pcm, end = _telephone(audio, snr, rng)
            out.append(Sample(text, speed, pitch, snr, pcm, end))
    return out[:limit] if limit else out
