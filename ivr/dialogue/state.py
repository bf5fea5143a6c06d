"""Per-call state, the shared per-process models (``Brain``), and what the bot waits for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from escalation.tickets import TranscriptLine
from ivr.knowledge.base import KnowledgeBase, load_knowledge
from ivr.knowledge.models import Area, Category, Item
from ivr.language.question_forms import names_a_part
from ivr.language.understand import Parse, Understanding

WHERE_SLOTS = ("area", "chome", "side")  # the bot asked where the caller lives
# In an answer to where, an item is taken only when its name was said as written and longer than
# this: 「いわいかまの北側です」 (岩井川 misheard) holds 鎌's かま, whose rule was answered unasked.
WHERE_ITEM_MIN_CHARS = 2


@dataclass
class Brain:
    """Loaded once per process and shared by every call: the knowledge base and the NLU."""

    kb: KnowledgeBase
    nlu: Understanding

    @classmethod
    def load(cls, data_dir: Path | str, embedding_model: str = "", cache_dir: Path | None = None) -> Brain:
        from ivr.config import get_settings
        from ivr.language.embeddings import get_embedder
        from ivr.language.user_dictionary import install

        install(Path(data_dir), cache_dir or get_settings().cache_dir)  # this city's readings, before any g2p
        kb = load_knowledge(data_dir)
        return cls(kb, Understanding(kb, get_embedder(embedding_model), cache_dir))


@dataclass
class AskSlot:
    """Waiting for a slot a topic needs: area, chome / side (which part of a town), item, category."""

    topic: str
    slot: str
    choices: list[Area] = field(default_factory=list)
    tries: int = 0


@dataclass
class Confirm:
    """Asked 「…についてのご質問でよろしいですか」 after a middling-confidence guess."""

    topic: str
    parse: Parse


@dataclass
class ConfirmItem(Confirm):
    """Asked 「れいぞうこ、ですね？」: the item was heard only by a doubtful sound match. A
    ``Confirm``, so はい/いいえ, 1/2 and unclear replies are handled as for any confirmation."""


@dataclass
class ConfirmTown(Confirm):
    """Asked 「あおやま、ですね？」 for a town not found but like one in sound; ``asked`` is asked after いいえ."""

    town: str = ""
    asked: AskSlot | None = None


@dataclass
class OfferStaff:
    """Asked whether to put the caller through to staff."""

    topic: str = "operator"  # what they would talk about: it picks the desk (routing.yaml)
    answered: bool = False  # offered after an answer (an old year's 年末年始): いいえ just goes on


@dataclass
class AnythingElse:
    """Asked 「ほかにご質問はありますか」."""

    topic: str = ""  # the topic just answered: 「プラは？」 after a collection day asks it again (follow_ups)


Pending = AskSlot | Confirm | OfferStaff | AnythingElse | object


@dataclass
class CallState:
    caller_number: str = ""
    turns: int = 0
    silences: int = 0
    failures: int = 0
    pending: Pending | None = None
    last_text: str = ""
    ended: bool = False
    transcript: list[TranscriptLine] = field(default_factory=list)  # with times: staff see when each was said
    # slots remembered for later questions in the same call
    town: str = ""
    area_rows: list[Area] = field(default_factory=list)
    town_opening: str = ""  # 西大寺 said for the town: which of the towns it opens is asked
    area: Area | None = None
    item: Item | None = None
    category: Category | None = None
    day: date | None = None
    # the category named with that day (「元日も燃えるごみの収集ありますか」): the day's question is about it
    # alone; a category from an earlier question is not (「あしたは何の日」 after 燃えるごみ's weekdays)
    day_category: Category | None = None
    # read-backs the caller said いいえ to (("town", 五条町), ("item", 灯油), ("topic", cooking_oil)): the same
    # mishearing comes back with the same guess, and a caller who has just said no is not asked it again.
    # Immutable, so a snapshot (Session.snapshot, a shallow copy) keeps its own.
    refused: frozenset[tuple[str, str]] = frozenset()

    def refused_names(self, kind: str) -> frozenset[str]:
        """The items (or towns) read back and refused: a guess by sound passes over them to the next."""
        return frozenset(name for refused_kind, name in self.refused if refused_kind == kind)

    def slot_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.area is not None:
            out["area"] = self.area.name
        elif self.town:
            out["area"] = self.town
        if self.item is not None:
            out["item"] = self.item.name
        if self.category is not None:
            out["category"] = self.category.name
        if self.day is not None:
            out["date"] = self.day.isoformat()
        return out

    def remember(self, parse: Parse | None) -> None:
        """Keep what this turn named; an area replaces the previous one."""
        if parse is None:
            return
        if parse.item is not None and not self._item_in_where_answer(parse) and not names_a_part(parse.normalized):
            self.item = parse.item
        if parse.category is not None:
            self.category = parse.category
        if parse.date is not None:
            self.day = parse.date
            self.day_category = parse.category
        # a town guessed by its sound is read back first (紀寺町 for 赤裸町), in a question as in an answer to 町名は
        if parse.area_town and not parse.area_guessed:
            self.set_area(parse.area_town, parse.areas)
        elif parse.town_opening:
            self.town_opening = parse.town_opening

    def _item_in_where_answer(self, parse: Parse) -> bool:
        """An item heard only in passing in the caller's answer to where they live (see WHERE_ITEM_MIN_CHARS)."""
        where = isinstance(self.pending, AskSlot) and self.pending.slot in WHERE_SLOTS
        return where and (parse.item_how != "surface" or len(parse.item_form) <= WHERE_ITEM_MIN_CHARS)

    def set_area(self, town: str, rows: list[Area]) -> None:
        self.town = town
        self.town_opening = ""
        self.area_rows = rows
        self.area = rows[0] if len(rows) == 1 or _same_schedule(rows) else None


def _same_schedule(rows: list[Area]) -> bool:
    """Several rows with the same rules and collector need no which-side question."""
    return bool(rows) and all(r.rules == rows[0].rules and r.collector == rows[0].collector for r in rows)
