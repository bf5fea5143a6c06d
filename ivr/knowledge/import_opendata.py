"""Import the national standard open dataset 「ごみの分別方法」 (推奨データセット).

Columns: 全国地方公共団体コード, ID, 地方公共団体名, 品目, 分別区分, 注意点, 料金種別, 料金,
料金備考, 備考 — some publishers prefix every header with ``ごみの分別方法_``. Columns are
found by name, not position, because publishers reorder them.

Into an existing knowledge base it adds the items it lacks (staff-curated items win) and
maps 分別区分 onto the existing categories by name or alias; into an empty folder it writes
a fresh base (categories, items, municipality, generic FAQ).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ivr.knowledge.csvtext import read_rows, write_rows
from ivr.knowledge.import_5374 import GENERIC_FAQ, GENERIC_SOURCES, category_synonyms, new_category, yaml_dump
from ivr.knowledge.loader import (
    AREA_FIXED_COLUMNS,
    AREAS_FILE,
    CATEGORIES_FILE,
    FAQ_FILE,
    ITEM_COLUMNS,
    ITEMS_FILE,
    MUNICIPALITY_FILE,
    read_yaml,
)
from ivr.language.readings import reading, reading_of_name

HEADER_PREFIX = "ごみの分別方法_"
REQUIRED = ("品目", "分別区分")
FREE_FEE_KINDS = {"", "無料", "無"}  # 料金種別 values that mean there is no fee


class OpendataError(ValueError):
    pass


@dataclass
class OpendataReport:
    out: Path
    items: int = 0
    added: int = 0
    categories: int = 0


def _columns(header: list[str]) -> dict[str, int]:
    cols = {h.strip().removeprefix(HEADER_PREFIX): i for i, h in enumerate(header)}
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise OpendataError(f"missing column(s) {missing}; header is {header}")
    return cols


def _fee(get) -> str:  # noqa: ANN001 - a small row accessor
    kind, amount, note = get("料金種別"), get("料金"), get("料金備考")
    if kind in FREE_FEE_KINDS and not amount:
        return ""
    amount_text = f"{amount}円" if amount.isdigit() else amount
    return " ".join(x for x in (kind if kind not in FREE_FEE_KINDS else "", amount_text, note) if x)


def import_opendata(csv_path: Path, out: Path) -> OpendataReport:
    rows = read_rows(Path(csv_path))
    if not rows:
        raise OpendataError(f"{csv_path}: empty file")
    cols = _columns(rows[0])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = OpendataReport(out=out)

    cats_data, _ = read_yaml(out / CATEGORIES_FILE, []) if (out / CATEGORIES_FILE).exists() else (None, {})
    categories: list[dict] = list(cats_data["categories"]) if cats_data else []
    lookup = {w: c["name"] for c in categories for w in (c["name"], *c.get("aliases", []),
                                                           *c.get("labels_5374", []))}
    existing = read_rows(out / ITEMS_FILE)[1:] if (out / ITEMS_FILE).exists() else []
    names = {r[0] for r in existing}
    aliases = {a for r in existing if len(r) > 2 for a in r[2].split("|") if a}
    categories_before = len(categories)
    city = code = ""
    sid = "opendata-" + Path(csv_path).stem
    new_items: list[list[str]] = []
    for row in rows[1:]:
        def get(col: str, row: list[str] = row) -> str:
            i = cols.get(col)
            return " ".join(row[i].split()) if i is not None and i < len(row) else ""

        name, label = get("品目"), get("分別区分")
        if not name or not label:
            continue
        city, code = city or get("地方公共団体名"), code or get("全国地方公共団体コード")
        if label not in lookup:
            taken = set(lookup)
            syn = category_synonyms(label, taken)
            categories.append(new_category(label, syn, [], False, sid))
            lookup.update({w: label for w in (label, *syn)})
        if name in names or name in aliases:
            continue
        names.add(name)
        note = "。".join(x.rstrip("。") for x in (get("注意点"), get("備考")) if x)
        new_items.append([name, reading_of_name(name) or "ゴミ", "", "", lookup[label],
                          note + ("。" if note else ""), _fee(get), sid])
    write_rows(out / ITEMS_FILE, [ITEM_COLUMNS, *existing, *new_items])
    if len(categories) != categories_before or not (out / CATEGORIES_FILE).exists():
        yaml_dump(out / CATEGORIES_FILE, {"categories": categories}, "Categories (open-data import)")
    _ensure_municipality(out, city, code, sid, Path(csv_path).name)
    if not (out / FAQ_FILE).exists():
        shutil.copyfile(GENERIC_FAQ, out / FAQ_FILE)
    if not (out / AREAS_FILE).exists():  # no schedules in this dataset: an empty area list
        write_rows(out / AREAS_FILE, [AREA_FIXED_COLUMNS])
    report.items, report.added, report.categories = len(existing) + len(new_items), len(new_items), len(categories)
    return report


def _ensure_municipality(out: Path, city: str, code: str, sid: str, filename: str) -> None:
    """Add this dataset to the sources (so items can cite it), creating the file if needed."""
    path = out / MUNICIPALITY_FILE
    source = {"id": sid, "title": f"ごみの分別方法 open data ({filename})", "url": ""}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if any(s["id"] == sid for s in data.get("sources", [])):
            return
        top_keys = [ln for ln in text.splitlines() if ln and not ln[0].isspace() and not ln.startswith("#")]
        if top_keys and top_keys[-1].startswith("sources:"):
            # sources: is the last block: append, so the hand-written comments survive
            indent = "  " if "\n  - id:" in text else ""
            entry = yaml.safe_dump([source], allow_unicode=True, sort_keys=False)
            path.write_text(text.rstrip("\n") + "\n" + "".join(indent + ln + "\n" for ln in entry.splitlines()),
                            encoding="utf-8")
        else:
            data.setdefault("sources", []).append(source)
            yaml_dump(path, data, "Municipality")
        return
    yaml_dump(path, {
        "name": city or out.resolve().name, "reading": reading(city) or "シ", "code": code,
        "phones": [], "sources": [source, *GENERIC_SOURCES],
    }, "Imported from open data: add phones, business hours and validity")

