"""A slot answer not found, guessed by how it sounds: the one town or item it is like.

Only where the bot has just asked for that slot (「町名を」, 「捨てたいものの名前を」) and found
nothing in the answer: there a lone word is almost surely a name, misheard (なさとみがおか for
中登美ヶ丘, ボリータンク for ポリタンク, スイファンキー for 炊飯器). The guess is read back
(「ぽりたんく、ですね？」) before anything is answered with it, so a wrong one costs the caller a
いいえ, the same turn asking again would have cost.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

import jaconv

from ivr.knowledge.models import Item
from ivr.language.item_guesses import lone_word, said_reading
from ivr.language.matcher import spelling
from ivr.language.readings import Sound, long_vowels, morphemes, reading
from ivr.language.yes_no import yes_no

if TYPE_CHECKING:
    from ivr.language.entities import EntityExtractor

# A lone item answer not found is read back when it sounds like one item (``Sound.likeness`` over
# every name, alias and spelling of the knowledge base's items). bench/slot_guesses.py --slot item
# (dev item answers, 64 items × 3 voices, decoded as the bot does), of those asked again before,
# right / wrong read-backs clean · 20 dB: ≥ 65, margin 5 (as for towns): 13/5 · 20/10; ≥ 67: 12/3 ·
# 16/7; ≥ 70: 9/3 · 15/6. At 65 a dev call (call_success dev2, clean) had 相適 (掃除機) read back as
# 泡立て器 (66.7), the caller's いいえ heard as はい, and 泡立て器's rule answered. A wrong read-back
# costs one いいえ; a right one saves the re-ask, at 20 dB misheard again about half the time.
ITEM_SOUND_RATIO = 67.0
ITEM_SOUND_MARGIN = 5.0  # another item this close: no guess, the caller is asked again
MIN_ITEM_SOUND = 3  # kana heard: two fit too many items
# Not a name: 「わかりません」 (蚊取り線香 by sound), 「知らない」, 「わからへん」.
_NOT_A_NAME = re.compile(r"(?:ません|ない|へん|らん)(?:です)?[。、!！?？\s]*$")
_KATAKANA = re.compile(r"[ァ-ヴー]+")
_ITEM_TAIL = re.compile(r"(?:です|でした|ですけど|やけど|けど|って|かな|で|[、。!！?？]|\s)+$")  # うとんで: 布団
# A town answer neither found nor guessed by its sound: the towns nearest by sound that the audio
# is scored against (ivr.speech.forced_choice). Dev misses: the town said was among the 12
# nearest in 12 of 15; each costs ~45 ms of decoder.
AUDIO_CHOICES = 12
# An item answer neither found nor guessed by its sound is scored against the audio only when some
# item is at least this like what was heard: of the dev and dev2 item answers (3 voices, clean and
# 20 dB) asked again before, the forced pick was right 25 / wrong 5 on those scored and would have
# been 6 / 18 on those left out (「Thank youです」, 「ごめんね」: Whisper's words for audio it could not read).
ITEM_CHOICE_RATIO = 62.0
# An item answer longer than this is a sentence (「冷蔵庫を捨てたいんですけど」), not a name to score: the
# dev answers whose pick mended a read-back were all a word or two (「ガセット、モンペイです」, 11 characters)
MAX_SCORED_CHARS = 12
ANSWER_TAIL = "です。"  # how a caller ends a one-word answer: 「五条町です。」, the text the audio is scored as


MIN_TOWN_SOUND = 3  # kana heard; あお fits too many towns to guess one
# What callers put after a town's first sounds (おおみや、です; おおみやなんとか): not part of the name.
TOWN_TAIL = re.compile(r"(?:なんとか|なんとか町|ちょう|町|です|やけど|ですけど|って|かな|だったかな|、|。|\s)+$")
_CHOME_SAID = re.compile(r"[0-9０-９一二三四五六七八九十]+\s*(?:丁目|ちょうめ|チョウメ|チョーメ)")


# An answer to 「東側か、西側のどちらですか」 that names no side as written: the side whose sounds
# the word before its 側 is like (北側 heard 期間側, キカンガワ: 74 to キタガワ, 52 to ミナミガワ;
# 西側 heard 右側, ミギガワ, is as like ニシガワ as ヒガシガワ, and is asked again).
SIDE_SOUND_RATIO = 65.0
SIDE_SOUND_MARGIN = 10.0  # two sides this close: asked again, never a guessed side's day answered
_SIDE_SAID = re.compile(r"([^\s、。,.!！?？の]{1,3})(?:側|がわ|ガワ|川)")  # 北川です: 北側, spelt as the name


def side_by_sound(text: str, sides: list[str]) -> str:
    """Which of ``sides`` (北側, 南側 …) the last 〜側 of an answer sounds like; "" when none is
    clearly nearest. 「とみお側の西側」: the last 側 is the side, what comes before it the road."""
    said = _SIDE_SAID.findall(text)
    if not said or not sides:
        return ""
    heard = Sound(long_vowels(reading(said[-1] + "側")))
    named = [(Sound(long_vowels(reading(side))), side) for side in set(sides)]
    return sounds_like(heard, named, SIDE_SOUND_RATIO, SIDE_SOUND_MARGIN)


def heard_town(text: str) -> Sound | None:
    """The sounds of a town answer without its tail (ふざく for 「ふざく3丁目で」); None for a reply
    (いいえ is no 井上: イーエ, イノーエ) or too few sounds to place a town (あお fits too many)."""
    if yes_no(text) is not None:
        return None
    heard = long_vowels(reading(TOWN_TAIL.sub("", _CHOME_SAID.sub("", re.sub(r"で[。、]*$", "", text)))))
    return Sound(heard) if len(heard) >= MIN_TOWN_SOUND else None


def _likeness(heard: Sound, named: Iterable[tuple[Sound, str]]) -> dict[str, float]:
    """Each name's best likeness to ``heard``: a name may come with several sounds."""
    best: dict[str, float] = {}
    for sound, name in named:
        best[name] = max(best.get(name, 0.0), heard.likeness(sound))
    return best


def sounds_like(heard: Sound, named: Iterable[tuple[Sound, str]], ratio: float, margin: float) -> str:
    """The one name whose sounds ``heard`` is like (at least ``ratio``, the next name at least
    ``margin`` behind); "" when none or two are."""
    best = _likeness(heard, named)
    scored = sorted(best.values(), reverse=True)
    if not scored or scored[0] < ratio or (len(scored) > 1 and scored[0] - scored[1] < margin):
        return ""
    return max(best, key=best.__getitem__)


def nearest(heard: Sound, named: Iterable[tuple[Sound, str]], count: int, at_least: float = 0.0) -> list[str]:
    """The ``count`` names whose sounds ``heard`` is most like, best first, none when even the
    best is not ``at_least`` like it; not a name with a qualifier in brackets
    (奈良阪町(奈良加茂線の東側): no caller says that)."""
    best = _likeness(heard, [(sound, name) for sound, name in named if "(" not in name and "（" not in name])
    if not best or max(best.values()) < at_least:
        return []
    return sorted(best, key=lambda name: (-best[name], name))[:count]


def item_by_sound(entities: EntityExtractor, text: str, refused: Collection[str] = ()) -> tuple[Item, str] | None:
    """The item a lone answer to the item question sounds like, with the word heard; None when
    the answer is not one word, is a real word Whisper wrote for what it heard (正直, あなた,
    さよなら: the caller may have said just that; 正直 was read back as 障子 for 掃除機), or no
    single item is near. Items the caller refused are not candidates: 「テンキです」 is as near
    便器 as ペンキ, and once 便器 is refused, ペンキ is the one it sounds like."""
    said = lone_word(text)
    if not said or _NOT_A_NAME.search(text):
        return None
    words = morphemes(said)
    if len(words) == 1 and (not _KATAKANA.fullmatch(said) or words[0][1] == "感動詞"):
        return None  # one dictionary word in kanji or kana (katakana ones are often ASR's spelling)
    heard = long_vowels(said_reading(said))  # 髪をむすれ: カミオムスレ
    if len(heard) < MIN_ITEM_SOUND:
        return None
    candidates = [(sound, name) for sound, name in _item_sounds(entities) if name not in refused]
    name = sounds_like(Sound(heard), candidates, ITEM_SOUND_RATIO, ITEM_SOUND_MARGIN)
    return (entities.kb.item_by_name[name], said) if name else None


def names_something(entities: EntityExtractor, text: str) -> bool:
    """``text`` names an item, a category or a town: an answer by its words, not one to place by sound."""
    return bool(entities.find_item(text) or entities.find_category(text) or entities.find_area(text)[0])


def items_near(entities: EntityExtractor, text: str, refused: Collection[str] = ()) -> list[str]:
    """The ``AUDIO_CHOICES`` items whose sounds an answer to the item question is most like, best
    first; [] when it names an item plainly (冷蔵庫です), a category or a town, or, naming none and
    sounding like no one item, none is even ``ITEM_CHOICE_RATIO`` like it. An item named loosely
    or glued to other sounds (ブレー缶です: 缶) or guessed by its sound (リラコンです: リモコン) is
    read back, and the audio may say better which (スプレー缶, エアコン): it is scored too. Not
    the items the caller refused."""
    said = _ITEM_TAIL.sub("", text)
    if len(said) > MAX_SCORED_CHARS:
        return []
    found = entities.find_item(text)
    if found and found[0].how != "fuzzy" and spelling(said) == spelling(found[0].form):
        return []  # the name alone, as the knowledge base writes it
    if entities.find_category(text) or entities.find_area(text)[0]:
        return []
    heard = Sound(long_vowels(said_reading(said)))
    if len(heard.kana) < MIN_ITEM_SOUND:
        return []
    guessed = bool(found) or item_by_sound(entities, text, refused) is not None
    candidates = [(sound, name) for sound, name in _item_sounds(entities) if name not in refused]
    return nearest(heard, candidates, AUDIO_CHOICES, at_least=0.0 if guessed else ITEM_CHOICE_RATIO)


@functools.lru_cache(maxsize=4)  # per loaded knowledge base: ~4,000 readings
def _item_sounds(entities: EntityExtractor) -> list[tuple[Sound, str]]:
    """Every reading of every item's name, aliases and spellings, with the item's name."""
    sounds: dict[str, set[str]] = {}
    for item in entities.kb.items:
        for phrase in (item.name, *item.aliases, *item.mishearings):
            for kana in entities.items.readings_of(phrase):
                sounds.setdefault(long_vowels(kana), set()).add(item.name)
    return [(Sound(kana), name) for kana, names in sounds.items() for name in names]


@functools.lru_cache(maxsize=4)  # per loaded knowledge base, not per call: 300 towns' readings
def town_said(entities: EntityExtractor) -> dict[str, str]:
    """Town → its reading in katakana as stored, to be spelt for a read-back: サンジョーオージ, whose
    オー after ジョー ``long_vowels`` would make ー (the read-back said さんじょうううじ)."""
    return {town: jaconv.hira2kata(rows[0].reading or reading(town)) for town, rows in entities.towns.items()}


def town_readings(entities: EntityExtractor) -> dict[str, str]:
    """Town → its reading in katakana, long vowels as ー (アオノチョー for 青野町), for matching."""
    return {town: long_vowels(kana) for town, kana in town_said(entities).items()}


@functools.lru_cache(maxsize=4)
def town_sounds(entities: EntityExtractor) -> list[tuple[Sound, str]]:
    """Each town's reading without 町 (アオノ for 青野町: callers leave it off) and whole
    (ゴジョーチョー: 五条町 heard 「ご状況」 is no 五条, which reads as 五条町 without its 町)."""
    readings = town_readings(entities).items()
    return [(Sound(re.sub(r"(チョー|マチ)$", "", sound)), town) for town, sound in readings] + [
        (Sound(sound), town) for town, sound in readings]
