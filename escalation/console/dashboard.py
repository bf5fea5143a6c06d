"""The operations dashboard: how the hotline did over a day, a week or a month, and its CSV export.

Figures come from the call records the phone server saves at the end of every call
(``analytics.figures.period_figures``, on the same database as the tickets), so the page shows what
really happened on the lines, not counts kept in memory that a restart would lose. Any logged-in
staff member may read it (the section head asks for it as often as the administrator); it changes
nothing, so it has no forms to protect besides the period picker, a plain GET.

Days are the city's days (Asia/Tokyo): a call at 23:50 JST belongs to that evening, whatever UTC
says. Routes are plain ``def``: FastAPI runs them in its thread pool, off the event loop the phone
calls run on, since the figures are database queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from analytics.figures import PeriodFigures, figures_csv, period_figures, period_for
from escalation.console.auth import csrf_guard, require_login
from escalation.console.charts import Series, hbars, stacked_days
from escalation.console.views import JST, REASON_LABELS, WEEKDAYS, render, topic

CITY_TZ = ZoneInfo("Asia/Tokyo")  # every city this serves is in Japan; the console shows JST throughout
PERIODS = {"day": "日", "week": "週", "month": "月"}
DEFAULT_MINUTES_PER_CALL = 4.0  # as IVR_MINUTES_PER_CALL's default: a garbage question plus wrap-up
DEFAULT_PERIOD = "month"  # the figure the section head reports upward
LIST_ROWS = 10  # the top intents, items and not-understood utterances shown (the CSV has the day rows)
UTF8_BOM = "\ufeff"  # without it Excel on a Japanese Windows PC reads the CSV as Shift_JIS: garbled text

# Transfers are counted by the FAQ topic that needed staff (shown by its title) or by the fault that
# sent the call to them; tickets by their desk (REASON_LABELS). The faults, as the dialogue names them:
CAUSE_LABELS = {**REASON_LABELS, "system_error": "システムエラー", "silence": "無言", "call_too_long": "長時間の通話",
                "shutdown": "サーバー停止時の取次", "not_understood": "聞き取れず", "transfer": "取次",
                "unknown": "その他"}
SERIES = (("contained", "自動で完結"), ("transferred", "職員へ転送"), ("tickets", "折り返し受付"),
          ("abandoned", "途中で切断"))


class PeriodError(ValueError):
    """A period or date in the query that the dashboard cannot show (answered 400 with the page)."""


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # exclusive

    @property
    def anchor(self) -> str:
        return self.start.isoformat()


def dashboard_router() -> APIRouter:
    """The dashboard page and its CSV: behind the login like every other console page."""
    router = APIRouter(dependencies=[Depends(require_login), Depends(csrf_guard)], include_in_schema=False)

    @router.get("/dashboard", response_class=HTMLResponse, name="dashboard")
    def dashboard(request: Request, period: str = DEFAULT_PERIOD, day: str = Query("", alias="date")) -> Response:
        today = datetime.now(JST).date()
        try:
            chosen = parse_period(period, day, today)
        except PeriodError as e:
            chosen = parse_period(DEFAULT_PERIOD, "", today)
            return render(request, "dashboard.html", {**_page(request, chosen, today), "error": str(e)}, 400)
        return render(request, "dashboard.html", _page(request, chosen, today))

    @router.get("/dashboard.csv", name="dashboard_csv")
    def dashboard_csv(request: Request, period: str = DEFAULT_PERIOD,
                      day: str = Query("", alias="date")) -> Response:
        try:
            chosen = parse_period(period, day, datetime.now(JST).date())
        except PeriodError as e:
            return Response(str(e), status_code=400, media_type="text/plain; charset=utf-8")
        body = UTF8_BOM + figures_csv(_figures(request, chosen))
        filename = f"gomi-calls-{chosen.kind}-{chosen.anchor}.csv"  # ASCII: every browser keeps the name
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return router


def parse_period(kind: str, anchor: str, today: date) -> Period:
    """``period=week&date=2026-11-04`` → the week holding that date; no date means the current one."""
    if kind not in PERIODS:
        raise PeriodError("期間は「日」「週」「月」のいずれかを選んでください。")
    try:
        day = date.fromisoformat(anchor) if anchor else today
    except ValueError:
        raise PeriodError("日付は 2026-11-01 の形で指定してください。") from None
    if not date(2000, 1, 1) <= day <= today + timedelta(days=366):
        raise PeriodError("その日付の集計はありません。")
    start, end = period_for(kind, day)
    return Period(kind, start, end)


def _figures(request: Request, period: Period) -> PeriodFigures:
    state = request.app.state
    return period_figures(state.store.engine, period.start, period.end, tz=CITY_TZ,
                          minutes_per_call=state.minutes_per_call)


def long_date(day: date, year: bool = True) -> str:
    return f"{f'{day.year}年' if year else ''}{day.month}月{day.day}日({WEEKDAYS[day.weekday()]})"


def period_title(period: Period) -> str:
    """How the period is named on the page: 2026年11月 / 2026年11月30日(月)〜12月6日(日) / one day."""
    if period.kind == "month":
        return f"{period.start.year}年{period.start.month}月"
    last = period.end - timedelta(days=1)
    if period.kind == "day" or last == period.start:
        return long_date(period.start)
    return f"{long_date(period.start)}〜{long_date(last, year=last.year != period.start.year)}"


def handle_time(seconds: float) -> str:
    """Average handle time as staff say it: 3分05秒 (a call is minutes, never hours)."""
    total = round(seconds)
    return f"{total // 60}分{total % 60:02d}秒" if total >= 60 else f"{total}秒"


def percent(part: float) -> str:
    return f"{part * 100:.1f}%"


def _ranked(request: Request, counts: dict[str, int], *, topics_first: bool) -> list[tuple[str, int]]:
    """Reasons largest first, in Japanese; an unknown key shows as itself rather than vanishing.
    ``topics_first``: a transfer's reason is a topic id (``operator`` → 職員と話したい) before a desk."""
    titles = request.app.state.topic_titles

    def label(key: str) -> str:
        first, then = (titles, CAUSE_LABELS) if topics_first else (CAUSE_LABELS, titles)
        return first.get(key) or then.get(key) or key

    return [(label(k), v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v]


def _page(request: Request, period: Period, today: date) -> dict[str, Any]:
    figures = _figures(request, period)
    before = period_for(period.kind, period.start - timedelta(days=1))
    after = Period(period.kind, *period_for(period.kind, period.end))
    noun = PERIODS[period.kind]
    transfers = _ranked(request, figures.transferred, topics_first=True)
    tickets = _ranked(request, figures.tickets, topics_first=False)
    # One day alone is a single bar: that day is drawn within its week instead, for comparison.
    week = Period("week", *period_for("week", period.start))
    shown = _figures(request, week) if period.kind == "day" else figures
    layers = SERIES + ((("failed", "障害で終了"),) if shown.failed else ())  # only when there were any
    series = [Series(key, label, [getattr(d, key) for d in shown.days]) for key, label in layers]
    chart_title = period_title(week if period.kind == "day" else period)
    return {
        "period": period, "periods": PERIODS, "title": period_title(period), "figures": figures,
        "minutes_per_call": request.app.state.minutes_per_call,
        "prev": {"period": period.kind, "date": before[0].isoformat(), "label": f"前の{noun}"},
        "next": {"period": period.kind, "date": after.anchor, "label": f"次の{noun}", "enabled": after.start <= today},
        "current": {"period": period.kind, "date": today.isoformat(), "label": f"今{noun}" if noun != "日" else "今日"},
        "tiles": _tiles(figures, request.app.state.minutes_per_call),
        "days_chart": stacked_days([d.day for d in shown.days], series, title=f"{chart_title} 日ごとの通話数（内訳）",
                                   highlight=period.start if period.kind == "day" else None),
        "chart_calls": shown.calls, "chart_span": chart_title if period.kind == "day" else "",
        "transfers": transfers, "tickets": tickets,
        "transfers_chart": hbars(transfers, title="職員へ転送した理由", key="transferred"),
        "tickets_chart": hbars(tickets, title="折り返し受付の種別", key="tickets"),
        "intents": [(topic(request, k), n) for k, n in figures.top_intents[:LIST_ROWS]],
        "items": figures.top_items[:LIST_ROWS], "not_understood": figures.not_understood[:LIST_ROWS],
        "day_rows": [d for d in shown.days if d.calls],
        "long_date": long_date,
    }


def _tiles(f: PeriodFigures, minutes_per_call: float) -> list[dict[str, str]]:
    """The headline figures, each with the one-line definition a reader needs to trust it."""
    transferred, tickets = sum(f.transferred.values()), sum(f.tickets.values())
    return [
        {"key": "calls", "label": "通話数", "value": f"{f.calls}", "unit": "件", "note": "期間中にかかってきた電話"},
        {"key": "containment", "label": "自動応答で完結", "value": percent(f.containment) if f.calls else "—",
         "unit": "", "note": f"{f.contained} 件を職員なしで回答"},
        {"key": "transferred", "label": "職員へ転送", "value": f"{transferred}", "unit": "件",
         "note": "営業時間内に担当課へ"},
        {"key": "tickets", "label": "折り返し受付", "value": f"{tickets}", "unit": "件",
         "note": "時間外などで受付票を作成"},
        {"key": "abandoned", "label": "途中で切断", "value": f"{f.abandoned}", "unit": "件",
         "note": "答える前に切れた通話"},
        {"key": "aht", "label": "平均通話時間", "value": handle_time(f.avg_handle_s) if f.calls else "—", "unit": "",
         "note": "着信から終話まで"},
        {"key": "saved", "label": "削減できた職員の時間", "value": f"{f.staff_hours_saved:.1f}", "unit": "時間",
         "note": f"推計：完結 {f.contained} 件 × 1件 {minutes_per_call:g} 分"},
    ]
