"""Which of several items heard in one question is the thing asked about.

「リモコンから抜いた電池」「コンロ用のボンベ」 name two items: the one after the particle is held in
the caller's hand, the one before it is where it came from. 「ヘアムースの缶」 names a kind (the city
lists 整髪ムース), and 「ストーブの灯油」 a part the city's own rule for the stove says to take out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ivr.language.matcher import Match, spelling
from ivr.language.readings import reading

# After an item, in katakana as matches report it: it qualifies the next item (see _modifies) …
MODIFIER_AFTER = ("カラ", "ニ", "デ", "ヨーノ", "用ノ", "ノ")
# … except where it is still the topic: の before 捨て方 and the like (ボンベの捨て方, 電池のやつ),
# and です, でも, になる, which only look like those particles.
TOPIC_AFTER = ("ノステ", "ノ捨テ", "ノダシ", "ノ出シ", "ノショブン", "ノ処分", "ノコト", "ノカイシュー", "ノ回収",
               "ノブンベツ", "ノ分別", "ノシューシュー", "ノ収集", "ノホカシ", "ノゴミ", "ノヤツ", "ノホー",
               "デス", "デシ", "デモ", "ニナ")


def _modifies(m: Match[str]) -> bool:
    """Whether the particle after an item makes it the setting of another item rather than the
    thing asked about: 仏壇に供えた花, リモコンから抜いた電池, コンロ用のボンベ, 冷蔵庫の奥の果物."""
    return m.after.startswith(MODIFIER_AFTER) and not m.after.startswith(TOPIC_AFTER)


def head_first(found: list[Match[str]]) -> list[Match[str]]:
    """The best item that is not a modifier goes first, if it was seen as written or read."""
    if len(found) < 2 or not _modifies(found[0]):
        return found
    for m in found[1:]:
        if m.how != "fuzzy" and not _modifies(m) and not names_kind(found[0], m) and not _inside(m, found[0]):
            return [m] + [x for x in found if x is not m]
    return found


COMPOUND_MORE = 2  # kana more the compound must cover: ペットボトルのキャップ (7) over ペットボトル (6) is no compound


def compound_first(found: list[Match[str]]) -> list[Match[str]]:
    """経済電話 for 携帯電話: 電話 (電話機) is matched exactly inside a compound that sounds, as a
    whole, like a longer item holding it. The longer item, a guess read back, goes first: the
    caller said a compound, and answering 電話機's rule would answer another item unconfirmed."""
    if len(found) < 2 or found[0].how == "fuzzy":
        return found
    for m in found[1:]:
        if m.how == "fuzzy" and m.length >= found[0].length + COMPOUND_MORE and _inside(found[0], m):
            return [m] + [x for x in found if x is not m]
    return found


def _inside(part: Match[str], whole: Match[str]) -> bool:
    """ペン is inside ペン型注射器: a word of the match itself, not another item."""
    return spelling(part.form) in spelling(whole.form) or reading(part.form) in reading(whole.form)


def names_kind(first: Match[str], then: Match[str]) -> bool:
    """XのY with Y straight after の: X says what kind of Y (スチールウールのたわし, ペン型注射器の
    針), and the city lists the kind, so X stays the item."""
    if not first.after.startswith("ノ"):
        return False
    rest = first.after[1:]
    return any(rest.startswith(form[:2]) for form in (spelling(then.form), reading(then.form)) if form)


# What an item's own rule says to do with a part of it: 石油ストーブ 「灯油は必ず抜いて」, 植木 「土を落として」,
# おもちゃ 「電池は外してください」. The part, named right after の (ストーブの灯油), is what the caller holds.
_TAKEN_OUT = re.compile(r"^(?:は|を|も)(?:必ず|先に)?(?:外|はず|抜|ぬ|落と|おと|取り|とり|出して)")


def removed_part_first(found: list[Match[str]], note_of: Callable[[str], str]) -> list[Match[str]]:
    """XのY where X's rule says to take Y out: 「ストーブの灯油が残ってる」 asks about the kerosene
    (市では収集できない), and had been answered with the stove's rule (大型ごみ). Otherwise XのY with Y
    straight after の keeps X (``names_kind``: ヘアムースの缶, ペン型注射器の針)."""
    if len(found) < 2 or not found[0].after.startswith("ノ"):
        return found
    note = note_of(found[0].key)
    for m in found[1:]:
        if m.how == "fuzzy" or not names_kind(found[0], m):
            continue
        at = note.find(m.form)
        if at >= 0 and _TAKEN_OUT.match(note[at + len(m.form):]):
            return [m] + [x for x in found if x is not m]
    return found
