"""How the bot reads back a name it is unsure of, in kana the TTS says as the caller would
(「れいぞうこ、ですね？」): a kanji name read by the synthesiser could come out in another reading."""

from __future__ import annotations

import re

import jaconv

from ivr.knowledge.models import Item
from ivr.language.readings import long_vowels, reading, vowel_of

_SPELT_LONG = {"a": "ア", "i": "イ", "u": "ウ", "e": "イ", "o": "ウ"}  # レー → れい, ソー → そう


def say_item(item: Item) -> str:
    """The item as the TTS should say it, in kana: its name when that is kana (ろうそく), a kana
    spelling callers use (れいぞうこ) when the data has one, else its reading spelt as written."""
    if re.fullmatch(r"[ぁ-んァ-ヶー]+", item.name):
        return item.name
    own = long_vowels(jaconv.hira2kata(item.reading or ""))
    for spelt in item.mishearings:
        if re.fullmatch(r"[ぁ-ん]+", spelt) and long_vowels(jaconv.hira2kata(spelt)) == own and _read_as(spelt, own):
            return spelt
    return spell_reading(item.reading) if item.reading else item.name


def spell_reading(kana: str) -> str:
    """A katakana reading as hiragana the TTS reads as said: レーゾーコ → れいぞうこ. Kept in
    katakana when the TTS would read the hiragana otherwise: it takes a は or へ inside a word for
    a particle (あかはだちょう said アカワダチョー, へあぶらし エアブラシ) and ふ after a spelt long
    vowel for ウ (かったあないふ)."""
    out: list[str] = []
    for ch in kana:
        vowel = vowel_of(out[-1]) if out else ""
        out.append(_SPELT_LONG[vowel] if ch == "ー" and vowel else ch)
    spelt = jaconv.kata2hira("".join(out))
    return spelt if _read_as(spelt, kana) else kana


def _read_as(spelt: str, kana: str) -> bool:
    """Whether the TTS front end reads ``spelt`` as the reading ``kana``."""
    return long_vowels(reading(spelt)) == long_vowels(jaconv.hira2kata(kana))
