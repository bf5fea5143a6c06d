"""Find knowledge-base phrases in caller text by surface, by reading, and fuzzily by reading.

Speech recognition tends to get the sound right and the kanji wrong (完全地 for 乾電池), drop
a first mora (いぞうこ), or write words in kana. So each phrase is indexed by its surface
and by its kana reading, and caller text is searched three ways, best first:

1. surface substring and 2. reading substring — one Aho-Corasick pass each (pyahocorasick),
   so a few thousand phrases cost microseconds, not a Python loop;
3. fuzzy on readings — candidates share enough kana bigrams with the caller's reading, then
   rapidfuzz's partial ratio decides, with an edit budget that grows with the phrase length.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import ahocorasick
import jaconv
from rapidfuzz import fuzz

from ivr.language.clipped import SAID_WORD_SCORE, SMALL_OR_LONG, as_heard, clipped_forms, said_as_a_word, weak_onsets
from ivr.language.normalize import nfkc
from ivr.language.readings import (
    indexed_reading,
    inside_kanji_words,
    is_kanji,
    long_vowels,
    morphemes,
    reading,
    word_ends,
)

K = TypeVar("K")

MIN_READING_SUBSTRING = 3  # 2-mora readings (カン, ビン) hide inside too many other words
MIN_FUZZY_READING = 4  # below this one edit is a different word
SHORT_TAIL_CHARS = 5  # a clipped form shorter than this must end at a particle to count
CLIPPED_AT = (0, 1)  # the clipped word opens the utterance (VAD cut it), maybe after a stray small kana
EXACT_SURFACE = 100.0
SHORT_SURFACE = 90.0  # one or two characters (缶, パン) also sit inside longer words
SHORT_SURFACE_CHARS = 2
EXACT_READING = 97.0  # the sound matched but not the kanji: nearly as good
DEVOICED_READING = 94.0  # matched but for voicing (ビニールカサ for ビニールガサ): rendaku varies by speaker
MIN_DEVOICED = 6  # shorter ones differing only in voicing are other words (ハンゴー 飯ごう, バンゴー 番号)
FUZZY_DISCOUNT = 0.95  # a fuzzy hit never outranks an exact one of the same length
CORROBORATION = 2.0
AFTER_CHARS = 6  # enough of what follows a match to see its particle (カラ, ヨーノ, ノステカタ)
LENGTH_WEIGHT = 5.0  # a longer phrase wins over a short one inside it (スプレー缶 over 缶)


@dataclass(frozen=True)
class Match(Generic[K]):
    key: K
    form: str  # the indexed phrase that matched
    score: float  # 0–100
    how: str  # surface | reading | fuzzy
    length: int  # characters (or morae) matched, to prefer the longest phrase
    after: str = field(default="", compare=False)  # what follows it, in katakana (カラヌイタ…)

    @property
    def rank(self) -> float:
        return self.score + LENGTH_WEIGHT * self.length


SHORT_MATCH = 3  # a match this short must stand at word edges: ふるい is not in 古いパソコン
SHORT_READING_MATCH = 4  # as read, four kana too: コットン is not in ノコットンネン (残っとんねん)
# Particles (in katakana, as both surface and reading strings are) that may border a word.
_BEFORE = set("ハガヲノモトヤデニワオ、。,.?!？！ ")
_AFTER = set("ハガヲノモトヤッワオテ、。,.?!？！ ")
# Words callers put straight after an item, the particle dropped (はがきぎょうさん, 傘ほかしたい).
_FOLLOWERS = ("ギョーサン", "ギョウサン", "ヨーケ", "ヨウケ", "タクサン", "イッパイ", "ホカシ", "ホカス", "ステ",
              "ダシ", "ドー", "ドウ", "ナニ", "ナン", "イツ", "ドコ",
              "デス")  # 「クトンです」 naming the item asked for


def _followed(rest: str) -> bool:
    return jaconv.hira2kata(rest[:5]).startswith(_FOLLOWERS)


def _is_kana(ch: str) -> bool:
    return "\u3041" <= ch <= "\u30ff"


def _is_katakana(ch: str) -> bool:
    return "\u30a1" <= ch <= "\u30ff"


def _mixes_kana(text: str) -> bool:
    """Hiragana and katakana in one span (ー belongs to both)."""
    return any("\u3041" <= ch <= "\u309f" for ch in text) and any("\u30a1" <= ch <= "\u30fa" for ch in text)


def _at_word_edges(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] (NFKC, original script) can be a word rather than part of one.

    Kanji must not run on into more kanji (缶 in 児童館); katakana must not run on into more
    katakana; a hiragana word needs a particle or a change of script around it (いす is not in
    いくらくらいするん), except that the past/adjective endings た and い may come before it
    (使わなくなったはさみ), and a word opening the utterance may run straight on (こたつまとめて).
    """
    word, before, after = text[start:end], text[start - 1] if start else "", text[end] if end < len(text) else ""
    if any(is_kanji(ch) for ch in word):
        return not (before and is_kanji(before)) and not (after and is_kanji(after))
    if all(_is_katakana(ch) for ch in word):
        return not (before and _is_katakana(before)) and not (after and _is_katakana(after))
    kana_word = jaconv.hira2kata
    ok_before = not before or not _is_kana(before) or kana_word(before) in _BEFORE or before in "たい"
    ok_after = not after or not _is_kana(after) or kana_word(after) in _AFTER or not before or _followed(text[end:])
    return ok_before and ok_after


def _splits_a_word(text: str, start: int, end: int) -> bool:
    """A short hiragana span that starts inside a word the analyser reads, or opens with a
    particle and runs on into the next word: のこ (鋸) in 家電のこと is the particle の and the start
    of こと, and was answered as a saw. Script changes and particles cannot tell this (the span
    starts after a kanji and こと's と is a particle too). Its end may fall inside a word: the
    analyser reads ござって as the verb ござる, yet the mat ござ is what was asked about."""
    if not all(_is_kana(ch) and not _is_katakana(ch) for ch in text[start:end]):
        return False
    for s, e, pos in _words(text):  # no words when they do not spell the text: offsets untrusted
        if s <= start < e:
            return s != start or (pos == "助詞" and e < end)
    return False


def _words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, part of speech) of each word of ``text`` as the analyser splits it; [] when
    its surfaces do not spell ``text`` again (then offsets cannot be trusted)."""
    out, at = [], 0
    for surface, pos, _, _ in morphemes(text):
        if text.startswith(surface, at):
            out.append((at, at + len(surface), pos))
            at += len(surface)
        else:
            return []
    return out if at == len(text) else []


def _noun_before_verb(text: str, start: int, end: int) -> bool:
    """A one-kanji noun the analyser reads as its own word, its particle dropped before a verb:
    竹切った is 竹 (を) 切った, though the kanji run on (缶 in 缶詰 is one word, not this)."""
    words = _words(text)
    for (s, e, pos), nxt in zip(words, words[1:], strict=False):
        if (s, e) == (start, end):
            return pos == "名詞" and nxt[2] == "動詞"
    return False


def kanji_adjective_readings(text: str) -> set[str]:
    """Readings of the adjectives ``text`` spells in kanji: 古い is the word old, not the item
    ふるい (a sieve) that sounds the same. Spelt in kana (ふるい), the word stays ambiguous."""
    return {long_vowels(jaconv.hira2kata(pron.replace("’", ""))) for surface, pos, _, pron in morphemes(nfkc(text))
            if pos == "形容詞" and any(is_kanji(ch) for ch in surface)}


def _reading_edges(text: str, start: int, end: int, ends: frozenset[int]) -> bool:
    """The same test on a katakana reading, where only particles (or, at the start, the end of a
    word: ショージ is not in ショージキ, 正直) can mark the edges."""
    before, after = text[start - 1] if start else "", text[end] if end < len(text) else ""
    return (not before or before in _BEFORE or before in "タイ") and (
        not after or after in _AFTER or (not before and _ends_word(text, end, ends)) or _followed(text[end:]))


def _ends_word(text: str, end: int, ends: frozenset[int]) -> bool:
    """A word ends at ``end``, or but for a long vowel ASR drew out (単数, タンスー, for タンス)."""
    return end in ends or (text[end : end + 1] == "ー" and end + 1 in ends)


def _cuts_a_kanji_word(text: str, start: int, end: int) -> bool:
    """A match in ``reading(text)`` that runs from one word into a kanji word and stops inside it
    (ペットノフン in ペットの分別): the caller wrote that word whole. One that stays inside its word
    is kept: Whisper writes an item's sound in the wrong kanji (単数 for タンス)."""
    return end in inside_kanji_words(text) and any(start < e < end for e in word_ends(text))


def _edit_budget(morae: int) -> int:
    """Edits a fuzzy match may need. Short words get none: one edit turns ナマゴミ into ナニゴミ
    (何ごみ) and ジュータン into ジューミン; their ASR damage is covered by the dropped-mora
    rule and by the mis-hearings listed in the data instead."""
    return 0 if morae < 6 else 1 if morae < 9 else 2


_KANA_PHRASE = re.compile(r"[ァ-ヴー]+")




def _clipped_at_start(opening: str, tail: str) -> bool:
    """``tail`` opens the utterance (the VAD cut its first mora), perhaps after a stray small kana
    (ッレーゾーコ), and — when short — ends at a particle: ソーシ in ソーシタラ (そうしたら) is no 包装紙."""
    at = opening.find(tail)
    if at not in CLIPPED_AT or (at == 1 and (opening[0] not in SMALL_OR_LONG or tail[0] == "ン")):
        return False
    end = at + len(tail)
    return len(tail) >= SHORT_TAIL_CHARS or end == len(opening) or opening[end] in _AFTER or _followed(opening[end:])


def spelling(text: str) -> str:
    """The form surfaces are compared in: NFKC, hiragana as katakana (one character for one)."""
    return jaconv.hira2kata(nfkc(text))


# ヂ and ヅ are said ジ and ズ, so a チ or ツ voiced in a compound (机 → 勉強づくえ, read
# ベンキョーズクエ) meets its plain form only if チ/ツ fold with シ/ス here.
_DEVOICE = str.maketrans(
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴチツ",
    "カキクケコサシスセソタシステトハヒフヘホハヒフヘホウシス",
)


def devoiced(r: str) -> str:
    return r.translate(_DEVOICE)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _automaton(words: dict[str, list[int]]) -> ahocorasick.Automaton | None:
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word, indexes in words.items():
        automaton.add_word(word, (len(word), indexes))
    automaton.make_automaton()
    return automaton


class PhraseMatcher(Generic[K]):
    """An index of (key, phrase) pairs; one key may have many phrases (name, aliases …)."""

    def __init__(self, phrases: list[tuple[K, str]], readings: dict[str, str] | None = None,
                 surface_only: set[str] = frozenset(), whole_kanji_words: bool = False) -> None:
        """``readings``: curated readings of some phrases (items.csv), indexed beside g2p's own
        reading when the two differ (食用油: ショクヨーユ curated, ショクヨーアブラ by g2p).
        ``surface_only``: phrases matched only as written, never by their sound.
        ``whole_kanji_words``: ``_cuts_a_kanji_word`` applies (items; not towns, whose sounds Whisper
        spells across words of its own: 「つる毎日が視聴」 for 鶴舞東町)."""
        self._whole_kanji_words = whole_kanji_words
        self._keys: list[K] = []
        self._forms: list[str] = []
        self._readings: list[str] = []
        self._form_readings: dict[str, set[str]] = defaultdict(set)
        self._need: dict[int, int] = {}  # bigrams a fuzzy candidate must share with the caller
        self._tails: dict[int, list[tuple[str, float]]] = {}  # clipped forms and their scores
        surfaces: dict[str, list[int]] = defaultdict(list)
        readings_index: dict[str, list[int]] = defaultdict(list)
        devoiced_index: dict[str, list[int]] = defaultdict(list)
        self._by_bigram: dict[str, list[int]] = defaultdict(list)
        seen: set[tuple[str, str, object]] = set()
        for key, phrase in phrases:
            surface = spelling(phrase)
            curated = long_vowels((readings or {}).get(phrase) or "")
            # a kana phrase is its own reading: g2p reads the は of すりはち as the particle ワ
            spelt = long_vowels(surface) if _KANA_PHRASE.fullmatch(surface) else ""
            variants = [x for x in (curated, spelt, indexed_reading(phrase)) if x] or [""]
            if phrase in surface_only:
                variants = [""]
            for r in dict.fromkeys(variants):
                if not surface or (surface, r, key) in seen:
                    continue
                seen.add((surface, r, key))
                self._index_one(key, phrase, surface, r, surfaces, readings_index)
        for r, indexes in readings_index.items():
            if len(r) >= MIN_DEVOICED:
                devoiced_index[devoiced(r)].extend(indexes)
        for i, tails in self._tails.items():  # トーキ is 陶器, not キュートーキ clipped: the real word wins
            self._tails[i] = [(t, score) for t, score in tails if t not in readings_index]
        self._whole = readings_index
        self._whole_devoiced = devoiced_index
        self._surface_index = _automaton(surfaces)
        self._reading_index = _automaton(readings_index)
        self._devoiced_index = _automaton(devoiced_index)

    def _index_one(
        self, key: K, phrase: str, surface: str, r: str,
        surfaces: dict[str, list[int]], readings_index: dict[str, list[int]],
    ) -> None:
        i = len(self._keys)
        self._keys.append(key)
        self._forms.append(phrase)
        self._readings.append(r)
        self._form_readings[phrase].add(r)
        surfaces[surface].append(i)
        if len(r) >= MIN_READING_SUBSTRING:
            readings_index[r].append(i)
        tails = clipped_forms(r) if len(r) >= MIN_FUZZY_READING else weak_onsets(r)  # フトン heard クトン
        if not tails and len(r) < MIN_FUZZY_READING:
            return
        self._tails[i] = tails
        # every edit breaks at most two bigrams; a clipped first mora breaks one or two
        need = len(r) - 1 - 2 * _edit_budget(len(r))
        if self._tails[i]:
            need = min(need, *(len(_bigrams(t) & _bigrams(r)) for t, _ in self._tails[i]))
        self._need[i] = max(1, need)
        for gram in _bigrams(r):
            self._by_bigram[gram].append(i)

    def by_whole_reading(self, r: str) -> list[Match[K]]:
        """Phrases read exactly ``r`` (a caller's word read another way), best first."""
        return [Match(self._keys[i], self._forms[i], EXACT_READING, "reading", len(r))
                for i in self._whole.get(r, ())]

    def by_heard_reading(self, r: str, score: float) -> list[Match[K]]:
        """Phrases read ``r``, or ``r`` but for voicing when it is long enough to tell words
        apart (``MIN_DEVOICED``): a reading rebuilt from what was heard, so a guess (``score``)."""
        found = self._whole.get(r) or (self._whole_devoiced.get(devoiced(r), []) if len(r) >= MIN_DEVOICED else [])
        return [Match(self._keys[i], self._forms[i], score, "fuzzy", len(r)) for i in found]

    def readings_of(self, form: str) -> set[str]:
        """The readings a phrase is indexed under."""
        return self._form_readings.get(form, set())

    def __len__(self) -> int:
        return len(self._forms)

    def find(self, text: str, limit: int = 5, fuzzy: bool = True) -> list[Match[K]]:
        """Best matches first, at most one per key."""
        found: dict[object, Match[K]] = {}
        seen_how: dict[object, set[str]] = defaultdict(set)

        def offer(i: int, score: float, how: str, length: int, after: str = "") -> None:
            best = found.get(self._keys[i])
            seen_how[self._keys[i]].add(how)
            if len(seen_how[self._keys[i]]) > 1:
                score += CORROBORATION  # seen as written and as read: surer than either alone
            candidate = Match(self._keys[i], self._forms[i], score, how, length, after)
            if best is None or candidate.rank > best.rank:
                found[candidate.key] = candidate

        if self._surface_index is not None:
            original = nfkc(text)
            surface = jaconv.hira2kata(original)  # one character for one: indexes line up
            for end, (length, indexes) in self._surface_index.iter(surface):
                start = end + 1 - length
                span = original[start : end + 1]
                if _mixes_kana(span) and not any(_mixes_kana(self._forms[i]) for i in indexes):
                    continue  # のレンガ holds のれん only once hiragana and katakana are folded
                if length <= SHORT_MATCH and not _at_word_edges(original, start, end + 1) and not (
                    length == 1 and is_kanji(original[start]) and _noun_before_verb(original, start, end + 1)
                ):
                    continue
                if length <= SHORT_MATCH and _splits_a_word(original, start, end + 1):
                    continue
                score = EXACT_SURFACE if length > SHORT_SURFACE_CHARS else SHORT_SURFACE
                for i in indexes:
                    offer(i, score, "surface", length, surface[end + 1 : end + 1 + AFTER_CHARS])
        text_reading = reading(text)
        if text_reading and self._reading_index is not None:
            for end, (length, indexes) in self._reading_index.iter(text_reading):
                if length <= SHORT_READING_MATCH and not _reading_edges(text_reading, end + 1 - length, end + 1,
                                                                        word_ends(text)):
                    continue
                if self._whole_kanji_words and _cuts_a_kanji_word(text, end + 1 - length, end + 1):
                    continue  # ペットの分別 holds ペットのふん only as read, cutting 分別 in two
                for i in indexes:
                    offer(i, EXACT_READING, "reading", length, text_reading[end + 1 : end + 1 + AFTER_CHARS])
        if text_reading and self._devoiced_index is not None:
            for end, (length, indexes) in self._devoiced_index.iter(devoiced(text_reading)):
                if self._whole_kanji_words and _cuts_a_kanji_word(text, end + 1 - length, end + 1):
                    continue
                for i in indexes:  # never above an exact match of the same phrase: it scores less
                    offer(i, DEVOICED_READING, "fuzzy", length)
        if fuzzy and text_reading:
            self._fuzzy(text, text_reading, offer)
        return sorted(found.values(), key=lambda m: m.rank, reverse=True)[:limit]

    def _fuzzy(self, text: str, text_reading: str, offer) -> None:  # noqa: ANN001 - the closure above
        opening = as_heard(text_reading)
        grams = _bigrams(text_reading) if opening == text_reading else _bigrams(text_reading) | _bigrams(opening)
        shared: dict[int, int] = defaultdict(int)
        for gram in sorted(grams):  # a set iterates in a per-process hash order: ties must not depend on it
            for i in self._by_bigram.get(gram, ()):
                shared[i] += 1
        need = self._need
        for i, count in shared.items():
            if count < need[i]:
                continue
            r = self._readings[i]
            budget = _edit_budget(len(r))
            if budget and len(r) <= len(text_reading) + budget:  # the phrase inside the text
                aligned = fuzz.partial_ratio_alignment(r, text_reading)
                score = aligned.score
                if score >= 100.0 * (1 - budget / len(r)) and not (
                        self._whole_kanji_words and _cuts_a_kanji_word(text, aligned.dest_start, aligned.dest_end)):
                    matched = round(len(r) * score / 100) - budget  # only what really matched counts
                    offer(i, min(score, EXACT_READING - 1) * FUZZY_DISCOUNT, "fuzzy", matched)
            for tail, tail_score in self._tails[i]:
                if _clipped_at_start(opening, tail):
                    if opening.startswith(tail) and said_as_a_word(text, tail):
                        tail_score = min(tail_score, SAID_WORD_SCORE)
                    offer(i, tail_score * FUZZY_DISCOUNT, "fuzzy", len(r))  # the caller meant all of it
                    break

    def best(self, text: str, min_score: float = 0.0) -> Match[K] | None:
        matches = self.find(text, limit=1)
        return matches[0] if matches and matches[0].score >= min_score else None
