"""``ivr report``: a day's, week's or month's figures in the console (Rich tables) or as CSV.

Run on the server (or anywhere with ``IVR_DATABASE_URL``): it reads the call records the server
wrote, in the city's time zone, and names topics by their titles from the knowledge base.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from analytics.figures import PeriodFigures, figures_csv, month_range, period_figures, period_for

REASON_TITLES = {"oogata": "大型ごみ", "collection": "収集", "illegal_dumping": "不法投棄", "animal": "動物の死がい",
                 "general": "その他", "operator": "職員への取次", "system_error": "システムエラー",
                 "silence": "無言", "call_too_long": "長時間の通話", "carrier_error": "回線の障害",
                 "shutdown": "サーバー停止時の取次"}


def report(
    month: str = typer.Option("", "--month", help="YYYY-MM, e.g. 2026-11 (the default: this month)."),
    week: str = typer.Option("", "--week", help="Any day (YYYY-MM-DD) of the week (Monday to Sunday)."),
    day: str = typer.Option("", "--day", help="One day, YYYY-MM-DD."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV, one row per day and a total (UTF-8 with BOM, for Excel)."),
) -> None:
    """The hotline's figures: calls, containment, transfers and tickets by reason, handle time,
    top topics and items, what callers said that the bot did not understand, staff hours saved."""
    from escalation.cli import _or_exit
    from escalation.db import engine_from_settings
    from ivr.config import get_settings
    from ivr.knowledge.base import load_knowledge

    settings = get_settings()
    kb = load_knowledge(settings.data_dir)
    tz = ZoneInfo(kb.municipality.timezone)
    try:
        start, end = _period(month, week, day, datetime.now(tz).date())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    engine = _or_exit(lambda: engine_from_settings(settings))
    try:
        figures = period_figures(engine, start, end, tz=tz, minutes_per_call=settings.minutes_per_call)
    finally:
        engine.dispose()
    if as_csv:
        typer.get_binary_stream("stdout").write(figures_csv(figures).encode("utf-8-sig"))
        return
    print_figures(figures, {t.id: t.title for t in kb.topics}, Console(), settings.minutes_per_call)


def _period(month: str, week: str, day: str, today: date) -> tuple[date, date]:
    given = [(kind, text) for kind, text in (("month", month), ("week", week), ("day", day)) if text]
    if len(given) > 1:
        raise ValueError("give one of --month, --week, --day")
    if not given:
        return period_for("month", today)
    kind, text = given[0]
    if kind == "month":
        return month_range(text)
    try:
        anchor = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"a day is written YYYY-MM-DD, not {text!r}") from None
    return period_for(kind, anchor)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _ms(value: float | None) -> str:
    return f"{value:.0f} ms" if value is not None else "–"


def print_figures(f: PeriodFigures, titles: dict[str, str], console: Console, minutes_per_call: float) -> None:
    """The figures as Rich tables: the summary, reasons, topics, items, not understood, per day."""
    last = date.fromordinal(f.end.toordinal() - 1)
    summary = Table(title=f"電話応対の集計 {f.start.isoformat()} 〜 {last.isoformat()}", show_header=False)
    summary.add_column("項目")
    summary.add_column("値", justify="right")
    minutes, seconds = divmod(round(f.avg_handle_s), 60)
    for label, value in (
        ("通話数", str(f.calls)),
        ("自動応答で完結（職員なし）", f"{f.contained}  ({_pct(f.contained, f.calls)})"),
        ("職員へ転送", f"{f.transferred_total}  ({_pct(f.transferred_total, f.calls)})"),
        ("折り返し受付", f"{f.tickets_total}  ({_pct(f.tickets_total, f.calls)})"),
        ("回答前に切れた", f"{f.abandoned}  ({_pct(f.abandoned, f.calls)})"),
        ("障害", f"{f.failed}  ({_pct(f.failed, f.calls)})"),
        ("平均通話時間", f"{minutes}分{seconds:02d}秒"),
        ("削減できた職員の時間（推定）",
         f"{f.staff_hours_saved:.1f} 時間  (完結 {f.contained} 件 × {minutes_per_call:g} 分)"),
        ("音声認識の時間（中央値）", _ms(f.asr_ms_p50)),
        ("応答を考える時間（中央値）", _ms(f.reply_ms_p50)),
    ):
        summary.add_row(label, value)
    console.print(summary)
    for title, counts in (("職員へ転送した理由", f.transferred), ("折り返し受付の理由", f.tickets)):
        _counts(console, title, "理由", [(REASON_TITLES.get(k, titles.get(k, k)), n) for k, n in counts.items()])
    _counts(console, "よく聞かれた話題（通話数）", "話題", [(titles.get(k, k), n) for k, n in f.top_intents])
    _counts(console, "よく聞かれた品目（通話数）", "品目", f.top_items)
    _counts(console, "聞き取れなかった・分からなかった発話", "発話", f.not_understood)
    days = Table(title="日別")
    for column in ("日付", "通話数", "完結", "転送", "受付", "切断", "障害"):
        days.add_column(column, justify="left" if column == "日付" else "right")
    for d in f.days:
        days.add_row(d.day.isoformat(), *(str(n) for n in (d.calls, d.contained, d.transferred, d.tickets,
                                                           d.abandoned, d.failed)))
    console.print(days)


def _counts(console: Console, title: str, label: str, rows: list[tuple[str, int]]) -> None:
    table = Table(title=title, min_width=48)
    table.add_column(label)
    table.add_column("件数", justify="right")
    for name, count in rows:
        table.add_row(name, str(count))
    if not rows:
        table.add_row("（なし）", "")
    console.print(table)
