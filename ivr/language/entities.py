"""Entities in a caller's words: items, areas (with 丁目 and sides), categories, yes/no.

Every matcher works on readings as well as surface text (see ``matcher``), because speech
recognition often writes the right sound with the wrong kanji.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import Area, Category, Item
from ivr.language.clipped import DROPPED_MORA_SCORE
from ivr.language.item_guesses import ItemGuesses
from ivr.language.item_heads import compound_first, head_first, removed_part_first
from ivr.language.kanji_on import KANJI_RUN
from ivr.language.matcher import (
    EXACT_READING,
    FUZZY_DISCOUNT,
    Match,
    PhraseMatcher,
    is_kanji,
    kanji_adjective_readings,
    spelling,
)
from ivr.language.normalize import kanji_digits, nfkc
from ivr.language.readings import charwise_reading, indexed_reading, long_vowels, reading
from ivr.language.town_openings import TownOpenings
from ivr.language.town_parts import REST_SAID, is_rest, side_of

ITEM_MIN_SCORE = 70.0  # below this a fuzzy reading match is more often wrong than right
AREA_MIN_SCORE = 75.0
AREA_CONFIRM_SCORE = 85.0  # a town heard by its sound alone, below this, is read back (赤裸町 → 紀寺町 at 79)
MISHEARD_SOUND_SIMILARITY = 50.0  # a mis-hearing read further than this from its item is matched as spelt
CATEGORY_MIN_SCORE = 90.0  # category words are short: only (near) exact matches count
CLIPPED_CATEGORY_SCORE = DROPPED_MORA_SCORE * FUZZY_DISCOUNT  # えるごみ: 燃えるごみ without its first mora

# An item word straight followed by a する form, or by で and a way of asking, names an act, not the thing:
# 「さっき電話したんですけど」 and 「電話で申し込むときに」 had been answered with 電話機's rule. (In katakana,
# as ``Match.after`` is; しばって, しまった and しか are not する.)
_ACT_AFTER = re.compile(r"^(?:シ(?:タ|テ|マス|マシ|ヨ[ーウ])|スル|サレ|"
                        r"デ(?:モ[ーウ]シコ|ヨヤク|キキ|キケ|トイアワ|レンラク|ソ[ーウ]ダン|ハナシ|オネガイ))")
_CHOME = re.compile(r"(\d{1,2})\s*(?:丁目|ちょうめ|チョウメ|チョーメ)")
_KANJI_CHOME = re.compile(r"([一二三四五六七八九十]{1,2})\s*丁目")
SHORT_SOUND_KANA = 2  # the reading index keeps 3 kana and more
# Kana of both scripts. Also a run a town may hide in: 「ナッカとみがおかです」 (ナカトミガオカ said, 0.14)
# had been answered as 登美ヶ丘, the town inside it, with 中登美ヶ丘 beside it.
_KANA = re.compile(r"[ぁ-ゖァ-ヺー]+")
_NAME_RUN = re.compile(r"[\u4e00-\u9fff々ヶァ-ヴー]+")  # a name as ASR writes it: kanji and katakana
_HIRAGANA_RUN = re.compile(r"[ぁ-ゖー]+")  # …or all in hiragana (なさとみがおか for 中登美ヶ丘)
# Read from a hiragana run, a particle before a town ends what came before it (うちはとみがおか).
_PARTICLE_READINGS = frozenset("ハワノガモデニヲオヘエトヤ")
_GENERIC_WORDS = {"ごみ", "ゴミ", "もの", "物"}  # too vague to be an item on their own
BULK_PREFIX = "大量の"  # items.csv names a bulk entry 大量のX when a lot of X goes another way (大型ごみ)
# a lot of it, said many ways (とてもある is めっちゃある standardised)
BULK_WORDS = ("大量", "多量", "たくさん", "沢山", "いっぱい", "一杯", "ようけ", "ぎょうさん", "ようさん", "ばっかり",
              "ばかり", "山ほど", "めっちゃある", "とてもある", "すごい量", "何袋も", "山積み")


# What follows a vehicle the caller carries waste in (車で運ぶ, 軽トラに積んで), as written and as
# read: the vehicle is the means of a self-haul, not the thing to throw away (自動車).
MEANS_AFTER = ("デハコ", "デ運", "デモッテ", "デ持ッテ", "デモチコ", "デ持チ込", "デイッテ", "デ行ッ", "デイク",
               "デ行ク", "ニツン", "ニ積ン", "ニノセ", "ニ乗セ")
# The vehicle said with how it carries (軽トラで運んで, 自転車で持ち込み): words inside it are no
# items either (毛糸 is heard in ケートラ, 辞典 in ジテンシャ).
_CARRIED_BY = re.compile(
    r"(軽トラック|軽トラ|けいとら|ケートラ|トラック|とらっく|ワゴン|自動車|自転車|じてんしゃ|バイク|台車|リヤカー|車|くるま|クルマ)"
    r"(?:で|に)(?:運|はこ|持|も[っち]|積|つん|乗せ|のせ|行|い[っく])"
)

@dataclass
class Entities:
    items: list[Match[str]] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)  # every row that fits (several = ask which)
    area_town: str = ""
    chome: int | None = None
    category: Category | None = None
    categories: list[Category] = field(default_factory=list)  # every category named (事務所のごみ … 燃えるごみの日)
    item: Item | None = None  # the best of ``items``
    means: str = ""  # a vehicle named as how the caller carries the waste (車で運んで): no item
    area_guessed: bool = False  # the town was found by its sound alone, below AREA_CONFIRM_SCORE
    town_opening: str = ""  # no town said, but an opening many share (西大寺 of 西大寺北町 …): ask which


def chome_of(text: str) -> int | None:
    t = nfkc(text)
    if m := _KANJI_CHOME.search(t):
        k = m[1]
        value = 10 + ("一二三四五六七八九".index(k[1]) + 1 if len(k) > 1 else 0) if k.startswith("十") else \
            int(kanji_digits(k))
        return value
    if m := _CHOME.search(kanji_digits(t)):
        return int(m[1])
    return None


CHOME_SOUND_RATIO = 65.0  # the nearest 丁目 by sound must be this near (にちおめ → 二丁目 scores 67;
# 移動目, 二丁目 said on a dev call, scored 60 for 一丁目 and was answered so) …
CHOME_SOUND_MARGIN = 15.0  # … and this far ahead of the next (ちょうめ alone fits 五 and 二 alike)
_ANSWER_TAIL = re.compile(r"(?:です|でした|だ|や|ね|よ|[、。,.!！?？\s])+$")


def chome_by_sound(text: str, numbers: list[int]) -> int | None:
    """Which of ``numbers`` (the town's 丁目) an answer to 「何丁目ですか」 sounds like when no
    number was written: Whisper wrote 二丁目です as 「にちおめです」 on a clean line."""
    heard = reading(_ANSWER_TAIL.sub("", nfkc(text)))
    if not heard or not numbers:
        return None
    scored = sorted(((fuzz.ratio(heard, reading(f"{n}丁目")), n) for n in set(numbers)), reverse=True)
    if scored[0][0] < CHOME_SOUND_RATIO or (len(scored) > 1 and scored[0][0] - scored[1][0] < CHOME_SOUND_MARGIN):
        return None
    return scored[0][1]


class EntityExtractor:
    """Built once per knowledge base; ``extract`` is called on every caller turn."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        item_phrases: list[tuple[str, str]] = []
        for item in kb.items:
            for phrase in (item.name, *item.aliases, *item.mishearings):
                if phrase not in _GENERIC_WORDS:
                    item_phrases.append((item.name, phrase))
        self.items = PhraseMatcher(item_phrases, {i.name: i.reading for i in kb.items},
                                   surface_only=_misheard_kanji(kb.items), whole_kanji_words=True)
        towns: dict[str, list[Area]] = {}
        for area in kb.areas:
            towns.setdefault(area.town, []).append(area)
        self._towns = towns
        # Callers say 町 both ways (三条町: さんじょうちょう, さんじょうまち), whatever the city says.
        area_phrases = [(town, town) for town in towns] + [(t, t[:-1] + "まち") for t in towns if t.endswith("町")]
        self.areas = PhraseMatcher(area_phrases, {town: rows[0].reading for town, rows in towns.items()})
        self.openings = TownOpenings({town: rows[0].reading for town, rows in towns.items()})
        # 草 → 大量の草: the entry the caller means when they say there is a lot of it
        self._bulk = {i.name.removeprefix(BULK_PREFIX): i for i in kb.items
                      if i.name.startswith(BULK_PREFIX) and i.name.removeprefix(BULK_PREFIX) in kb.item_by_name}
        self._guesses = ItemGuesses(self.items, item_phrases)
        category_words = [(c.name, word) for c in kb.categories for word in (c.name, *c.aliases, *c.labels_5374)]
        self.categories = PhraseMatcher(category_words + _short_sounds(category_words))

    @property
    def towns(self) -> dict[str, list[Area]]:
        """Town → its area rows (several when the data splits the town)."""
        return self._towns

    def find_item(self, text: str) -> list[Match[str]]:
        found = self._not_adjectives(text, [m for m in self.items.find(text)
                                            if m.score >= ITEM_MIN_SCORE and not _ACT_AFTER.match(m.after)])
        if "の" in text:  # 針金のハンガー is 針金ハンガー, not a ハンガー made of 針金
            joined = self._not_adjectives(text, [m for m in self.items.find(text.replace("の", ""), fuzzy=False)
                                                 if m.score >= EXACT_READING])
            if joined and (not found or joined[0].length > found[0].length):
                keys = {m.key for m in joined}
                return removed_part_first(head_first(joined + [m for m in found if m.key not in keys]), self._note)
        if found:
            return removed_part_first(head_first(compound_first(found)), self._note)
        # ASR picks the wrong kanji for the right sound (放丁 for 包丁), and g2p then reads the
        # wrong word (ホーテー). Read each kanji of a short run alone; only a whole item counts.
        for run in KANJI_RUN.findall(text):
            if hits := self.items.by_whole_reading(charwise_reading(run)):
                return hits[:1]
        return self._guesses.guess(text)

    def _note(self, name: str) -> str:
        return self.kb.item_by_name[name].note

    def _not_adjectives(self, text: str, found: list[Match[str]]) -> list[Match[str]]:
        """Drop items heard only in the sound of an adjective the caller spelt in kanji (古い傘)."""
        if any(m.how == "reading" for m in found) and (adjectives := kanji_adjective_readings(text)):
            return [m for m in found if m.how != "reading" or not self.items.readings_of(m.form) & adjectives]
        return found

    def find_category(self, text: str, said: list[Match[str]] | None = None) -> Category | None:
        """A (near) exact category word; or one clipped by the VAD (えるごみ) if only one fits:
        ねんごみ is 可燃ごみ or 不燃ごみ clipped, and the caller is asked again instead.
        ``said``: ``_said_categories(text)`` when the caller has it already."""
        said = self._said_categories(text) if said is None else said
        if said:
            return self.kb.category_by_name[said[0].key]
        found = self.categories.find(text, limit=2)
        if not found:
            return None
        best = found[0]
        if best.score < CATEGORY_MIN_SCORE and (
            best.score < CLIPPED_CATEGORY_SCORE or (len(found) > 1 and found[1].score >= best.score)
        ):
            return None
        return self.kb.category_by_name[best.key]

    def _said_categories(self, text: str) -> list[Match[str]]:
        """Category words heard (near) exactly. Looked for apart from the fuzzy matches: 古紙の回収日
        is 古紙 said, though the longer alias 古紙回収 also fits it loosely and would outrank it."""
        found = {m.key: m for m in self.categories.find(text, limit=4, fuzzy=False) if m.score >= CATEGORY_MIN_SCORE}
        for m in self.categories.find(text, limit=4):
            if m.score >= CATEGORY_MIN_SCORE and m.key not in found:
                found[m.key] = m
        return sorted(found.values(), key=lambda m: m.rank, reverse=True)

    def find_area(self, text: str) -> tuple[str, list[Area], int | None]:
        """(town, the rows that fit, 丁目) — several rows mean the data splits the town."""
        return self._find_area(text)[:3]

    def _find_area(self, text: str) -> tuple[str, list[Area], int | None, Match[str] | None]:
        """``find_area`` and the match that found the town (how surely it was heard)."""
        m = self.areas.best(text, AREA_MIN_SCORE)
        if m is None or self._inside_longer_name(text, m.form):
            return "", [], chome_of(text), None
        chome = chome_of(text)
        rows = self._towns[m.key]
        if chome is not None:
            fitting = [a for a in rows if chome in a.chome_numbers()]
            rows = fitting or rows
        return m.key, rows, chome, m

    def _inside_longer_name(self, text: str, form: str) -> bool:
        """青崎町 (青垣町 misheard) holds 佐紀町's sound after アオ: a longer name heard, not that town,
        which is then only a guess by sound (``Recovery.guess_slot``). The city's own name before a
        town (奈良市青山) is no longer name."""
        said = nfkc(text)
        if form in said:
            return False
        city = reading(self.kb.municipality.name)  # long vowels already written ー, as ``heard`` is
        runs = [(run, False) for run in _NAME_RUN.findall(said)] + [
            (run, True) for pattern in (_HIRAGANA_RUN, _KANA) for run in pattern.findall(said)]
        for run, kana in runs:
            heard = reading(run)
            for r in self.areas.readings_of(form):
                at = heard.find(r) if r else -1
                if at <= 0 or heard[:at] in (city, city[:-1]):
                    continue
                if not (kana and heard[at - 1] in _PARTICLE_READINGS):
                    return True
        return False

    def narrow_by_side(self, rows: list[Area], text: str) -> list[Area]:
        """Keep the rows whose qualifier the caller named (北側, 東側, 大宮通り …); 「三笠山麓町以外です」
        names the rest of the town, though it says the other part's name."""
        t = nfkc(text)
        rest = [a for a in rows if is_rest(a.qualifier)]
        if rest and REST_SAID.search(t):
            return rest
        hits = [a for a in rows if a.qualifier and (a.qualifier in t or side_of(a.qualifier) in t)]
        return hits or rows

    def extract(self, text: str) -> Entities:
        ents = Entities()
        area = self._find_area(text)
        town = area[3]
        # 北之庄町 holds 賞状's sound: an item is not looked for inside a town heard as written
        town_said = town is not None and town.how != "fuzzy" and town.form in text
        ents.items = self.find_item(text.replace(town.form, "、") if town_said else text)
        vehicle = _CARRIED_BY.search(nfkc(text))
        means = [m for m in ents.items if m.after.startswith(MEANS_AFTER) or (vehicle and _inside_word(m, vehicle[1]))]
        if means or vehicle:  # 車で持って行きたい: how it is carried, not what
            ents.means = vehicle[1] if vehicle else means[0].form
            ents.items = [m for m in ents.items if m not in means]
        if ents.items:
            ents.item = self.kb.item_by_name[ents.items[0].key]
            bulk = self._bulk.get(ents.item.name)
            if bulk is not None and any(w in text for w in BULK_WORDS):
                ents.item = bulk
        said = self._said_categories(text)
        inside = [m for m in said if ents.item is not None and ents.items[0].how != "fuzzy"
                  and _inside_item(m, ents.items[0], ents.item, text)]
        said = [m for m in said if m not in inside]
        ents.category = None if inside and not said else self.find_category(text, said)
        ents.categories = [self.kb.category_by_name[m.key] for m in said]  # 事務所のごみ … 燃えるごみの日
        if ents.items and ents.items[0].how == "fuzzy" and any(_same_words(ents.items[0].form, m.form, text)
                                                               for m in said):
            # プラスチックは何曜日 is no プラスチックカード, 会社のごみ no 会社の書類: the category was said
            ents.items = []
            ents.item = None
        ents.area_town, ents.areas, ents.chome, heard = area
        by_sound = heard is not None and heard.how == "fuzzy"
        if by_sound and ents.items and ents.items[0].how != "fuzzy":  # 包丁 is no 後藤町 heard by its sound
            ents.area_town, ents.areas = "", []
        if (not ents.area_town or by_sound) and (opening := self.openings.said(text)[0]):
            ents.town_opening, ents.area_town, ents.areas = opening, "", []  # 西大寺です: not 西大寺北町 by sound
        ents.area_guessed = by_sound and bool(ents.area_town) and heard.score < AREA_CONFIRM_SCORE
        if len(ents.areas) > 1:
            ents.areas = self.narrow_by_side(ents.areas, text)
        return ents


def _short_sounds(phrases: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Category words of two kana as written in kana (古紙 → コシ): too short for the reading index,
    they are found as words standing on their own, which is how Whisper writes them
    (「あの、コシの回収日は」). Not for items: はい would be 灰."""
    return [(key, r) for key, word in phrases
            if not _KANA.fullmatch(word) and len(r := indexed_reading(word)) == SHORT_SOUND_KANA]


SAME_WORDS_CHARS = 3  # a fuzzy item opening with this much of a category word may have heard only that word
REST_HEARD = 60.0  # …unless the rest of the item is heard too (partial ratio of its reading, 0–100)


def _same_words(item_form: str, category_form: str, text: str) -> bool:
    """Whether a fuzzy item match is only the category word heard again: プラスチックカード in
    プラスチックは, 会社の書類 in 会社のごみ (but ノートパソコン is heard beyond パソコン)."""
    a, b = spelling(item_form), spelling(category_form)
    common = len(os.path.commonprefix([a, b]))
    if common < SAME_WORDS_CHARS:
        return False
    rest = reading(a[common:]) or a[common:]
    return fuzz.partial_ratio(rest, reading(text) or text) < REST_HEARD


def _inside_item(category: Match[str], item: Match[str], found: Item, text: str) -> bool:
    """A category word that is only part of the item's name (バッテリー in 車のバッテリー, whose
    category is another): not said. 「車のバッテリーはどうしたら」 had been the lithium battery answer."""
    form = category.form
    return (category.key != found.category and form in item.form
            and form not in text.replace(item.form, "", 1))


def _inside_word(m: Match[str], word: str) -> bool:
    """The match is (inside) ``word``, as written or as read: 毛糸 (ケート) in 軽トラ (ケートラ)."""
    own = long_vowels(reading(m.form))
    return spelling(m.form) in spelling(word) or bool(own and own in long_vowels(reading(word)))


def _misheard_kanji(items: list[Item]) -> set[str]:
    """Mis-hearings listed for their spelling only: ASR writes 梁 for 針 (both はり), but g2p reads
    梁 リョー, which would find 針 in タイリョー (大量). Kept by sound when it is near the item's."""
    out: set[str] = set()
    for item in items:
        own = long_vowels(item.reading)
        for phrase in item.mishearings:
            if fuzz.ratio(indexed_reading(phrase), own) < MISHEARD_SOUND_SIMILARITY:
                out.add(phrase)
    return out


RUN_ON_KANA = 2  # katakana this long straight after (or before) a kanji item is another word, not a particle


def runs_on(text: str, form: str) -> bool:
    """Whether the item words ``form`` were heard only as part of a longer, unknown word.

    Whisper writes what it cannot read as katakana glued to the nearest word it knows: 天ぷら油
    came out 「電池ラブラ」 on a clean line, and 電池 then answered with 乾電池's rule. A kanji item
    running straight into (or out of) a katakana stretch is read back before it is answered; a
    longer item that covers the whole run (ボタン電池, 電池パック) matches first and is not affected.
    """
    t = nfkc(text)
    if not form or form not in t:
        return False
    for start in (i for i in range(len(t)) if t.startswith(form, i)):
        end = start + len(form)
        after = t[end : end + RUN_ON_KANA]
        before = t[max(0, start - RUN_ON_KANA) : start]
        glued_after = _word_end(form[-1]) and len(after) == RUN_ON_KANA and all(map(_katakana, after))
        # katakana before a katakana word is mostly a compound it heads (オーブンレンジ): no glue
        glued_before = is_kanji(form[0]) and len(before) == RUN_ON_KANA and all(map(_katakana, before))
        if not (glued_after or glued_before):
            return False  # said on its own somewhere: heard as itself
    return True


def _word_end(ch: str) -> bool:
    """An item's last character that may be glued to Whisper's katakana: a kanji, or a katakana
    item (or an item's reading) running on into more katakana (センスラブラ: the item only
    modifies the unknown word, which is what the caller meant)."""
    return is_kanji(ch) or _katakana(ch)


def _katakana(ch: str) -> bool:
    return "\u30a1" <= ch <= "\u30fa"  # ー (U+30FC) alone is no word
