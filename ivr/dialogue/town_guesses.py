"""Guessing the town a caller named when it was not heard as written: by its first sounds (おおみや),
by its sound (アオニャマ → 青山), by what the audio sounded most like, or by a postal code keyed in.

A mixin of ``Recovery``: it reads and changes the same per-call ``CallState``.
"""

from __future__ import annotations

import re

import jaconv

from ivr.dialogue import prompts
from ivr.dialogue.callback import phone_digits
from ivr.dialogue.handlers import AREA_HANDLERS
from ivr.dialogue.postal_codes import town_of_postal_code
from ivr.dialogue.read_back import spell_reading
from ivr.dialogue.replies import asks, closes_call
from ivr.dialogue.state import AskSlot, CallState, ConfirmTown
from ivr.knowledge.base import KnowledgeBase
from ivr.language.entities import EntityExtractor
from ivr.language.normalize import normalize
from ivr.language.readings import long_vowels, reading
from ivr.language.sound_guesses import (
    ANSWER_TAIL,
    AUDIO_CHOICES,
    TOWN_TAIL,
    heard_town,
    nearest,
    sounds_like,
    town_readings,
    town_said,
    town_sounds,
)
from ivr.language.understand import Parse

POSTAL_DIGITS = 7
MAX_FIRST_SOUNDS_CHARS = 8  # longer is a sentence or a whole (wrong) name, not a town's opening
MIN_FIRST_SOUNDS = 2  # kana of a town's opening the caller must give (あお alone fits 11 towns: asked again)
# A town name not found, asked for, is read back when it sounds like one town: the mean of rapidfuzz
# ratios on its kana and on its romaji (a misheard consonant, ナサトミ for ナカトミ, costs half a kana),
# with and without its 町. bench/slot_guesses.py (dev area answers, 29 towns × 3 voices, decoded as the
# bot does), right / wrong read-backs clean · 20 dB · 10 dB: kana ratio ≥ 60, margin 8: 20/3 · 21/3 ·
# 8/4; this, ≥ 65, margin 5: 28/1 · 27/4 · 6/3. Non-names said then (はい, 燃えるごみです, わかりません,
# ちょっと待って) score under it.
TOWN_SOUND_RATIO = 65.0
TOWN_SOUND_MARGIN = 5.0  # the next town this close: no guess, the caller is asked again


class TownGuesses:
    """The town half of ``Recovery``."""

    kb: KnowledgeBase
    entities: EntityExtractor
    state: CallState

    def wants_postal_code(self) -> bool:
        """Asked for the area again: keypad digits are a postal code (7 digits, then #)."""
        pending = self.state.pending
        return isinstance(pending, AskSlot) and pending.slot == "area" and pending.tries > 0

    def fill_area(self, pending: AskSlot, parse: Parse) -> bool:
        """The area asked for, said as its first sounds (おおみや for 大宮町) when only one town
        opens that way, written as the caller would (kana, or the town's own kanji: 大宮); or its
        postal code said aloud (「630-8244です」: the prompt offers the keypad, callers also say it)."""
        if pending.slot == "area" and len(code := phone_digits(parse.text)) == POSTAL_DIGITS \
                and (town := self.town_of_postal_code(code)) and (found := self.entities.find_area(town))[0]:
            self.state.set_area(found[0], found[1])
            return True
        town, as_written = self._town_by_opening(pending, parse)
        if not town or not as_written:
            return False
        self.state.set_area(town, self.entities.towns[town])
        return True

    def _guess_town(self, pending: AskSlot, parse: Parse) -> str | None:
        """A town asked for and not found that sounds like one town (アオニャマ → 青山): its read-back."""
        if pending.slot != "area" or (parse.area_town and not parse.area_guessed) or parse.town_opening:
            return None
        guesses = (lambda: parse.area_town, lambda: self._town_by_opening(pending, parse)[0],
                   lambda: self._town_by_sound(parse), lambda: self._town_heard_as(parse))  # first that fits
        town = next((t for guess in guesses if (t := guess()) and ("town", t) not in self.state.refused), "")
        if not town:
            return None
        self.state.pending = ConfirmTown(pending.topic, parse, town=town, asked=pending)
        return prompts.CONFIRM_ITEM.format(reading=spell_reading(town_said(self.entities)[town]))

    def confirm_guessed_town(self, intent: str, parse: Parse | None) -> str | None:
        """A town guessed by its sound in the question itself (「市長東京ですけど、燃えるごみの日は」,
        七条東町 said: 雑司町 at 79) is read back before its days, as when it answers 「町名は」: its side
        question (「雑司町は、場所によって…」) or its days had come as if the caller had named it."""
        if parse is None or not parse.area_guessed or self.state.area_rows or not self._asks_days(intent):
            return None
        return self._guess_town(AskSlot(intent, "area"), parse)

    def _asks_days(self, intent: str) -> bool:
        topic = self.kb.topic_by_id.get(intent)
        return topic is not None and topic.handler in AREA_HANDLERS

    def _towns_to_hear(self, text: str) -> list[str]:
        """The towns nearest in sound to an answer that names no town and sounds like no one town
        (「ご紹介です」 for 五条町です), as the caller would say them; [] when the text will do or asks."""
        said, towns = normalize(text), town_sounds(self.entities)
        if (not (heard := heard_town(said)) or closes_call(said) or asks(text)
                or self.entities.find_area(said)[0] or sounds_like(heard, towns, TOWN_SOUND_RATIO, TOWN_SOUND_MARGIN)):
            return []  # a reply, a town named, or one read back by its sound already
        return [f"{town}{ANSWER_TAIL}" for town in nearest(heard, towns, AUDIO_CHOICES)]

    def _town_heard_as(self, parse: Parse) -> str:
        return town if (town := heard_name(parse)) in self.entities.towns else ""

    def _town_by_opening(self, pending: AskSlot, parse: Parse) -> tuple[str, bool]:
        """The one town whose reading opens with what was said, and whether it was written as the
        caller would write it: in kana, or in the town's own kanji (大宮). Other kanji are ASR's
        guess at the sounds, read by g2p one of several ways (「今、行って」 → イマコー → 今小路町, for
        今市町 said): that town is read back, not answered."""
        if pending.slot != "area" or parse.area_town:
            return "", False
        said = TOWN_TAIL.sub("", parse.normalized)
        if not said or len(said) > MAX_FIRST_SOUNDS_CHARS:
            return "", False  # a sentence, not the opening of a name
        kana = re.fullmatch(r"[ぁ-んァ-ヶー]+", said) is not None
        # as ASR writes it, kana or kanji for the sound (大宮 for おおみや): compared as read
        opening = long_vowels(jaconv.hira2kata(said) if kana else reading(said))
        if len(opening) < MIN_FIRST_SOUNDS:
            return "", False
        towns = {town for town, sound in town_readings(self.entities).items() if sound.startswith(opening)}
        if len(towns) != 1:
            return "", False
        town = towns.pop()
        return town, kana or town.startswith(said)

    def _town_by_sound(self, parse: Parse) -> str:
        heard = heard_town(parse.normalized)
        return sounds_like(heard, town_sounds(self.entities), TOWN_SOUND_RATIO, TOWN_SOUND_MARGIN) if heard else ""

    def town_answered(self, pending: ConfirmTown, yes: bool) -> None:
        """はい: the town is the caller's; いいえ: the area question stands, asked once more."""
        if yes:
            self.state.set_area(pending.town, self.entities.towns[pending.town])
        else:
            self.state.refused |= {("town", pending.town)}
            self.state.pending = pending.asked

    def fill_postal_code(self, digits: str) -> bool | None:
        """A postal code keyed in for the area: True when it named one of this city's towns,
        False when not, None when the digits are no postal code."""
        code = digits.strip().rstrip("#")
        if not self.wants_postal_code() or len(code) != POSTAL_DIGITS or not code.isdigit():
            return None
        town = self.town_of_postal_code(code)
        if not town:
            return False
        found, rows, _ = self.entities.find_area(town)
        if not found:
            return False
        self.state.set_area(found, rows)
        return True

    def town_of_postal_code(self, code: str) -> str:
        """The 町名 a postal code stands for in this city, or ''."""
        return town_of_postal_code(self.kb.municipality.name, code)


def heard_name(parse: Parse) -> str:
    """The expected name the turn's audio sounded most like (``AsrResult.chosen``), as named."""
    return parse.heard_as.removesuffix(ANSWER_TAIL)
