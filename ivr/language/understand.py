"""One caller utterance → intent, confidence, and the slots it fills.

This is the only entry point the dialogue uses; it is built once per knowledge base (models
load once) and is safe to call from several calls at the same time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import jaconv

from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.models import Area, Category, Item
from ivr.language.dates import parse_date
from ivr.language.embeddings import Embedder, get_embedder
from ivr.language.entities import Entities, EntityExtractor, runs_on
from ivr.language.intents import IntentClassifier
from ivr.language.item_guesses import glued_to_noun
from ivr.language.normalize import nfkc, normalize
from ivr.language.question_forms import (
    asks_after_missing,
    asks_how_to_dispose,
    goes_out_as_a_category,
    names_a_kind_of_things,
    thing_asked_of_a_category,
)
from ivr.language.readings import load_reading_cache, save_reading_cache
from ivr.language.respell import Respeller
from ivr.language.routing import ITEM_DAY_TOPICS, IntentRouter
from ivr.language.yes_no import heard_no, yes_no

# Under the dialogue's accept line (session.ACCEPT_CONFIDENCE 0.55), over its confirm line (0.30):
# a topic word re-read from its kanji's sounds (武法統規 → 不法投棄) is asked about before acted on
RESPELT_CONFIDENCE = 0.5
MAX_PARSE_CHARS = 1000  # a spoken turn is far shorter; pyopenjtalk raised on 10,000 characters


@dataclass
class Parse:
    """What the caller said, as the dialogue needs it."""

    text: str
    normalized: str
    intent: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    item: Item | None = None
    item_form: str = ""  # the words the caller used for it
    item_score: float = 0.0  # how surely it was heard (matcher score, 0–100)
    item_how: str = ""  # surface | reading | fuzzy (by sound only, or a clipped opening)
    item_run_on: bool = False  # its words ran on into an unknown katakana word (電池ラブラ): read back
    heard_confidence: float = 1.0  # the recogniser's trust in ``text`` (set by the dialogue; 1 when typed)
    heard_as: str = ""  # the expected answer (a town, a no) the audio sounds most like (CallerTurn.heard_as)
    category: Category | None = None
    area_town: str = ""
    area_guessed: bool = False  # heard by its sound alone (セキラチョー → 紀寺町): read back when answering 町名は
    areas: list[Area] = field(default_factory=list)
    town_opening: str = ""  # an opening many towns share, said for the town (西大寺です): which one is asked
    chome: int | None = None
    date: date | None = None
    yes_no: bool | None = None  # as the answer to an offer or to 「ほかにご質問は」; see ``answer``
    thing_unheard: bool = False  # asks how to get rid of a thing, or its category, but the thing was not heard
    elapsed_ms: float = 0.0

    def answer(self, *, confirming: bool) -> bool | None:
        """Yes or no to the question just asked: 大丈夫です is a yes to 〜でよろしいですか, a no thanks
        to an offer (``yes_no``'s ``confirming``)."""
        if not confirming:
            return self.yes_no
        said = yes_no(self.text, confirming=True, heard_confidence=self.heard_confidence)
        if said is None and heard_no(self.heard_as):
            return False  # an unwritten reply that sounds most like a no (``ivr.dialogue.replies``)
        return said

    def slots(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.item:
            out["item"] = self.item.name
        if self.category:
            out["category"] = self.category.name
        if self.area_town:
            out["area"] = self.areas[0].name if len(self.areas) == 1 else self.area_town
        if self.date:
            out["date"] = self.date.isoformat()
        return out


_ANY_DAY = date(2000, 1, 3)  # for "was a date said at all": the day itself does not matter


ITEM_MASK = "〇〇"


def mask_item(normalised: str, ents: Entities) -> str:
    """Replace the item's words (when found as written) by 〇〇."""
    if not ents.items:
        return normalised
    form = jaconv.hira2kata(nfkc(ents.items[0].form))
    at = jaconv.hira2kata(normalised).find(form)
    if at < 0:
        return normalised
    return normalised[:at] + ITEM_MASK + normalised[at + len(form):]


def _tokens(ents: Entities, has_date: bool) -> list[str]:
    tokens: list[str] = []
    if ents.item:
        tokens += ["item", f"itemcat:{ents.item.category}"]
    if ents.category:
        tokens.append(f"cat:{ents.category.name}")
    if ents.area_town:
        tokens.append("area")
    if has_date:
        tokens.append("date")
    return tokens


class Understanding:
    def __init__(self, kb: KnowledgeBase, embedder: Embedder | None = None, cache_dir: Path | None = None) -> None:
        self.kb = kb
        if cache_dir is not None:
            load_reading_cache(cache_dir)
        self.entities = EntityExtractor(kb)
        self.classifier = IntentClassifier(
            kb.topics, embedder or get_embedder(), self.prepare, extra=kb.phrasings, cache_dir=cache_dir
        )
        self.router = IntentRouter(kb, self.entities)
        topic_texts = [t.title for t in kb.topics] + [x for t in kb.topics for x in t.examples + t.keywords]
        self.respeller = Respeller(topic_texts + [text for text, _ in kb.phrasings],
                                   is_item=lambda r: bool(self.entities.items.by_whole_reading(r)))
        if cache_dir is not None:
            save_reading_cache(cache_dir)

    def prepare(
        self, text: str, ents: Entities | None = None, has_date: bool | None = None, normalised: str | None = None
    ) -> tuple[str, list[str]]:
        """What the intent classifier sees: the item mention masked, entity facts as tokens.

        Masking teaches 「〇〇は何ごみ」 whatever the item, so an unknown or mangled item word does
        not drag the guess towards an unrelated topic. Entities are looked for in the caller's
        own words (dialect kept), the rest in the standardised form.
        """
        if normalised is None:
            normalised = normalize(text)
        if ents is None:
            ents = self.entities.extract(normalize(text, dialect=False))
        if has_date is None:
            has_date = parse_date(normalised, _ANY_DAY) is not None
        return mask_item(normalised, ents), _tokens(ents, has_date)

    def parse(self, text: str, today: date) -> Parse:
        started = time.perf_counter()
        text = text[:MAX_PARSE_CHARS]  # pyopenjtalk refuses very long input; no caller's turn is this long
        heard, respelt = self.respeller.respell(text)
        normalised = normalize(heard)
        ents = self.entities.extract(normalize(heard, dialect=False))
        day = parse_date(normalised, today)
        guess = self.classifier.classify(*self.prepare(heard, ents, day is not None, normalised))
        intent, confidence = self.router.route(guess, ents, normalised, day is not None)
        if respelt:
            confidence = min(confidence, RESPELT_CONFIDENCE)
        if day is None and intent == "next_collection" and asks_after_missing(normalised):
            day = today  # 「燃えないごみ出しそびれた、次いつ」: today's is gone, the next is after it
        parse = Parse(
            text=text,
            normalized=normalised,
            intent=intent,
            confidence=confidence,
            alternatives=guess.alternatives,
            item=ents.item,
            item_form=ents.items[0].form if ents.items else "",
            item_score=ents.items[0].score if ents.items else 0.0,
            item_how=ents.items[0].how if ents.items else "",
            item_run_on=_runs_on(text, ents, self.entities.items.readings_of) or _serves_another(ents),
            category=ents.category or (self.router.day_of_item(ents, normalised)
                                       if intent in ITEM_DAY_TOPICS else None),
            area_town=ents.area_town,
            area_guessed=ents.area_guessed,
            areas=ents.areas,
            town_opening=ents.town_opening,
            chome=ents.chome,
            date=day,
            yes_no=yes_no(text),
            thing_unheard=not (ents.items or ents.area_town or day is not None) and (
                ((asks_how_to_dispose(normalised) or names_a_kind_of_things(normalised)) and not ents.category)
                or self._names_an_unknown_thing(normalised) or goes_out_as_a_category(normalised)),
        )
        parse.elapsed_ms = (time.perf_counter() - started) * 1000
        return parse

    def _names_an_unknown_thing(self, normalised: str) -> bool:
        """The thing whose category is asked is none the bot knows (「人は大型ごみになりますか」, 布団
        misheard): which thing is the next question. A category named so (「古紙は何ごみですか」) is
        known: its own answer (集団資源回収) is given, where the bot had asked for the thing's name."""
        thing = thing_asked_of_a_category(normalised)
        return bool(thing) and self.entities.find_category(thing) is None


# After an item, as matches report it: the item holds or serves the thing asked about (レンジで使う容器,
# 冷蔵庫に入ってた容器, 電子レンジ用の容器). When that thing is no item (no other match went first),
# the item is read back, never answered: 「レンジで使う容器はプラですか」 got 電子レンジ's rule (大型ごみ).
SERVES_AFTER = ("デ使", "デツカ", "ニ使", "ニツカ", "用ノ", "ヨーノ", "ニ入", "ニハイ", "ニイレ")


def _serves_another(ents: Entities) -> bool:
    return bool(ents.items) and ents.items[0].after.startswith(SERVES_AFTER)


def _runs_on(text: str, ents: Entities, readings_of: Callable[[str], set[str]]) -> bool:
    """The item was heard only inside an unknown word: each of its names found in the text runs on
    (携帯の電池パック matched as 携帯の電池 is not: its alias 電池パック stands on its own)."""
    if not ents.items or ents.item is None:
        return False
    forms = {m.form for m in ents.items if m.key == ents.items[0].key}
    forms |= {ents.item.name, *ents.item.aliases}
    found = [form for form in forms if form and form in nfkc(text)]
    if not found and ents.items[0].how == "reading":  # 扇子 heard as 「センスラブラ」: its sound, in katakana
        found = [r for r in readings_of(ents.items[0].form) if r and r in nfkc(text)]
    if found and all(runs_on(text, form) for form in found):
        return True
    return glued_to_noun(text, ents.items[0].form, readings_of(ents.items[0].form), readings_of(ents.item.name))
