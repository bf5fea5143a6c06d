"""Load a knowledge-base folder into typed models, with errors that name file, line and field.

Staff edit these files by hand, so every problem is reported at once (not the first only),
each with the place to fix it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ivr.knowledge.models import (
    Area,
    Category,
    Collector,
    Item,
    Municipality,
    Routing,
    Topic,
    YearEnd,
)

MUNICIPALITY_FILE = "municipality.yaml"
CATEGORIES_FILE = "categories.yaml"
ITEMS_FILE = "items.csv"
AREAS_FILE = "areas.csv"
COLLECTORS_FILE = "collectors.yaml"
FAQ_FILE = "faq.yaml"
PHRASINGS_FILE = "phrasings.csv"  # optional: real caller phrasings (e.g. from call logs) per topic
ADDED_PHRASINGS_FILE = "phrasings_added.csv"  # optional: phrasings staff added in the console (same format)
ROUTING_FILE = "routing.yaml"  # optional: which staff desk takes which hand-off (escalation/policy.py)
YEAR_END_FILE = "year_end.yaml"  # optional: each winter's year-end schedule, added by staff every year

ITEM_COLUMNS = ["name", "reading", "aliases", "mishearings", "category", "note", "fee", "basis"]
AREA_FIXED_COLUMNS = ["name", "town", "reading", "chome", "qualifier", "zone", "collector", "district"]
NULL_TAG = "tag:yaml.org,2002:null"
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
    year_end: list[tuple[int, YearEnd]] = field(default_factory=list)
    added_phrasings: list[tuple[int, str, str]] = field(default_factory=list)  # phrasings_added.csv


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
        if n.tag == NULL_TAG:  # `key:` with nothing after it; serialising that alone is no YAML document
            return None
        return yaml.safe_load(yaml.serialize(n))

    return walk(node, ()), lines


def read_yaml(path: Path, problems: list[Problem]) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except FileNotFoundError:
        problems.append(Problem(path.name, 0, "", "file is missing"))
        return None, {}
    except UnicodeDecodeError as exc:  # saved in Shift_JIS by a spreadsheet, or damaged
        problems.append(Problem(path.name, 0, "", f"not UTF-8: {exc}"))
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
    return _entries(data, line_of, file, key, model, problems)


def _entries(
    data: Any, line_of: dict[tuple[Any, ...], int], file: str, key: str, model: type[M], problems: list[Problem]
) -> list[tuple[int, M]]:
    """Validate each entry of the list under ``key``, with the line it starts on."""
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
        added_phrasings=_phrasings(root, problems, ADDED_PHRASINGS_FILE),
        problems=problems,
        **_routing(root, problems),
        year_end=_year_end(root, problems),
    )


def _year_end(root: Path, problems: list[Problem]) -> list[tuple[int, YearEnd]]:
    """The year-end schedules; a city without the file has none (validate warns, the bot says so)."""
    if not (root / YEAR_END_FILE).exists():
        return []
    data, line_of = read_yaml(root / YEAR_END_FILE, problems)
    if data is None or (isinstance(data, dict) and data.get("year_end") is None):
        return []  # an empty file or a bare `year_end:`: no schedule entered yet
    return _entries(data, line_of, YEAR_END_FILE, "year_end", YearEnd, problems)


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
    from ivr.knowledge.cross_check import _check_routing  # it reads this module's types: imported late

    problems: list[Problem] = []
    fields = _routing(Path(root), problems)
    raw = RawKnowledge(Path(root), None, [], [], [], [], [], [], problems, **fields)
    _check_routing(raw, topic_ids, lambda *_: None, problems)  # sources were checked with the folder
    if problems:
        raise KnowledgeError(problems)
    return raw.routing


def _phrasings(root: Path, problems: list[Problem], file: str = PHRASINGS_FILE) -> list[tuple[int, str, str]]:
    if not (root / file).exists():
        return []
    header, rows = read_csv_rows(root / file, problems)
    if header and header[:2] != ["text", "topic"]:
        problems.append(Problem(file, 1, "header", "must be text,topic"))
        return []
    return [(line, row.get("text", ""), row.get("topic", "")) for line, row in rows]
