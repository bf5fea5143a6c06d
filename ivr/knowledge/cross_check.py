"""Checks that span the knowledge base's files: references between them, duplicates, each
fact's source, rule syntax. Run after every file has been read (loader.py), so that staff get
every problem at once.
"""

from __future__ import annotations

from typing import Any

from ivr.knowledge.loader import (
    ADDED_PHRASINGS_FILE,
    AREAS_FILE,
    CATEGORIES_FILE,
    COLLECTORS_FILE,
    FAQ_FILE,
    ITEMS_FILE,
    MUNICIPALITY_FILE,
    PHRASINGS_FILE,
    ROUTING_FILE,
    YEAR_END_FILE,
    Problem,
    RawKnowledge,
)
from ivr.knowledge.models import INFERRED, KATAKANA_READING


def cross_check(raw: RawKnowledge) -> list[Problem]:
    """Checks that span files: references, duplicates, sources, rule syntax."""
    problems: list[Problem] = []
    sources = {s.id for s in raw.municipality.sources} if raw.municipality else set()

    def check_basis(file: str, line: int, basis: str) -> None:
        if basis != INFERRED and basis not in sources:
            msg = f"{basis!r} is not a source id in {MUNICIPALITY_FILE} nor 'inferred'"
            problems.append(Problem(file, line, "basis", msg))

    for phone in raw.municipality.phones if raw.municipality else []:
        check_basis(MUNICIPALITY_FILE, 0, phone.basis)
    for c in raw.categories:
        check_basis(CATEGORIES_FILE, 0, c.basis)
    for c in raw.collectors:
        check_basis(COLLECTORS_FILE, 0, c.basis)
    for line, item in raw.items:
        check_basis(ITEMS_FILE, line, item.basis)
    for line, topic in raw.topics:
        check_basis(FAQ_FILE, line, topic.basis)
    _check_items(raw, problems)
    _check_areas(raw, problems)
    _check_unique(FAQ_FILE, "id", [(line, t.id) for line, t in raw.topics], problems)
    topic_ids = {t.id for _, t in raw.topics}
    for file, phrasings in ((PHRASINGS_FILE, raw.phrasings), (ADDED_PHRASINGS_FILE, raw.added_phrasings)):
        for line, text, topic in phrasings:
            if not text:
                problems.append(Problem(file, line, "text", "is empty"))
            if topic not in topic_ids:
                problems.append(Problem(file, line, "topic", f"{topic!r} is not a topic id in {FAQ_FILE}"))
    _check_routing(raw, topic_ids, check_basis, problems)
    _check_year_end(raw, check_basis, problems)
    return problems


def _check_year_end(raw: RawKnowledge, check_basis: Any, problems: list[Problem]) -> None:
    """One entry a winter, each citing a source and naming collectors that exist."""
    collectors = {c.name for c in raw.collectors}
    _check_unique(YEAR_END_FILE, "year", [(line, str(y.year)) for line, y in raw.year_end], problems)
    for line, entry in raw.year_end:
        check_basis(YEAR_END_FILE, line, entry.basis)
        for closure in entry.collection:
            if collectors and closure.collector not in collectors:
                msg = f"{closure.collector!r} is not in {COLLECTORS_FILE}"
                problems.append(Problem(YEAR_END_FILE, line, "collection.collector", msg))


def _check_routing(raw: RawKnowledge, topic_ids: set[str], check_basis: Any, problems: list[Problem]) -> None:
    """Reasons are the ticket store's (escalation/tickets.py REASONS); each topic goes to one desk."""
    from escalation.tickets import REASONS  # the one list staff tickets are filed under

    if raw.routing is None:
        return
    line_of = raw.routing_lines or {}
    owner: dict[str, str] = {}
    for reason, target in raw.routing.targets.items():
        line = line_of.get(("targets", reason), 0)
        if reason not in REASONS:
            problems.append(Problem(ROUTING_FILE, line, f"targets.{reason}", f"must be one of {', '.join(REASONS)}"))
        check_basis(ROUTING_FILE, line_of.get(("targets", reason, "basis"), line), target.basis)
        for i, topic in enumerate(target.topics):
            where = line_of.get(("targets", reason, "topics", i), line)
            if topic not in topic_ids:
                problems.append(Problem(ROUTING_FILE, where, f"targets.{reason}.topics",
                                        f"{topic!r} is not a topic id in {FAQ_FILE}"))
            elif topic in owner:
                problems.append(Problem(ROUTING_FILE, where, f"targets.{reason}.topics",
                                        f"{topic!r} is already routed to {owner[topic]}"))
            owner.setdefault(topic, reason)


def _check_unique(file: str, field: str, keyed: list[tuple[int, str]], problems: list[Problem]) -> dict[str, int]:
    first: dict[str, int] = {}
    for line, key in keyed:
        if key in first:
            problems.append(Problem(file, line, field, f"{key!r} is already on line {first[key]}"))
        first.setdefault(key, line)
    return first


def _check_items(raw: RawKnowledge, problems: list[Problem]) -> None:
    categories = {c.name for c in raw.categories}
    names = _check_unique(ITEMS_FILE, "name", [(line, i.name) for line, i in raw.items], problems)
    for line, item in raw.items:
        if item.category not in categories:
            problems.append(Problem(ITEMS_FILE, line, "category", f"{item.category!r} is not in {CATEGORIES_FILE}"))
        for alias in item.aliases:
            if alias in names and alias != item.name:
                msg = f"{alias!r} is the name of another item (line {names[alias]})"
                problems.append(Problem(ITEMS_FILE, line, "aliases", msg))


def _check_areas(raw: RawKnowledge, problems: list[Problem]) -> None:
    from ivr.knowledge.rules import RuleError, parse_rule

    scheduled = {c.name for c in raw.categories if c.scheduled}
    collectors = {c.name for c in raw.collectors}
    # the same name twice is fine when two collectors split it (Nara's 北小路町)
    _check_unique(AREAS_FILE, "name", [(line, f"{a.name}|{a.collector}") for line, a in raw.areas], problems)
    for line, area in raw.areas:
        if area.reading and not KATAKANA_READING.fullmatch(area.reading):
            problems.append(Problem(AREAS_FILE, line, "reading", "must be katakana"))
        if area.collector and collectors and area.collector not in collectors:
            problems.append(Problem(AREAS_FILE, line, "collector", f"{area.collector!r} is not in {COLLECTORS_FILE}"))
        for category, cell in area.rules.items():
            if category not in scheduled:
                msg = f"is not a scheduled category in {CATEGORIES_FILE}"
                problems.append(Problem(AREAS_FILE, line, category, msg))
                continue
            try:
                parse_rule(cell)
            except RuleError as exc:
                problems.append(Problem(AREAS_FILE, line, category, str(exc)))
