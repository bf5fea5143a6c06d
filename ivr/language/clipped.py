"""What ASR writes of a word whose first mora the line or the endpointer lost.

The VAD clips a first mora (いぞうこ for れいぞうこ; うちょう for ほうちょう, the long vowel left), and
Whisper base on a phone band hears a weak ハ-row onset as カ-row or サ-row (高調 and ソーチョー for
包丁, クトン and ストン for 布団). The matcher indexes these forms of each phrase, scored below a
plain match, so such a hit is a guess the dialogue reads back.
"""

from __future__ import annotations

from ivr.language.normalize import nfkc
from ivr.language.readings import is_kanji, long_vowels, morphemes, vowel_of

MIN_TAIL = 3  # a clipped reading must keep three morae (ー counts, ャ does not) to name one thing
DROPPED_MORA_SCORE = 90.0
HEARD_REST_SCORE = 89.0  # ウチョー is 包丁 clipped only by a guess at what was heard: a plain clip wins
# A weak ハ-row onset heard as カ-row (ホーチョー → コーチョー, フトン → クトン: Whisper base on a phone
# band, dev calls): a guess, so below every clip and read back before it is answered (× discount < 85).
WEAK_ONSET_SCORE = 88.0
_WEAK_ONSET_HEARD = str.maketrans("ハヒフヘホ", "カキクケコ")
# and as サ-row (布団 heard ストン): the telephone band (≤ 3.4 kHz) cuts the noise that tells /s/ from /h/, /ɸ/
_FRICATIVE_ONSET_HEARD = str.maketrans("ハヒフヘホ", "サシスセソ")
SMALL_OR_LONG = set("ーャュョァィゥェォッン")
# A clip that is itself the word the utterance opens with, written in kanji (電気の残り…: デンキ, or
# ジューデンキ, 充電器, with ジュー cut): the caller may well have said that word, so the clip is only a
# guess, read back (× discount < 85) and never answered as the item (dev2 call, clean: the
# lithium-battery rule was given for 「電気の残り程度を…」).
SAID_WORD_SCORE = 88.0

# What is heard of a clipped long vowel or small kana: ほうちょう without ほ is うちょう,
# ちゅうしゃ without ち is ゅうしゃ (written ユーシャ).
_LONG_HEARD = {"a": "ア", "i": "イ", "u": "ウ", "e": "イ", "o": "ウ"}
_SMALL_HEARD = str.maketrans("ャュョァィゥェォ", "ヤユヨアイウエオ")


def as_heard(text_reading: str) -> str:
    """A reading that opens with a clipped syllable's small kana, as it was heard: ュウシャバリ →
    ユーシャバリ. Only the opening changes; the rest keeps its per-word long vowels."""
    head = text_reading[:1].translate(_SMALL_HEARD)
    if head == text_reading[:1]:
        return text_reading
    return long_vowels(head + text_reading[1:2]) + text_reading[2:]


def _morae(r: str) -> int:
    return len(r) - sum(ch in "ャュョァィゥェォ" for ch in r)


def clipped_forms(r: str) -> list[tuple[str, float]]:
    """The reading without its first mora, as ASR writes it when the VAD clips it: the next
    whole mora on (レーゾーコ → ゾーコ), and, when the first syllable was long, carried a small
    kana, also what is left of that syllable (ホーチョー → ウチョー, チューシャ → ユーシャ); and a
    weak ハ-row first mora heard as カ-row or サ-row (フトン → クトン, ストン), the rest kept whole."""
    cut = 1
    while cut < len(r) and r[cut] in SMALL_OR_LONG:
        cut += 1
    tails = [(r[cut:], DROPPED_MORA_SCORE)]
    if cut > 1 and len(r) > 2:
        rest = r[1:]
        if rest[0] == "ー":
            vowel = vowel_of(r[0])
            if vowel:
                tails.append((_LONG_HEARD[vowel] + rest[1:], HEARD_REST_SCORE))
        else:  # no word opens with ん, so ンキリ opening an utterance is 缶切り clipped (only there)
            tails.append((rest[0].translate(_SMALL_HEARD) + rest[1:], HEARD_REST_SCORE))
    return [(t, score) for t, score in tails + weak_onsets(r) if _morae(t) >= MIN_TAIL]


def weak_onsets(r: str) -> list[tuple[str, float]]:
    """A weak ハ-row first mora heard as カ-row or サ-row, the rest whole; kept only for three morae or more."""
    out = []
    for table in (_WEAK_ONSET_HEARD, _FRICATIVE_ONSET_HEARD):
        onset = r[:1].translate(table)
        if onset != r[:1] and _morae(onset + r[1:]) >= MIN_TAIL:
            out.append((onset + r[1:], WEAK_ONSET_SCORE))
    return out


def said_as_a_word(text: str, tail: str) -> bool:
    """``text`` opens with one dictionary word written in kanji whose whole reading is ``tail``."""
    words = morphemes(nfkc(text).strip())
    if not words:
        return False
    surface, _pos, _lemma, pron = words[0]
    return any(is_kanji(ch) for ch in surface) and long_vowels(pron.replace("’", "")) == tail
