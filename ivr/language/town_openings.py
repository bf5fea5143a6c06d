"""The opening several towns share, said as if it were a town: 「西大寺です」, 「学園前の燃えるごみ」.

Callers name the district they know (a station, 西大寺, 学園前, 富雄), and the city's data has
many towns that open that way (西大寺北町, 西大寺南町 … sixteen in Nara). The town matcher then
heard the nearest by sound (西大寺北まち, 79) and answered its days, or asked 「お住まいの町名を」 as
if nothing had been said. Neither is right: the bot asks which of the towns it is, naming a few.

Openings are where town names branch (西大寺 → 北町, 南町, 町 …), taken from the data, written
as the city writes them and as read (さいだいじ, as ASR may write it). 学園前 is no town's
opening; its 学園 is, and the caller hears 学園北, 学園南 … as examples.
"""

from __future__ import annotations

import os
import re

import jaconv

from ivr.language.readings import long_vowels

MIN_OPENING_CHARS = 2  # one kanji (東, 西) opens dozens of unrelated towns
MIN_OPENING_KANA = 3  # as read: two kana fit too much

# what may follow the opening in the caller's words and still leave it standing alone (not 西大寺北町)
_ALONE_AFTER = re.compile(r"(?:$|[、。,.!！?？\s]|です|で|の|に|は|って|や|駅|前|あたり|辺|周辺|方面|なんですけど)")
_KANJI = re.compile(r"[\u4e00-\u9fff々ヶ]")


def _branching(names: dict[str, str]) -> dict[str, list[str]]:
    """Every opening (of ``names``' keys: spellings or sounds) that two or more towns go on from
    in different ways: 西大寺 (北町, 南町, 町 …), not 西大 (always 寺 next) nor a town itself."""
    shared: dict[str, set[str]] = {}
    for key, town in names.items():
        for k in range(1, len(key)):
            shared.setdefault(key[:k], set()).add(town)
    out: dict[str, list[str]] = {}
    for opening, towns in shared.items():
        next_chars = {key[len(opening)] for key in names if key.startswith(opening) and len(key) > len(opening)}
        if len(towns) >= 2 and len(next_chars) >= 2 and opening not in names:
            out[opening] = sorted(towns, key=lambda t: (len(t), t))
    return out


class TownOpenings:
    """Which shared opening a caller said in place of a town, and the towns it opens."""

    def __init__(self, readings: dict[str, str]) -> None:
        """``readings``: town → its reading in katakana, as the data gives it."""
        self._by_name = {o: t for o, t in _branching({t: t for t in readings}).items()
                         if len(o) >= MIN_OPENING_CHARS and _KANJI.search(o[-1])}
        # the same openings as read (サイダイジ), for an answer ASR wrote in kana; no other sounds,
        # since a kana stretch is often no town at all (みなみ, a side; しょう)
        self._by_sound: dict[str, list[str]] = {}
        for towns in self._by_name.values():
            sound = os.path.commonprefix([long_vowels(readings[t]) for t in towns])
            if len(sound) >= MIN_OPENING_KANA:
                self._by_sound.setdefault(sound, towns)

    def said(self, text: str) -> tuple[str, list[str]]:
        """(the opening as said, the towns it opens) when ``text`` names one standing alone; the
        longest wins (学園朝日 over 学園). ("", []) otherwise."""
        best = ""
        for opening in (o for o in self._by_name if len(o) > len(best)):
            at = text.find(opening)
            while at >= 0:
                before = text[at - 1] if at else ""
                if not _KANJI.match(before) and _ALONE_AFTER.match(text, at + len(opening)):
                    best = opening
                    break
                at = text.find(opening, at + 1)
        if best:
            return best, self._by_name[best]
        kana = re.fullmatch(r"([ぁ-んァ-ヶー]+?)(?:です|やけど|ですけど|って)?[、。!！?？\s]*", text)
        if kana:
            sound = long_vowels(jaconv.hira2kata(kana[1]))
            if sound in self._by_sound:
                return kana[1], self._by_sound[sound]
        return "", []
