"""Items guessed from how a word sounds when no phrase of the knowledge base matched it.

Whisper writes the right sounds with the wrong kanji (台温計 for 体温計), puts in a っ or ー
(かっさです for 傘です) or a ん (召喚機, ショーカンキ, for 消火器, ショーカキ). Each guess here
names exactly one item and scores ``FOLDED_SCORE``, below the dialogue's confirmation line, so
the bot reads it back (「しょうかき、ですね？」) before it answers with that item's rule.
"""

from __future__ import annotations

import functools
import re

from ivr.language.kanji_on import KANJI_RUN, run_readings
from ivr.language.matcher import MIN_FUZZY_READING, Match, PhraseMatcher, devoiced, is_kanji
from ivr.language.normalize import nfkc
from ivr.language.readings import Sound, long_vowels, morphemes, reading
from ivr.language.yes_no import yes_no

FOLDED_SCORE = 84.0  # below ITEM_CONFIRM_SCORE (recovery.py): such a guess is always read back
MIN_FOLDED = 2  # カサ (傘); a one-kana item is no word to guess
MIN_NASAL_FOLDED = 4  # kana left once ン is gone: ショーカキ; shorter ones fit too many words
MIN_KATAKANA_DEVOICED = 4  # kana: マットレス; three-kana katakana words differ by voicing too often (バス, パス)
_KATAKANA_RUN = re.compile(r"[ァ-ヴー]{4,}")
MIN_KATAKANA_ONE_OFF = 5  # kana: マストレス → マットレス; four-kana loanwords one kana apart are often both words
MIN_ONE_OFF = 4  # kana: a lone word this long one kana off exactly one item is a guess (ショーカイ → ショーカキ);
# at three, あったです (傘です, 20 dB) was one kana off セッタ (雪駄, ぞうり) and read back as ぞうり
MIN_KANJI_ONE_OFF = 5  # kana: a kanji run read this long one kana off one item (追判機 ツイハンキ → 炊飯器)
MIN_KANJI_ONE_OFF_CHARS = 3  # kanji: two-character runs have too many on'yomi pairs one kana off some item
MIN_GLUED_KANA = 2  # kana of another noun glued to a lone answer's item words: 鼻 (ハナ) of 鼻ビデオ
SAME_ITEM_SOUND = 80.0  # ``Sound.likeness`` of a lone word to its item's name: セキューストーブ to 石油ストーブ 88
_COUNT = re.compile(r"[0-9０-９一二三四五六七八九十百]+|[個台本枚つ袋箱]")  # 冷蔵庫2台: a count, not glue
# A turn that is one word and a copula (かっさです): the only shape a っ/ー-folded reading is tried on.
_LONE_WORD = re.compile(r"([^\s、。,.!！?？]{1,8}?)(?:です|でした|や|だ)?[ねよ]?[、。,.!！?？\s]*")


def fold(r: str) -> str:
    """A reading without っ and ー (ベッド → ベド)."""
    return r.replace("ッ", "").replace("ー", "")


def nasal_fold(r: str) -> str:
    """A reading without ン (ショーカンキ → ショーカキ). Only ン: with ー folded too, 相適 read
    ショーセキ became 書籍 (ショセキ), an alias of 本."""
    return r.replace("ン", "")


class ItemGuesses:
    """Folded item readings → the items read so, built once per knowledge base."""

    def __init__(self, items: PhraseMatcher[str], phrases: list[tuple[str, str]]) -> None:
        self.items = items
        self._folded: dict[str, list[str]] = {}
        self._nasal_folded: dict[str, set[str]] = {}
        self._one_off: dict[str, set[str]] = {}  # ショーカ? → 消火器 …: each reading with one kana blanked
        self._devoiced: dict[str, set[str]] = {}  # readings with voicing folded: マッドレス meets マットレス
        for name, phrase in phrases:
            for r in items.readings_of(phrase):
                if len(fold(r)) >= MIN_FOLDED:
                    self._folded.setdefault(fold(r), []).append(name)
                if len(nasal_fold(r)) >= MIN_NASAL_FOLDED:
                    self._nasal_folded.setdefault(nasal_fold(r), set()).add(name)
                if len(r) >= MIN_KATAKANA_DEVOICED:
                    self._devoiced.setdefault(devoiced(r), set()).add(name)
                if len(r) >= MIN_ONE_OFF:
                    for blank in _blanked(r):
                        self._one_off.setdefault(blank, set()).add(name)

    def _one_kana_off(self, r: str) -> set[str]:
        """The items whose reading is ``r`` but for one kana (ショーカイ → 消火器)."""
        return {name for blank in _blanked(r) for name in self._one_off.get(blank, ())}

    def guess(self, text: str) -> list[Match[str]]:
        """The one item ``text`` sounds like, as a guess to read back; [] when none or several."""
        return (self.by_kanji_sounds(text) or self.katakana_devoiced(text) or self.katakana_one_off(text)
                or self.lone_word_folded(text))

    def katakana_devoiced(self, text: str) -> list[Match[str]]:
        """A loanword Whisper wrote in katakana with one voicing off (マッドレス for マットレス): the
        matcher takes voicing slips from six kana only (ハンゴー, 飯ごう, is no バンゴー, 番号), but a
        katakana word of four or five that is one item but for voicing is a guess to read back."""
        for run in _KATAKANA_RUN.findall(nfkc(text)):
            names = self._devoiced.get(devoiced(long_vowels(run)), set())
            if len(names) == 1:
                name = next(iter(names))
                return [Match(name, name, FOLDED_SCORE, "fuzzy", len(run))]
        return []

    def katakana_one_off(self, text: str) -> list[Match[str]]:
        """A loanword Whisper wrote in katakana with one kana wrong (マストレス for マットレス, a
        20 dB call that was twice "not understood"): the matcher gives words under six kana no
        edits (ナマゴミ is no ナニゴミ), but a katakana run of five or more that is no word of the
        dictionary and is one kana off exactly one item is a guess to read back. A real word
        (アクション, one morpheme) is what the caller said, not a slip."""
        for run in _KATAKANA_RUN.findall(nfkc(text)):
            heard = long_vowels(run)
            if len(heard) < MIN_KATAKANA_ONE_OFF or len(morphemes(run)) < 2:
                continue
            names = self._one_kana_off(heard)
            if len(names) == 1:
                name = names.pop()
                return [Match(name, name, FOLDED_SCORE, "fuzzy", len(heard))]
        return []

    def by_kanji_sounds(self, text: str) -> list[Match[str]]:
        """An item Whisper spelt with other kanji of the same sounds (台温計 for 体温計): a run no
        dictionary word covers, read one on'yomi per character, that reads as exactly one item
        (but for voicing, when long), or as one item but for a ん (召喚機 for 消火器), or, three
        kanji or more, but for one kana (水関機 for 炊飯器)."""
        lone_nouns = functools.cache(lambda: _lone_kanji_nouns(text))  # parsed once, only if a run needs it
        for run in KANJI_RUN.findall(text):
            if len(morphemes(run)) < 2:
                continue  # a real word (高調): its own reading was already tried
            sounds = [r for r in run_readings(run) if len(r) >= MIN_FUZZY_READING]  # 何番 カバン is no 鞄
            keys = {m.key: m for r in sounds for m in self.items.by_heard_reading(r, FOLDED_SCORE)}
            if len(keys) == 1:
                return list(keys.values())
            own = reading(run)
            names = {name for r in {*sounds, own} for name in self._nasal_folded.get(nasal_fold(r), ())}
            if not names and run in lone_nouns():  # 水関機 スイカンキ: 炊飯器 but for one kana
                names = {name for r in {*sounds, own} if len(r) >= MIN_KANJI_ONE_OFF for name in self._one_kana_off(r)}
            if len(names) == 1:
                name = names.pop()
                return [Match(name, name, FOLDED_SCORE, "fuzzy", len(own))]
        return []

    def lone_word_folded(self, text: str) -> list[Match[str]]:
        """A turn of one word that is an item but for a っ or ー Whisper put in (かっさです for
        傘です, asked 「捨てたいものの名前を」), or but for one kana (紹介です for 消火器です) when
        no other item is as near: a guess, read back before it is answered."""
        said = lone_word(text)
        if not said:
            return []
        heard = said_reading(said)
        if yes_no(fold(heard)) is not None:  # yes_no reads katakana as hiragana
            return []  # はーい is a yes, not 灰 (ハイ); いーえ a no
        names = self._folded.get(fold(heard), []) if fold(heard) != heard else []
        if not names and len(heard) >= MIN_ONE_OFF:  # ショーカイ for ショーカキ: one kana off one item only
            names = list(self._one_kana_off(heard))
        return [Match(names[0], names[0], FOLDED_SCORE, "fuzzy", len(heard))] if len(set(names)) == 1 else []


def said_reading(text: str) -> str:
    """The reading of an item answer as spoken: を is said お (髪を持つ, カミオモツ: 紙おむつ)."""
    return reading(text).replace("ヲ", "オ")


def lone_word(text: str) -> str:
    """The one word of a turn that is one word and a copula (かっさです → かっさ), not a yes or a
    no; "" for any other turn."""
    m = _LONE_WORD.fullmatch(nfkc(text))
    return m[1] if m and yes_no(text) is None else ""


def glued_to_noun(text: str, form: str, readings: set[str], named: set[str]) -> bool:
    """A turn of one word whose item words are glued to another noun with no の between: 鼻ビデオ
    (花火), ブレー缶 (スプレー缶), 一生ケース (衣装ケース, its reading holds ショーケース), 電池らんじ
    (電子レンジ). Whisper wrote a word it could not read around a piece of one it knew; the piece's
    item is read back, not answered. What callers put before an item they name is no such glue: a
    modifier (古い, 壊れた, 小さな), a noun with の (子供の), a count. Nor is a word that as a whole
    sounds like the item's own name (``named``: its readings): セキューストーブ, matched on
    ストーブ, is 石油ストーブ."""
    word = lone_word(text)
    if not word:
        return False
    whole = Sound(long_vowels(reading(word)))
    if any(whole.likeness(Sound(r)) >= SAME_ITEM_SOUND for r in named):
        return False
    words = morphemes(word)
    sounds = [long_vowels(w[3].replace("’", "")) for w in words]
    if form and form in word:
        pieces, start = [w[0] for w in words], word.index(form)
        end = start + len(form)
    else:  # matched on its reading: イッショーケース holds ショーケース
        heard = "".join(sounds)
        if not (inside := [r for r in readings if r and r in heard]):
            return False
        longest = max(inside, key=len)
        pieces, start = sounds, heard.index(longest)
        end = start + len(longest)
    glued, at, own = 0, 0, []
    for i, piece in enumerate(pieces):
        lo, at = at, at + len(piece)
        if lo < end and at > start:  # the item's own word: whatever of it is not the item is glue
            glued += max(0, start - lo) + max(0, at - end)
            own.append(i)
    if not own:
        return False

    def noun(i: int) -> bool:
        return 0 <= i < len(words) and words[i][1] == "名詞" and not _COUNT.fullmatch(words[i][0])

    for step, i in ((-1, own[0] - 1), (1, own[-1] + 1)):  # nouns straight before and after it
        while noun(i):
            glued += len(sounds[i])
            i += step
    return glued >= MIN_GLUED_KANA


def _lone_kanji_nouns(text: str) -> set[str]:
    """Runs of ``MIN_KANJI_ONE_OFF_CHARS`` or more kanji that g2p reads as one-character nouns
    each (追・判・機): no word at all, so ASR's spelling of sounds. A run holding a word (市役所) or
    ending in a verb (何番乗った) is Japanese as written, and one kana off an item by chance."""
    runs: set[str] = set()
    run = ""
    for surface, pos, *_ in (*morphemes(text), ("", "")):
        if len(surface) == 1 and pos == "名詞" and is_kanji(surface):
            run += surface
            continue
        if len(run) >= MIN_KANJI_ONE_OFF_CHARS:
            runs.add(run)
        run = ""
    return runs


def _blanked(r: str) -> list[str]:
    """``r`` with each of its kana in turn replaced by ?: two readings one kana apart share one."""
    return [f"{r[:i]}?{r[i + 1:]}" for i in range(len(r))]
