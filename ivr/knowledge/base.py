"""The loaded knowledge base: one object the dialogue, CLI and importers query."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ivr.knowledge.cross_check import cross_check
from ivr.knowledge.loader import KnowledgeError, Problem, RawKnowledge, read_folder
from ivr.knowledge.models import INFERRED, Area, Category, Collector, Item, Municipality, Topic, YearEnd
from ivr.knowledge.schedule import ScheduleEngine


@dataclass(frozen=True)
class ReviewEntry:
    """An entry whose basis is ``inferred``: staff should confirm it with a city page."""

    file: str
    line: int
    kind: str
    name: str
    detail: str


@dataclass
class KnowledgeBase:
    root: Path
    municipality: Municipality
    categories: list[Category]
    items: list[Item]
    areas: list[Area]
    collectors: list[Collector]
    topics: list[Topic]
    phrasings: list[tuple[str, str]] = field(default_factory=list)  # (text, topic id): extra training
    # the phrasings staff added in the console (phrasings_added.csv); also in ``phrasings``, listed
    # apart so bench/nlu.py can leave them out (--with-added puts them back)
    added_phrasings: list[tuple[str, str]] = field(default_factory=list)
    year_end: list[YearEnd] = field(default_factory=list)  # one entry per winter, oldest first
    _item_lines: dict[str, int] = field(default_factory=dict, repr=False)

    @cached_property
    def schedule(self) -> ScheduleEngine:
        return ScheduleEngine(self.areas, self.collectors, self.municipality.validity, self.year_end)

    @cached_property
    def category_by_name(self) -> dict[str, Category]:
        return {c.name: c for c in self.categories}

    @cached_property
    def category_by_alias(self) -> dict[str, Category]:
        """Every word for a category (its name, aliases, 5374 labels) → the category."""
        out: dict[str, Category] = {}
        for c in self.categories:
            for word in (c.name, *c.aliases, *c.labels_5374):
                out.setdefault(word, c)
        return out

    @cached_property
    def item_by_name(self) -> dict[str, Item]:
        return {i.name: i for i in self.items}

    @cached_property
    def topic_by_id(self) -> dict[str, Topic]:
        return {t.id: t for t in self.topics}

    def areas_named(self, town_or_name: str) -> list[Area]:
        """Areas whose full name or town equals the text (several when the data splits a town)."""
        return [a for a in self.areas if town_or_name in (a.name, a.town)]

    def review(self) -> list[ReviewEntry]:
        out: list[ReviewEntry] = []
        for c in self.categories:
            if c.basis == INFERRED:
                out.append(ReviewEntry("categories.yaml", 0, "category", c.name, c.how))
        for i in self.items:
            if i.basis == INFERRED:
                out.append(ReviewEntry("items.csv", self._item_lines.get(i.name, 0), "item", i.name, i.category))
        for t in self.topics:
            if t.basis == INFERRED:
                out.append(ReviewEntry("faq.yaml", 0, "topic", t.id, t.title))
        if self.municipality.business_hours and self.municipality.business_hours.basis == INFERRED:
            out.append(ReviewEntry("municipality.yaml", 0, "business_hours", "業務時間", "office hours"))
        return out


def from_raw(raw: RawKnowledge) -> KnowledgeBase:
    problems = raw.problems + cross_check(raw)
    if problems or raw.municipality is None:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        root=raw.root,
        municipality=raw.municipality,
        categories=raw.categories,
        items=[i for _, i in raw.items],
        areas=[a for _, a in raw.areas],
        collectors=raw.collectors,
        topics=[t for _, t in raw.topics],
        phrasings=[(text, topic) for _, text, topic in raw.phrasings + raw.added_phrasings],
        added_phrasings=[(text, topic) for _, text, topic in raw.added_phrasings],
        year_end=sorted((y for _, y in raw.year_end), key=lambda y: y.year),
        _item_lines={i.name: line for line, i in raw.items},
    )


def load_knowledge(root: Path | str) -> KnowledgeBase:
    """Read and validate a folder; raises :class:`KnowledgeError` listing every problem."""
    path = Path(root)
    if not path.is_dir():
        raise KnowledgeError([Problem(str(path), 0, "", "is not a knowledge-base folder")])
    return from_raw(read_folder(path))
