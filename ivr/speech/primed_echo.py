"""A short turn holding a word the decode was primed with, that only the primed decode heard.

Whisper base, primed with the domain sentence and the knowledge base's hotwords, writes their
item words into short answers it cannot read: 「電池です」 for ゲーム機です and 電球です (clean
lines), 「電池らんじだす」 for 電子レンジです, 「鼻ビデオ」 for 花火です, 「電池庫や」 for 延長コードです
(dev item answers of bench/call_success.py's goals), each then answered as 乾電池 or ビデオテープ
without a read-back. So a short turn holding a piece of a primed item word is decoded again
unprimed: when that decode does not have the piece, the prime put it there, and the turn is taken
from the unprimed decode with its confidence capped, so an item found in it is read back first.
A caller's own 乾電池 is in both decodes and stays as it was, at the cost of one more decode.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from rapidfuzz import fuzz

from ivr.language.readings import long_vowels, reading
from ivr.speech.transcript_checks import squash

log = logging.getLogger(__name__)

PRIMED_ECHO_MAX_CHARS = 10  # item answers (電池です, 衣装ビデオテープ); questions are longer, and the prime helps them
ECHO_DOUBT_CONFIDENCE = 0.3  # under the dialogue's ITEM_HEARD_CONFIDENCE (0.5): an item heard is read back
# Primed and unprimed turns this alike as read are one hearing: the unprimed decode spells the
# primed words by sound (カンゼンチデス for カンデンチデス: 86; レイゾーク for レーゾーコ), where
# デンチデス against ゲームキデス, the item said, scores 36.
SAME_SOUND_RATIO = 70
MIN_KANJI_PIECE = 2  # 電池 of 乾電池
MIN_KANA_PIECE = 3  # ビデオ of ビデオテープ; two kana (ール of シール) are in too many words
PROMPT_ITEMS = ("冷蔵庫", "乾電池", "蛍光灯", "スプレー缶", "ペットボトル")  # the items asr.domain_prompt names
NOT_ECHOES = frozenset({"ごみ"})  # in most turns, and said, not primed
_KANJI = re.compile(r"[一-鿿々]")

Plain = tuple[str, float, float]  # the unprimed decode's text, no-speech probability and avg log-prob


def primed_pieces(hotwords: str | None) -> frozenset[str]:
    """Every stretch of each primed item word (the domain sentence's and the hotwords, 、-separated)
    long enough to be heard as that word (乾電池: 乾電, 電池, 乾電池)."""
    pieces: set[str] = set()
    for word in (*PROMPT_ITEMS, *filter(None, (hotwords or "").split("、"))):
        for i in range(len(word)):
            for j in range(i + 1, len(word) + 1):
                piece = word[i:j]
                least = MIN_KANJI_PIECE if _KANJI.search(piece) else MIN_KANA_PIECE
                if len(piece) >= least and piece not in NOT_ECHOES:
                    pieces.add(piece)
    return frozenset(pieces)


def echoed_piece(text: str, pieces: frozenset[str]) -> str | None:
    """The longest primed piece in a short turn; None for a longer turn or one without any."""
    squashed = squash(text)
    if not squashed or len(squashed) > PRIMED_ECHO_MAX_CHARS:
        return None
    found = [p for p in pieces if p in squashed]
    return max(found, key=len) if found else None


def recheck(text: str, pieces: frozenset[str], plain: Callable[[], Plain]) -> Plain | None:
    """The unprimed decode to take instead of ``text``, or None when ``text`` stands: it holds no
    primed piece, or the unprimed decode wrote that piece too, or sounds the same."""
    piece = echoed_piece(text, pieces)
    if piece is None:
        return None
    unprimed = plain()
    same = fuzz.ratio(long_vowels(reading(text)), long_vowels(reading(unprimed[0]))) >= SAME_SOUND_RATIO
    if piece in unprimed[0] or same:
        return None  # the same sounds, spelt without the prime's help (完全地です for 乾電池です)
    log.info("ASR primed echo: %r holds %r, which the unprimed decode (%r) does not", text, piece, unprimed[0])
    return unprimed
