"""``ivr data …``: validate, inspect, import and export the knowledge base."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from ivr.config import get_settings
from ivr.knowledge.base import KnowledgeBase, load_knowledge
from ivr.knowledge.loader import KnowledgeError
from ivr.knowledge.year_end import missing_year_end

data_app = typer.Typer(help="Validate, inspect, import and export the knowledge base.", no_args_is_help=True)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DirArg = Annotated[Path | None, typer.Argument(help="Knowledge-base folder (default: IVR_DATA_DIR).")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder to write.")]


def _load(folder: Path | None) -> KnowledgeBase:
    root = folder or get_settings().data_dir
    try:
        return load_knowledge(root)
    except KnowledgeError as exc:
        err_console.print(f"[red]{root}: {len(exc.problems)} problem(s)[/red]")
        for p in exc.problems:
            err_console.print(f"  {p}", markup=False, highlight=False)
        raise typer.Exit(1) from exc


def stats_of(kb: KnowledgeBase) -> dict:
    manifest = kb.root / "import_5374.yaml"
    rows = None
    if manifest.exists():
        import yaml

        rows = (yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}).get("source_area_rows")
    return {
        "municipality": kb.municipality.name,
        "items": len(kb.items),
        "items_per_category": dict(Counter(i.category for i in kb.items).most_common()),
        "areas": len(kb.areas),
        "source_area_rows": rows,  # 5374 rows imported (identical duplicate rows are merged)
        "towns": len({a.town for a in kb.areas}),
        "categories": len(kb.categories),
        "scheduled_categories": sum(c.scheduled for c in kb.categories),
        "collectors": len(kb.collectors),
        "faq_topics": len(kb.topics),
        "faq_examples": sum(len(t.examples) for t in kb.topics),
        "inferred_entries": len(kb.review()),
        "valid_from": str(kb.municipality.validity.valid_from) if kb.municipality.validity else None,
        "valid_until": str(kb.municipality.validity.valid_until) if kb.municipality.validity else None,
        "year_end_winters": [y.year for y in kb.year_end],
    }


def _today(kb: KnowledgeBase, on: str | None) -> date:
    """``on`` (tests, or checking ahead), else today where the city is."""
    if on:
        return date.fromisoformat(on)
    return datetime.now(ZoneInfo(kb.municipality.timezone)).date()


@data_app.command()
def validate(
    folder: DirArg = None,
    today: Annotated[str | None, typer.Option("--today", help="YYYY-MM-DD to check against (default: today).")] = None,
) -> None:
    """Check every file; errors name the file, line and field. Exit 1 on any problem.

    Warnings (exit 0) flag what is fine today but needs staff soon: the coming 年末年始 without
    a schedule in year_end.yaml."""
    kb = _load(folder)
    console.print(
        f"[green]OK[/green] {kb.root}: {len(kb.items)} items, {len(kb.areas)} areas, "
        f"{len(kb.topics)} FAQ topics, {len(kb.categories)} categories"
    )
    warning = missing_year_end(kb.root, kb.year_end, _today(kb, today))
    if warning is not None:
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False)


@data_app.command()
def stats(
    folder: DirArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts: items (per category), areas, FAQ topics and examples, inferred entries."""
    figures = stats_of(_load(folder))
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{figures['municipality']} knowledge base", show_header=False)
    for key, value in figures.items():
        if key == "items_per_category":
            for cat, n in value.items():
                table.add_row(f"  items: {cat}", str(n))
        else:
            table.add_row(key, str(value))
    console.print(table)


@data_app.command()
def review(folder: DirArg = None) -> None:
    """List entries whose basis is 'inferred', for staff to confirm against a city page."""
    entries = _load(folder).review()
    table = Table(title=f"{len(entries)} inferred entries to confirm")
    for col in ("file", "line", "kind", "name", "detail"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.file, str(e.line or ""), e.kind, e.name, e.detail)
    console.print(table)


@data_app.command()
def schedule(
    area: Annotated[str, typer.Argument(help="Area (町名) as in areas.csv, e.g. 青山 or 大宮町１丁目.")],
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today).")] = None,
    folder: Annotated[Path | None, typer.Option("--data", help="Knowledge-base folder.")] = None,
) -> None:
    """What an area puts out on a date, and the next date of each category."""
    kb = _load(folder)
    day = date.fromisoformat(on) if on else date.today()
    matches = kb.areas_named(area) or [a for a in kb.areas if a.name.startswith(area)]
    if not matches:
        err_console.print(f"[red]no area named {area!r}[/red]")
        raise typer.Exit(1)
    for a in matches:
        ans = kb.schedule.collected_on(a, day)
        console.print(f"[bold]{a.name}[/bold] {day} ({'月火水木金土日'[day.weekday()]}): "
                      f"{'、'.join(ans.collected) or '収集なし'}"
                      + (f" / 要確認: {'、'.join(ans.unknown)}" if ans.unknown else "")
                      + (f" / 休止: {'、'.join(ans.suspended)}" if ans.suspended else "")
                      + (" [yellow](データの有効期間外)[/yellow]" if ans.stale else ""))
        for category in a.rules:
            nxt = kb.schedule.next_date(a, category, day)
            console.print(f"  次の{category}: {nxt.day or ('要確認' if nxt.unknown else 'なし')}")


@data_app.command("import-5374")
def import_5374_cmd(
    src: Annotated[Path, typer.Argument(help="A 5374.jp data folder (area_days.csv …).")],
    out: OutOpt,
    name: Annotated[str | None, typer.Option(help="The city's name (default: the folder name).")] = None,
    suspension_policy: Annotated[str, typer.Option(help="skip (Nara) or shift_week (Kanazawa).")] = "skip",
    annual: Annotated[bool, typer.Option(help="Repeat centre closures every year.")] = True,
    town_suffix_reading: Annotated[str, typer.Option(
        help="How the city reads a final 町 (Nara: チョー); default: the dictionary's reading.")] = "",
) -> None:
    """Import a 5374.jp folder; a curated folder at --out keeps its categories, items and FAQ."""
    from ivr.knowledge.import_5374 import import_5374

    report = import_5374(src, out, city_name=name, annual_suspensions=annual,
                         suspension_policy=suspension_policy, town_suffix_reading=town_suffix_reading)
    console.print(f"{src} → {out}: {report.areas} areas ({report.duplicate_rows_merged} duplicate rows merged), "
                  f"{report.collectors} collectors, {report.categories} categories, {report.items} items"
                  + (" (curated categories/items/FAQ kept)" if report.kept_curated else ""))
    for note in report.notes:
        console.print(f"  note: {note}", markup=False)
    validate(out)


@data_app.command("import-opendata")
def import_opendata_cmd(
    csv_file: Annotated[Path, typer.Argument(help="「ごみの分別方法」 CSV (national standard dataset).")],
    out: OutOpt,
) -> None:
    """Import the national standard garbage-sorting dataset into --out (items and categories)."""
    from ivr.knowledge.import_opendata import import_opendata

    report = import_opendata(csv_file, out)
    console.print(f"{csv_file} → {out}: {report.items} items ({report.added} new), "
                  f"{report.categories} categories")
    validate(out)


@data_app.command("export-5374")
def export_5374_cmd(folder: Annotated[Path, typer.Argument(help="Knowledge-base folder.")], out: OutOpt) -> None:
    """Write the knowledge base as a 5374.jp data folder (round trip with import-5374)."""
    from ivr.knowledge.export_5374 import export_5374

    kb = _load(folder)
    files = export_5374(kb, out)
    console.print(f"{folder} → {out}: {', '.join(f.name for f in files)}")
