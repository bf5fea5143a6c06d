"""Split an area label into town, 丁目 and qualifier: 大宮町１丁目（大宮通り北側）.

Real labels mix full-width and kanji numerals (１〜３丁目, 一・二丁目) and trailing notes
(（下記以外）, ３丁目１～７番、１５～１６番), so this is a small hand-written parser.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUMBER = r"[0-9]+|[一二三四五六七八九十]+"
_CHOME = re.compile(rf"((?:{_NUMBER})(?:\s*[〜~～・,、\-]\s*(?:{_NUMBER}))*)丁目")
_QUALIFIER = re.compile(r"[（(]([^（）()]*)[）)]")


@dataclass(frozen=True)
class AreaName:
    town: str
    chome: str  # "1-3", "1,2" or ""
    qualifier: str


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.startswith("十"):  # 十, 十一 …
        return 10 + (_KANJI_DIGITS[text[1]] if len(text) > 1 else 0)
    if len(text) == 2 and text[1] == "十":  # 二十
        return _KANJI_DIGITS[text[0]] * 10
    return _KANJI_DIGITS[text[0]]


def _chome_spec(text: str) -> str:
    parts = re.split(r"\s*([〜~～・,、\-])\s*", text)
    numbers = [_number(p) for p in parts[::2]]
    separators = parts[1::2]
    if len(numbers) == 2 and separators[0] in "〜~～-":
        return f"{numbers[0]}-{numbers[1]}"
    return ",".join(str(n) for n in numbers)


def split_area_name(label: str) -> AreaName:
    text = unicodedata.normalize("NFKC", label).strip()
    qualifiers = [q.strip() for q in _QUALIFIER.findall(text) if q.strip()]
    bare = _QUALIFIER.sub("", text).strip()
    match = _CHOME.search(bare)
    if match:
        town = bare[: match.start()].strip()
        rest = bare[match.end() :].strip(" 、,")
        if rest:
            qualifiers.insert(0, rest)
        return AreaName(town or bare, _chome_spec(match[1]), "・".join(qualifiers))
    return AreaName(bare, "", "・".join(qualifiers))
