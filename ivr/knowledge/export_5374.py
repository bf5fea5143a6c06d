"""Write a knowledge base as a 5374.jp data folder, so a city can feed the 5374 web app too.

``import-5374`` of the result gives back the same areas, rules, collectors and items.
"""

from __future__ import annotations

from pathlib import Path

import jaconv

from ivr.knowledge.base import KnowledgeBase
from ivr.knowledge.csvtext import write_rows
from ivr.knowledge.rules import ASK_STAFF, format_rule, parse_rule

FURIGANA_FALLBACK = "あ"  # 5374 indexes items by their first kana; unknown readings go first


def _label(kb: KnowledgeBase, category: str) -> str:
    c = kb.category_by_name.get(category)
    return c.labels_5374[0] if c and c.labels_5374 else category


def _cell(cell: str) -> str:
    rule = parse_rule(cell)
    return ASK_STAFF if rule.ask_staff else format_rule(rule)


def export_5374(kb: KnowledgeBase, out: Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scheduled = list(dict.fromkeys(c for a in kb.areas for c in a.rules))
    area_rows = [["地名", "センター", *(_label(kb, c) for c in scheduled)]]
    area_rows += [[a.name, a.collector, *(_cell(a.rules.get(c, "")) for c in scheduled)] for a in kb.areas]

    center_rows = [["名称", "休止開始日", "休止終了日"]]
    for col in kb.collectors:
        for s in col.suspensions:
            center_rows.append([col.name, f"{s.start:%Y/%m/%d}", f"{s.end:%Y/%m/%d}"])

    labels = list(dict.fromkeys([*(_label(kb, c) for c in scheduled),
                                 *(_label(kb, i.category) for i in kb.items)]))
    description_rows = [["label", "sublabel", "description", "styles", "bgcolor"]]
    for label in labels:
        c = kb.category_by_alias.get(label)
        description_rows.append([label, "", (c.how if c else ""), "", ""])

    target_rows = [["label", "name", "notice", "furigana"]]
    for item in kb.items:
        first = jaconv.kata2hira(item.reading[:1]) if item.reading else FURIGANA_FALLBACK
        target_rows.append([_label(kb, item.category), item.name, item.note, first])

    remark_rows = [["ID", "注意事項"], *([k, v] for k, v in kb.municipality.remarks.items())]
    files = {
        "area_days.csv": area_rows,
        "center.csv": center_rows,
        "description.csv": description_rows,
        "target.csv": target_rows,
        "remarks.csv": remark_rows,
    }
    for name, rows in files.items():
        write_rows(out / name, rows)
    return [out / name for name in files]
