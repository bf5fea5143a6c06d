"""Import a 5374.jp data folder (area_days, center, description, target, remarks).

Reads real folders as cities publish them (see ``csvtext`` for encodings). When the output
folder already holds a curated knowledge base (Nara's), its categories, items, FAQ and
municipality are kept and only the areas and collectors are replaced, so staff edits and
corrected readings survive a re-import.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from ivr.config import PACKAGE_ROOT
from ivr.knowledge.csvtext import read_rows, write_rows
from ivr.knowledge.loader import (
    AREA_FIXED_COLUMNS,
    AREAS_FILE,
    CATEGORIES_FILE,
    COLLECTORS_FILE,
    FAQ_FILE,
    ITEM_COLUMNS,
    ITEMS_FILE,
    MUNICIPALITY_FILE,
    read_yaml,
)
from ivr.knowledge.names import split_area_name
from ivr.knowledge.rules import ASK_STAFF, format_rule, parse_rule
from ivr.language.readings import reading, reading_of_name

GENERIC_FAQ = PACKAGE_ROOT / "faq_data" / "generic" / FAQ_FILE
# Sources the generic FAQ cites: true for every Japanese city, so an import carries them.
GENERIC_SOURCES = [
    {"id": "kaden-law", "title": "家電リサイクル法 (特定家庭用機器再商品化法)",
     "url": "https://www.meti.go.jp/policy/it_policy/kaden_recycle/"},
    {"id": "other-cities-faq", "title": "Usual municipal practice from cities' FAQ pages", "url": ""},
]
_OPEN_BRACKET = re.compile(r"[（(【\[〔［]")
NOT_COLLECTED_LABEL = re.compile(r"不可|できない|できません|対象外|出せない|収集しない")

# Words callers use for the same kind of category; a city's label gets the others as aliases.
CATEGORY_SYNONYMS: list[list[str]] = [
    ["燃やせるごみ", "燃やすごみ", "燃えるごみ", "可燃ごみ", "もやせるごみ", "もえるごみ", "可燃物"],
    ["燃やせないごみ", "燃やさないごみ", "燃えないごみ", "不燃ごみ", "もやせないごみ", "不燃物", "埋立ごみ"],
    ["大型ごみ", "粗大ごみ", "そだいごみ", "大きいごみ"],
    ["資源ごみ", "資源", "再生資源", "リサイクルごみ"],
    ["プラスチックごみ", "プラスチック", "容器包装プラスチック", "プラ", "プラごみ", "プラマーク製品",
     "プラスチック製容器包装"],
    ["ペットボトル", "ペット"],
    ["空き缶", "缶", "空カン", "あきかん"],
    ["空きびん", "びん", "空ビン", "あきびん", "ビン"],
    ["有害ごみ", "危険ごみ", "有害物"],
]


@dataclass
class ImportReport:
    """What the import did, for the CLI to print."""

    out: Path
    areas: int = 0
    duplicate_rows_merged: int = 0
    items: int = 0
    categories: int = 0
    collectors: int = 0
    kept_curated: bool = False
    notes: list[str] = field(default_factory=list)


def _parse_day(text: str) -> date:
    y, m, d = (int(x) for x in re.split(r"[/\-.]", text.strip()))
    return date(y, m, d)


def yaml_dump(path: Path, data: object, comment: str) -> None:
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(f"# {comment}\n{body}", encoding="utf-8")


def _source_id(src: Path) -> str:
    return f"5374-{src.resolve().name}"


def _source_url(src: Path) -> str:
    info = src / "SOURCE.txt"
    if info.exists():
        m = re.search(r"https?://\S+", info.read_text(encoding="utf-8"))
        if m:
            return m[0]
    return ""


def _labels(src: Path) -> list[str]:
    path = src / "description.csv"
    if not path.exists():
        return []
    rows = read_rows(path)[1:]  # the header's names vary (Bgcolor …): read by position
    return [r[0] for r in rows if r and r[0] and not r[0].startswith("#")]


def _label_map(curated: list[dict] | None, labels: list[str]) -> dict[str, str]:
    """5374 label → category name: the curated categories' labels_5374/names/aliases win."""
    if not curated:
        return {label: label for label in labels}
    out: dict[str, str] = {}
    for label in labels:
        for c in curated:
            if label == c["name"] or label in c.get("labels_5374", []) or label in c.get("aliases", []):
                out[label] = c["name"]
                break
        else:
            raise ValueError(f"label {label!r} matches no category in {CATEGORIES_FILE}; add it to labels_5374")
    return out


def new_category(label: str, aliases: list[str], labels_5374: list[str], scheduled: bool, basis: str) -> dict:
    """A category found in open data: its label as name, callers' words as aliases."""
    return {
        "name": label, "reading": reading(label) or "ゴミ", "aliases": aliases, "labels_5374": labels_5374,
        "collected": not NOT_COLLECTED_LABEL.search(label), "scheduled": scheduled,
        "how": "", "when": "", "bag": "", "basis": basis,
    }


def category_synonyms(label: str, taken: set[str]) -> list[str]:
    for group in CATEGORY_SYNONYMS:
        if label in group:
            return [w for w in group if w != label and w not in taken]
    return []


def _read_areas(src: Path) -> tuple[list[str], list[list[str]], int]:
    rows = read_rows(src / "area_days.csv")
    header, body = rows[0], rows[1:]
    seen: set[tuple[str, ...]] = set()
    unique: list[list[str]] = []
    for row in body:
        row = (row + [""] * len(header))[: len(header)]
        key = tuple(row)
        if key in seen:  # the same row twice (Nara's 大宮町１丁目): one area
            continue
        seen.add(key)
        unique.append(row)
    return header, unique, len(body) - len(unique)


def _nara_extras(src: Path) -> dict[str, tuple[str, str]]:
    """Code for Nara's 0arealist.csv: area → (zone, recycling district); '#' rows are retired."""
    path = src / "0arealist.csv"
    if not path.exists():
        return {}
    out: dict[str, tuple[str, str]] = {}
    for row in read_rows(path):
        if len(row) >= 3 and not row[0].startswith("#"):
            out.setdefault(row[0], (row[1], row[2]))
    return out


def _existing_readings(out: Path) -> dict[str, str]:
    path = out / AREAS_FILE
    if not path.exists():
        return {}
    rows = read_rows(path)
    return {r[0]: r[2] for r in rows[1:] if len(r) > 2 and r[2]}


def town_reading(town: str, town_suffix_reading: str = "") -> str:
    """Reading of a 町名; ``town_suffix_reading`` says how this city reads a final 町.

    Nara reads it チョー (大宮町 オーミヤチョー) where the dictionary says マチ; cities differ,
    so it is an import option rather than a guess.
    """
    if town_suffix_reading and town.endswith("町") and len(town) > 1:
        stem = reading(town[:-1])
        if stem:
            return stem + town_suffix_reading
    return reading(town)


def _area_rows(
    src: Path,
    label_map: dict[str, str],
    scheduled: list[str],
    keep_readings: dict[str, str],
    town_suffix_reading: str,
) -> tuple[list[list[str]], int, list[str]]:
    header, rows, merged = _read_areas(src)
    labels = header[2:]
    extras = _nara_extras(src)
    notes: list[str] = []
    out_rows: list[list[str]] = []
    names_seen: dict[str, int] = {}
    for row in rows:
        name, center = row[0], row[1]
        parts = split_area_name(name)
        zone, district = extras.get(name, ("", ""))
        if not extras and center.startswith("地区"):  # some cities put a district, not a centre
            district = center
        cells: dict[str, str] = {}
        for label, cell in zip(labels, row[2:], strict=False):
            category = label_map.get(label, label)
            rule = parse_rule(cell)
            cells[category] = ASK_STAFF if rule.ask_staff else format_rule(rule)
        names_seen[name] = names_seen.get(name, 0) + 1
        if names_seen[name] > 1:
            notes.append(f"{name}: {names_seen[name]} rows with different schedules kept (by collector)")
        read = (keep_readings.get(name) or town_reading(parts.town, town_suffix_reading)
                or reading_of_name(name))
        out_rows.append(
            [name, parts.town, read, parts.chome, parts.qualifier, zone, center, district]
            + [cells.get(c, "") for c in scheduled]
        )
    return out_rows, merged, notes


IMPORT_MANIFEST = "import_5374.yaml"  # what the last import read: source, rows, merges


def _write_manifest(src: Path, out: Path, report: ImportReport) -> None:
    info = (src / "SOURCE.txt").read_text(encoding="utf-8").strip() if (src / "SOURCE.txt").exists() else ""
    yaml_dump(out / IMPORT_MANIFEST, {
        "source": _source_id(src),
        "source_note": info,
        "source_area_rows": report.areas + report.duplicate_rows_merged,
        "duplicate_rows_merged": report.duplicate_rows_merged,
        "areas": report.areas,
        "split_by_collector": report.notes,
    }, "Written by `ivr data import-5374`; not read by the bot")


def _collectors(
    src: Path, annual: bool, policy: str, keep: dict[str, dict], referenced: list[str]
) -> list[dict]:
    """One entry per centre in center.csv, plus any centre an area names that it lacks."""
    path = src / "center.csv"
    by_name: dict[str, list[dict]] = {}
    if path.exists():
        for row in read_rows(path)[1:]:
            if len(row) < 3 or not row[0]:
                continue
            start, end = _parse_day(row[1]), _parse_day(row[2])
            by_name.setdefault(row[0], []).append(
                {"start": start.isoformat(), "end": end.isoformat(), "annual": annual, "policy": policy}
            )
    for name in referenced:
        if name:
            by_name.setdefault(name, [])
    out = []
    for name, suspensions in by_name.items():
        old = keep.get(name, {})
        out.append({
            "name": name,
            "holiday_policy": old.get("holiday_policy", "collect"),
            "suspensions": suspensions,
            "basis": old.get("basis", _source_id(src)),
        })
    return out


def import_5374(
    src: Path,
    out: Path,
    *,
    city_name: str | None = None,
    annual_suspensions: bool = True,
    suspension_policy: str = "skip",
    town_suffix_reading: str = "",
) -> ImportReport:
    """Import ``src`` into ``out``; see the module docstring for what is kept."""
    src, out = Path(src), Path(out)
    if not (src / "area_days.csv").exists():
        raise FileNotFoundError(f"{src}: no area_days.csv — not a 5374 data folder")
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport(out=out)
    curated_cats, _ = read_yaml(out / CATEGORIES_FILE, []) if (out / CATEGORIES_FILE).exists() else (None, {})
    curated = curated_cats["categories"] if curated_cats else None
    report.kept_curated = curated is not None

    area_header = read_rows(src / "area_days.csv")[0]
    area_labels = area_header[2:]
    label_map = _label_map(curated, area_labels)
    scheduled = list(dict.fromkeys(label_map[label] for label in area_labels))
    rows, report.duplicate_rows_merged, report.notes = _area_rows(
        src, label_map, scheduled, _existing_readings(out), town_suffix_reading
    )
    write_rows(out / AREAS_FILE, [AREA_FIXED_COLUMNS + scheduled, *rows])
    report.areas = len(rows)
    _write_manifest(src, out, report)

    old_collectors: dict[str, dict] = {}
    if (out / COLLECTORS_FILE).exists():
        data, _ = read_yaml(out / COLLECTORS_FILE, [])
        old_collectors = {c["name"]: c for c in (data or {}).get("collectors", [])}
    referenced = list(dict.fromkeys(row[6] for row in rows))
    collectors = _collectors(src, annual_suspensions, suspension_policy, old_collectors, referenced)
    yaml_dump(out / COLLECTORS_FILE, {"collectors": collectors},
               f"Collectors and suspensions, imported from {src.name}/center.csv")
    report.collectors = len(collectors)

    if curated is None:
        _write_generic(src, out, area_labels, city_name, report)
    else:
        report.categories = len(curated)
    return report


def _write_generic(
    src: Path, out: Path, area_labels: list[str], city_name: str | None, report: ImportReport
) -> None:
    """A fresh city: categories, items, municipality and the generic FAQ from the 5374 files."""
    sid = _source_id(src)
    items, item_labels = _items(src, sid)
    labels = list(dict.fromkeys(area_labels + _labels(src) + item_labels))
    taken = set(labels)
    categories = []
    for label in labels:
        aliases = category_synonyms(label, taken)
        taken.update(aliases)
        categories.append(new_category(label, aliases, [label], label in area_labels, sid))
    yaml_dump(out / CATEGORIES_FILE, {"categories": categories}, f"Categories imported from {src.name}")
    write_rows(out / ITEMS_FILE, [ITEM_COLUMNS, *items])
    report.categories, report.items = len(categories), len(items)

    remarks: dict[str, str] = {}
    if (src / "remarks.csv").exists():
        remarks = {r[0]: r[1] for r in read_rows(src / "remarks.csv")[1:] if len(r) > 1}
    municipality = {
        "name": city_name or src.resolve().name,
        "reading": reading(city_name or "") or "シ",
        "phones": [],
        "validity": _validity(out, sid),
        "remarks": remarks,
        "sources": [{"id": sid, "title": f"5374.jp open data ({src.resolve().name})", "url": _source_url(src)},
                    *GENERIC_SOURCES],
    }
    yaml_dump(out / MUNICIPALITY_FILE, municipality, f"Imported from {src.name}: add phones and hours")
    if not (out / FAQ_FILE).exists():
        shutil.copyfile(GENERIC_FAQ, out / FAQ_FILE)


def _validity(out: Path, sid: str) -> dict:
    """A city whose calendar is a list of dates is valid until its last listed date."""
    first: date | None = None
    last: date | None = None
    for row in read_rows(out / AREAS_FILE)[1:]:
        for cell in row[len(AREA_FIXED_COLUMNS):]:
            rule = parse_rule(cell)
            if rule.is_date_list:
                lo, hi = min(rule.dates), max(rule.dates)
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
    return {
        "valid_from": first.isoformat() if first else None,
        "valid_until": last.isoformat() if last else None,
        "basis": sid,
    }


def _items(src: Path, sid: str) -> tuple[list[list[str]], list[str]]:
    path = src / "target.csv"
    if not path.exists():
        return [], []
    rows: list[list[str]] = []
    labels: list[str] = []
    names: set[str] = set()
    for r in read_rows(path)[1:]:
        r = (r + ["", "", ""])[:4]
        label, name, notice = r[0], " ".join(r[1].split()), " ".join(r[2].split())
        if not label or not name:
            continue
        labels.append(label)
        if name in names:  # the same item listed under two labels: keep both, distinguished
            name = f"{name}（{label}）"
            if name in names:
                continue
        names.add(name)
        rows.append([name, reading_of_name(name) or "ゴミ", "", "", label, notice, "", sid])
    # 「やかん(金属)80％以上金属製」 is said やかん: the words before a bracketed note become an
    # alias, unless another item is called that
    for row in rows:
        bare = _OPEN_BRACKET.split(row[0], 1)[0].strip()
        if bare and bare != row[0] and bare not in names:
            row[2] = bare
            names.add(bare)
    return rows, list(dict.fromkeys(labels))
