"""Load a knowledge-base folder into typed models, with errors that name file, line and field.

Staff edit these files by hand, so every problem is reported at once (not the first only),
each with the place to fix it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ivr.knowledge.models import (
    INFERRED,
    KATAKANA_READING,
    Area,
    Category,
    Collector,
    Item,
    Municipality,
    Routing,
    Topic,
)

MUNICIPALITY_FILE = "municipality.yaml"
CATEGORIES_FILE = "categories.yaml"
ITEMS_FILE = "items.csv"
AREAS_FILE = "areas.csv"
COLLECTORS_FILE = "collectors.yaml"
FAQ_FILE = "faq.yaml"
PHRASINGS_FILE = "phrasings.csv"  # optional: real caller phrasings (e.g. from call logs) per topic
ROUTING_FILE = "routing.yaml"  # optional: which staff desk takes which hand-off (escalation/policy.py)

ITEM_COLUMNS = ["name", "reading", "aliases", "mishearings", "category", "note", "fee", "basis"]
AREA_FIXED_COLUMNS = ["name", "town", "reading", "chome", "qualifier", "zone", "collector", "district"]
LIST_SEPARATOR = "|"  # inside one CSV cell: a comma would fight with the CSV itself

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class KnowledgeError(Exception):
    """The folder does not validate; ``problems`` lists every place to fix."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the knowledge base:\n{shown}{more}")


@dataclass
class RawKnowledge:
    """What was read, before cross-checks; ``problems`` collects as we go."""

    root: Path
    municipality: Municipality | None
    categories: list[Category]
    items: list[tuple[int, Item]]
    areas: list[tuple[int, Area]]
    collectors: list[Collector]
    topics: list[tuple[int, Topic]]
    phrasings: list[tuple[int, str, str]]  # (line, text, topic id)
    problems: list[Problem]
    routing: Routing | None = None
    routing_lines: dict[tuple[Any, ...], int] | None = None


# --- YAML with line numbers -------------------------------------------------------------

def _yaml_lines(node: yaml.Node) -> Any:
    """Build plain Python data from a composed node and keep line numbers beside it.

    Returns (value, lines) where lines maps a path tuple to its 1-based line.
    """
    lines: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> Any:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out = {}
            for key_node, value_node in n.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                out[key] = walk(value_node, (*path, key))
                lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(child, (*path, i)) for i, child in enumerate(n.value)]
        return yaml.safe_load(yaml.serialize(n))

    return walk(node, ()), lines


def read_yaml(path: Path, problems: list[Problem]) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except FileNotFoundError:
        problems.append(Problem(path.name, 0, "", "file is missing"))
        return None, {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(path.name, mark.line + 1 if mark else 0, "", f"not valid YAML: {exc}"))
        return None, {}
    if node is None:
        return None, {}
    return _yaml_lines(node)


def _validate(
    model: type[M],
    data: Any,
    file: str,
    line_of: dict[tuple[Any, ...], int],
    path: tuple[Any, ...],
    problems: list[Problem],
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = 0
            for cut in range(len(loc), -1, -1):  # the deepest place the YAML knows
                line = line_of.get((*path, *loc[:cut]), 0)
                if line:
                    break
            field = ".".join(str(x) for x in loc) or model.__name__
            problems.append(Problem(file, line, field, err["msg"]))
        return None


def _yaml_list(
    root: Path, file: str, key: str, model: type[M], problems: list[Problem]
) -> list[tuple[int, M]]:
    data, line_of = read_yaml(root / file, problems)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        problems.append(Problem(file, 1, key, f"the file must hold a list under '{key}:'"))
        return []
    out: list[tuple[int, M]] = []
    for i, entry in enumerate(data[key]):
        obj = _validate(model, entry, file, line_of, (key, i), problems)
        if obj is not None:
            out.append((line_of.get((key, i), 0), obj))
    return out


# --- CSV with line numbers --------------------------------------------------------------

def read_csv_rows(path: Path, problems: list[Problem]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Rows with the line each starts on (a quoted note may span several lines)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(Problem(path.name, 0, "", "file is missing"))
        return [], []
    except UnicodeDecodeError as exc:
        problems.append(Problem(path.name, 0, "", f"not UTF-8: {exc}"))
        return [], []
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] = []
    rows: list[tuple[int, dict[str, str]]] = []
    start = 1
    for record in reader:
        if not header:
            header = [h.strip() for h in record]
        elif any(cell.strip() for cell in record):
            if len(record) != len(header):
                problems.append(
                    Problem(path.name, start, "", f"has {len(record)} cells, the header has {len(header)}")
                )
            rows.append((start, dict(zip(header, (c.strip() for c in record), strict=False))))
        start = reader.line_num + 1
    return header, rows


def _split_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _items(root: Path, problems: list[Problem]) -> list[tuple[int, Item]]:
    header, rows = read_csv_rows(root / ITEMS_FILE, problems)
    if header and header != ITEM_COLUMNS:
        problems.append(Problem(ITEMS_FILE, 1, "header", f"must be {','.join(ITEM_COLUMNS)}"))
        return []
    out = []
    for line, row in rows:
        data = {**row, "aliases": _split_list(row.get("aliases", "")),
                "mishearings": _split_list(row.get("mishearings", ""))}
        item = _validate(Item, data, ITEMS_FILE, {(): line}, (), problems)
        if item is not None:
            out.append((line, item))
    return out


def _areas(root: Path, problems: list[Problem]) -> list[tuple[int, Area]]:
    header, rows = read_csv_rows(root / AREAS_FILE, problems)
    if header and header[: len(AREA_FIXED_COLUMNS)] != AREA_FIXED_COLUMNS:
        problems.append(Problem(AREAS_FILE, 1, "header", f"must start {','.join(AREA_FIXED_COLUMNS)}"))
        return []
    rule_columns = header[len(AREA_FIXED_COLUMNS):]
    out = []
    for line, row in rows:
        data: dict[str, Any] = {k: row.get(k, "") for k in AREA_FIXED_COLUMNS}
        data["rules"] = {c: row.get(c, "") for c in rule_columns}
        area = _validate(Area, data, AREAS_FILE, {(): line}, (), problems)
        if area is not None:
            out.append((line, area))
    return out


def read_folder(root: Path) -> RawKnowledge:
    problems: list[Problem] = []
    data, line_of = read_yaml(root / MUNICIPALITY_FILE, problems)
    municipality = (
        _validate(Municipality, data, MUNICIPALITY_FILE, line_of, (), problems) if data else None
    )
    categories = [c for _, c in _yaml_list(root, CATEGORIES_FILE, "categories", Category, problems)]
    collectors: list[Collector] = []
    if (root / COLLECTORS_FILE).exists():
        collectors = [c for _, c in _yaml_list(root, COLLECTORS_FILE, "collectors", Collector, problems)]
    return RawKnowledge(
        root=root,
        municipality=municipality,
        categories=categories,
        items=_items(root, problems),
        areas=_areas(root, problems),
        collectors=collectors,
        topics=_yaml_list(root, FAQ_FILE, "topics", Topic, problems),
        phrasings=_phrasings(root, problems),
        problems=problems,
        **_routing(root, problems),
    )


def _routing(root: Path, problems: list[Problem]) -> dict[str, Any]:
    if not (root / ROUTING_FILE).exists():
        return {}
    data, line_of = read_yaml(root / ROUTING_FILE, problems)
    routing = _validate(Routing, data or {}, ROUTING_FILE, line_of, (), problems)
    return {"routing": routing, "routing_lines": line_of}


def load_routing(root: Path | str, topic_ids: set[str]) -> Routing | None:
    """The routing table of a knowledge-base folder, checked against its FAQ ``topic_ids`` (the
    rest of the folder was validated when it was loaded); None when the city has none: every
    hand-off then goes to the one staff line in the settings. Raises :class:`KnowledgeError`."""
    problems: list[Problem] = []
    fields = _routing(Path(root), problems)
    raw = RawKnowledge(Path(root), None, [], [], [], [], [], [], problems, **fields)
    _check_routing(raw, topic_ids, lambda *_: None, problems)  # sources were checked with the folder
    if problems:
        raise KnowledgeError(problems)
    return raw.routing


def _phrasings(root: Path, problems: list[Problem]) -> list[tuple[int, str, str]]:
    if not (root / PHRASINGS_FILE).exists():
        return []
    header, rows = read_csv_rows(root / PHRASINGS_FILE, problems)
    if header and header[:2] != ["text", "topic"]:
        problems.append(Problem(PHRASINGS_FILE, 1, "header", "must be text,topic"))
        return []
    return [(line, row.get("text", ""), row.get("topic", "")) for line, row in rows]


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
    for line, text, topic in raw.phrasings:
        if not text:
            problems.append(Problem(PHRASINGS_FILE, line, "text", "is empty"))
        if topic not in topic_ids:
            problems.append(Problem(PHRASINGS_FILE, line, "topic", f"{topic!r} is not a topic id in {FAQ_FILE}"))
    _check_routing(raw, topic_ids, check_basis, problems)
    return problems


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
