"""A topic's keywords (faq.yaml) heard in a caller's words: as written, as read, or, for a long
loanword, a kana off (Whisper spells loanwords as it hears them).

A topic with keywords is only ever chosen when one of them is heard (``IntentRouter``): 火事 and
ハチ must not be guessed from a sentence that merely sounds like their examples.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

LOANWORD_MIN_KANA = 5  # a katakana keyword this long may be heard one kana off; shorter ones match too much
LOANWORD_RATIO = 80  # rapidfuzz partial ratio on kana: one kana of six wrong scores 83
_KATAKANA = re.compile(r"[ァ-ヴー]+")


def keyword_heard(word: str, word_reading: str, text: str, kana: str) -> bool:
    """``word`` (read ``word_reading``) in the caller's normalised ``text`` or in its reading ``kana``."""
    return word in text or bool(word_reading and word_reading in kana) or _loanword_near(word, kana)


def _loanword_near(word: str, kana: str) -> bool:
    """A katakana keyword heard a kana off: Whisper spells loanwords as it hears them (「ごみのわけ方の
    パンスレットが欲しい」, 20 dB: the request's keyword missing, パンフレット was read back as an item and
    its rule given)."""
    return (len(word) >= LOANWORD_MIN_KANA and _KATAKANA.fullmatch(word) is not None
            and fuzz.partial_ratio(word, kana) >= LOANWORD_RATIO)
