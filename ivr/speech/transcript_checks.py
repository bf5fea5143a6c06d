"""Checks on what Whisper wrote: a read-back of its own prompt, stock hallucinations, and how far
to trust the rest (``confidence``, from Whisper's own scores)."""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

LEAK_MIN_CHARS = 7  # shorter matches are single prompt words (冷蔵庫, プラスチック) callers really say
LEAK_PARTIAL_RATIO = 90  # transcript found near-verbatim inside the prompt (rapidfuzz 0–100)
LEAK_PIECE = 3  # prompt stretches this long or longer count as echoed (2 would match ごみ, 収集 in real speech)
LEAK_COVERAGE = 0.8  # … when they make up this share of the transcript; a retry then decides
LIST_ECHO_MIN_CHARS = 2  # 「缶、」 and up: one listed word of the prompt, cut at its 、
COMPRESSION_RATIO_MAX = 2.4  # Whisper's own bound: text that zips smaller than this is a decoder loop
_PUNCT = re.compile(r"[\s。、．，,.!?！？・…「」『』〜~]+")


@dataclass(frozen=True)
class Hallucination:
    """A stock Whisper output on silence or noise; ``reason`` says where it comes from."""

    name: str
    pattern: re.Pattern[str]
    reason: str


# Checked on the NFKC text with spaces and sentence punctuation removed.
HALLUCINATIONS: tuple[Hallucination, ...] = (
    Hallucination(
        "video_outro", re.compile(r"ご視聴|ご覧いただき|最後まで見て"), "YouTube outros fill silence in training"
    ),
    Hallucination("subscribe", re.compile(r"チャンネル登録|高評価|グッドボタン"), "same source: video sign-offs"),
    Hallucination("subtitles", re.compile(r"字幕|翻訳者"), "subtitle credits (字幕作成…) from subtitle training data"),
    Hallucination("song_credits", re.compile(r"作詞|作曲|編曲"), "music-video credits; seen on loud line hiss"),
    Hallucination("ending", re.compile(r"^(?:エンディング|オープニング)$"), "chapter titles read into silence"),
    Hallucination(
        "sign_off",
        re.compile(
            r"^(?:それでは|では|じゃあ)?(?:おやすみなさい|また(?:次回|来週|明日|ね)|次回もお楽しみに|バイバイ)$"
        ),
        "programme endings Whisper reads into trailing silence",
    ),
    Hallucination("sound_caption", re.compile(r"^[(（\[【].*[)）\]】]$|♪"), "(音楽), (拍手), ♪: captions, not speech"),
    Hallucination("repeated_char", re.compile(r"^(.)\1{2,}$"), "one character repeated: noise decoded as a vowel"),
    Hallucination("loop", re.compile(r"(.{1,6}?)\1{4,}"), "a short piece repeated 5+ times: the decoder is looping"),
)


def squash(text: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text))


def is_prompt_leak(text: str, prompt: str, min_chars: int = LEAK_MIN_CHARS, *, listed: bool = True) -> bool:
    """True when ``text`` is (nearly) a verbatim stretch of the prompt rather than new speech.
    ``listed``: the prompt lists words (the domain sentence), so one of them cut at its 、 is a
    leak too; not for a question as prompt, where 「はい、」 answers 「はい、か、いいえ、で」."""
    t, p = squash(text), squash(prompt)
    if not p:
        return False
    if listed and _listed_word(text, t, p):
        return True
    if len(t) < min_chars:
        return False
    return fuzz.partial_ratio(t, p) >= LEAK_PARTIAL_RATIO or _prompt_coverage(t, p) >= LEAK_COVERAGE


def _listed_word(text: str, t: str, p: str) -> bool:
    """The whole transcript is one word of the prompt's list, cut at its 、 (「スプレー缶、」: five
    item answers at 20 dB in dev calls, the last word the domain prompt lists, then read back as
    the caller's item), or bare (「スプレー缶」, 「自転車」, a hotword: every one of the 12 bare prompt
    words among the dev item and town answers, bench/slot_guesses.py's town and item lines
    alike, was for something else said: ベルトです, 土です, たんすです, even 土です on a clean line).
    The caller's own スプレー缶 survives the unprimed re-decode; a caller's です is never in the list."""
    return len(t) >= LIST_ECHO_MIN_CHARS and t in p


def _prompt_coverage(t: str, p: str) -> float:
    """Share of ``t`` made of stretches (≥ LEAK_PIECE chars) found in the prompt: a leak may
    stitch prompt pieces together (冷蔵庫について、冷蔵庫について質問します) rather than copy one."""
    covered = [False] * len(t)
    for i in range(len(t) - LEAK_PIECE + 1):
        if t[i : i + LEAK_PIECE] in p:
            covered[i : i + LEAK_PIECE] = [True] * LEAK_PIECE
    return sum(covered) / len(t)


def hallucination(text: str) -> Hallucination | None:
    """The known hallucination ``text`` is, if any."""
    squashed = squash(text)
    for known in HALLUCINATIONS:
        if squashed and known.pattern.search(squashed):
            return known
    return None


def compression_ratio(text: str) -> float:
    """UTF-8 bytes over zlib-compressed bytes, as faster-whisper measures it; 0 for no text."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def confidence(text: str, avg_logprob: float, no_speech_prob: float, *, short_answer: bool = False) -> float:
    """The recogniser's own confidence in ``text``, 0–1 (``AsrResult.confidence``)."""
    if not text:
        return 0.0
    value = float(np.exp(min(0.0, avg_logprob)))
    if not short_answer:
        value *= 1.0 - min(1.0, max(0.0, no_speech_prob))
    ratio = compression_ratio(text)
    if ratio > COMPRESSION_RATIO_MAX:
        value *= COMPRESSION_RATIO_MAX / ratio
    return min(1.0, max(0.0, value))
