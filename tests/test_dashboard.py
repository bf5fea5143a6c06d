"""The staff console's dashboard and CSV export, over HTTP, against call records in a real database.

The records are saved through ``analytics.store.CallLog`` (as the phone server saves them when a
call ends), then the page is read as staff would: logged in, a period chosen. The SVG charts are
checked as markup (their titles and counts), and on their own in the last tests.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from analytics.records import ABANDONED, ANSWERED, TICKET, TRANSFERRED, CallRecord, TurnSummary
from analytics.store import CallLog
from escalation.accounts import StaffAccounts
from escalation.console import create_console
from escalation.console.charts import Series, hbars, stacked_days
from escalation.store import TicketStore

SECRET = "dashboard-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
JST = timezone(timedelta(hours=9))
TOPICS = {"collection_day": "収集日の案内", "oversize_booking": "大型ごみの申し込み"}
MINUTES = 6.0


def turn(n: int, at: datetime, text: str, intent: str, item: str = "", understood: bool = True) -> TurnSummary:
    return TurnSummary(n=n, at=at, kind="speech", text=text, intent=intent, confidence=0.9 if understood else 0.2,
                       action="answer" if understood else "clarify", item=item, asr_ms=400.0, reply_ms=120.0,
                       understood=understood)


def record(call_id: str, start: datetime, outcome: str, seconds: float, reason: str = "",
           turns: list[tuple[str, str, str, bool]] = ()) -> CallRecord:
    """A finished call starting at ``start`` (Japan time); turns are (text, intent, item, understood)."""
    return CallRecord(call_id=call_id, transport="twilio_gather", started_at=start.astimezone(UTC),
                      ended_at=(start + timedelta(seconds=seconds)).astimezone(UTC), outcome=outcome, reason=reason,
                      ticket_number="1001" if outcome == TICKET else "",
                      turns=[turn(i + 1, start + timedelta(seconds=10 * i), *t) for i, t in enumerate(turns)])


def jst(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=JST)


NOVEMBER = [
    record("CA-1", jst(2, 10), ANSWERED, 60,
           turns=[("燃えるごみの日はいつですか", "collection_day", "燃えるごみ", True)]),
    # 23:50 in Nara is 14:50 UTC: still 11/2, the city's day
    record("CA-2", jst(2, 23, 50), ANSWERED, 120, turns=[("ソファを捨てたい", "oversize_booking", "ソファ", True)]),
    record("CA-3", jst(3, 11), TRANSFERRED, 90, "collection",
           turns=[("収集車が来なかったんです", "missed_collection", "", True)]),
    record("CA-4", jst(4, 20), TICKET, 150, "illegal_dumping",
           turns=[("空き地に冷蔵庫が捨てられてる", "illegal_dumping", "冷蔵庫", True)]),
    record("CA-5", jst(5, 9), ABANDONED, 8),
    record("CA-6", jst(5, 14), ANSWERED, 72, turns=[("えーと、あのー、そだいの", "not_understood", "", False),
                                                     ("燃えるごみの日を教えて", "collection_day", "燃えるごみ", True)]),
]
DECEMBER = [record("CA-7", jst(1, 0, 10, month=12), ANSWERED, 30,  # 15:10 UTC on 11/30: December in Nara
                   turns=[("びんの日は", "collection_day", "びん", True)])]


@pytest.fixture
def app(db_url: str) -> Any:
    store = TicketStore.from_url(db_url)
    accounts = StaffAccounts(store.engine)
    accounts.add("山田", PASSWORD)  # plain staff, not admin: the dashboard is for everyone
    log = CallLog(store.engine)
    for r in NOVEMBER + DECEMBER:
        log.save(r)
    outer = FastAPI()
    outer.mount("/staff", create_console(store, accounts, secret_key=SECRET, topic_titles=TOPICS,
                                         minutes_per_call=MINUTES))
    yield outer
    store.dispose()


def login(app: FastAPI) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/staff/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    r = client.post("/staff/login", data={"csrf": token.group(1), "name": "山田", "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def text_of(html: str, element_id: str) -> str:
    """The visible text of the element with ``id`` (tags dropped, whitespace collapsed)."""
    start = html.index(f'id="{element_id}"')
    chunk = html[start:html.index("</section>" if "tile" not in element_id else "</div>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", chunk.split(">", 1)[1]).split())


def test_dashboard_and_csv_need_a_login(app: FastAPI) -> None:
    anonymous = TestClient(app, base_url="https://testserver")
    for path in ("/staff/dashboard", "/staff/dashboard.csv?period=month&date=2026-11-01"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and "/staff/login?next=" in r.headers["location"], path
        assert "通話数" not in r.text and "日付" not in r.text


def test_month_shows_the_figures_of_the_calls(app: FastAPI) -> None:
    html = login(app).get("/staff/dashboard?period=month&date=2026-11-15").text
    assert "2026年11月" in html and 'aria-current="page">集計<' in html
    assert text_of(html, "tile-calls").startswith("通話数 6 件")  # CA-7 is December's in Japan time
    assert "50.0%" in text_of(html, "tile-containment") and "3 件" in text_of(html, "tile-containment")
    assert "1 件" in text_of(html, "tile-transferred") and "1 件" in text_of(html, "tile-tickets")
    assert "1 件" in text_of(html, "tile-abandoned")
    assert "1分23秒" in text_of(html, "tile-aht")  # (60 + 120 + 90 + 150 + 8 + 72) / 6 = 83.3 s
    assert "0.3 時間" in text_of(html, "tile-saved") and "6 分" in text_of(html, "tile-saved")  # 3 × 6 min
    assert "収集・収集漏れ 1件" in text_of(html, "transfers")  # the desk, in Japanese
    assert "不法投棄 1件" in text_of(html, "tickets")
    intents = text_of(html, "intents")
    assert intents.index("収集日の案内 2 件") < intents.index("大型ごみの申し込み 1 件")  # titles, most first
    assert "燃えるごみ 2 件" in text_of(html, "items") and "冷蔵庫 1 件" in text_of(html, "items")
    assert "えーと、あのー、そだいの 1 件" in text_of(html, "not-understood")
    # the stacked chart: one bar per day of November, each segment titled with its day, kind and count
    assert html.count('class="c-contained" x=') == 2  # 11/2 (two calls, one segment) and 11/5
    assert "11月2日(月) 自動で完結 2件" in html and "11月4日(水) 折り返し受付 1件" in html
    assert "11月5日(木) 途中で切断 1件" in html and '<text class="axis">30</text>' not in html
    assert "<title" in html and 'role="img"' in html and "<script" not in html  # no script, nothing from a CDN
    assert 'href="/staff/dashboard.csv?period=month&amp;date=2026-11-01"' in html
    assert 'href="/staff/dashboard?period=month&amp;date=2026-10-01" rel="prev"' in html
    assert 'href="/staff/dashboard?period=month&amp;date=2026-12-01" rel="next"' in html


def test_week_and_day_are_selectable(app: FastAPI) -> None:
    client = login(app)
    week = client.get("/staff/dashboard?period=week&date=2026-11-04").text  # Monday 11/2 to Sunday 11/8
    assert "2026年11月2日(月)〜11月8日(日)" in week
    assert 'option value="week" selected' in week and 'value="2026-11-02"' in week
    assert text_of(week, "tile-calls").startswith("通話数 6 件")
    assert '>← 前の週</a>' in week and "date=2026-10-26" in week
    day = client.get("/staff/dashboard?period=day&date=2026-11-02").text
    assert "2026年11月2日(月)" in day and text_of(day, "tile-calls").startswith("通話数 2 件")
    assert "100.0%" in text_of(day, "tile-containment") and "転送はありませんでした。" in day
    december = client.get("/staff/dashboard?period=day&date=2026-12-01").text
    assert text_of(december, "tile-calls").startswith("通話数 1 件") and "びん 1 件" in text_of(december, "items")
    empty = client.get("/staff/dashboard?period=day&date=2026-11-20").text
    assert "この期間の通話はありません。" in empty and text_of(empty, "tile-containment").startswith("自動応答で完結 —")


@pytest.mark.parametrize("query, message", [("period=year", "「日」「週」「月」"), ("date=11/02", "2026-11-01 の形"),
                                             ("date=1999-01-01", "集計はありません")])
def test_a_bad_period_is_refused_with_a_message(app: FastAPI, query: str, message: str) -> None:
    client = login(app)
    r = client.get(f"/staff/dashboard?{query}")
    assert r.status_code == 400 and message in r.text and 'role="alert"' in r.text
    csv_r = client.get(f"/staff/dashboard.csv?{query}")
    assert csv_r.status_code == 400 and message in csv_r.text


def test_csv_opens_in_excel_with_japanese_headers(app: FastAPI) -> None:
    r = login(app).get("/staff/dashboard.csv?period=month&date=2026-11-01")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="gomi-calls-month-2026-11-01.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["日付", "通話数", "自動応答で完結", "職員へ転送", "折り返し受付", "途中で切れた"]
    assert len(rows) == 1 + 30 + 1  # header, every day of November, totals
    by_day = {row[0]: row[1:] for row in rows[1:]}
    assert by_day["2026-11-02"][:2] == ["2", "2"] and by_day["2026-11-05"][:6] == ["2", "1", "0", "0", "1", "0"]
    assert rows[-1][:6] == ["合計", "6", "3", "1", "1", "1"]
    week = login(app).get("/staff/dashboard.csv?period=week&date=2026-11-30")
    assert list(csv.reader(io.StringIO(week.content.decode("utf-8-sig"))))[-1][:2] == ["合計", "1"]


# --- the SVG charts on their own --------------------------------------------------------------------


def test_stacked_chart_draws_each_layer_and_total() -> None:
    days = [date(2026, 11, 2) + timedelta(days=i) for i in range(3)]
    layers = [Series("contained", "自動で完結", [3, 0, 1]), Series("tickets", "折り返し受付", [1, 0, 0])]
    svg = str(stacked_days(days, layers, title="日ごとの通話数"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title id=" in svg and "11月2日(月) 4件、11月3日(火) 0件、11月4日(水) 1件" in svg  # the desc
    assert svg.count('<rect class="c-contained" x=') == 2 and svg.count('<rect class="c-tickets" x=') == 1
    assert '<text class="total"' in svg and ">4</text>" in svg
    assert ">自動で完結</text>" in svg and ">折り返し受付</text>" in svg  # the legend, as text
    with pytest.raises(ValueError):
        stacked_days(days, [Series("contained", "完結", [1])], title="x")


def test_bar_chart_escapes_what_callers_or_data_say() -> None:
    svg = str(hbars([("<script>alert(1)</script>", 3), ("一般", 1)], title="理由 & 件数", key="transferred"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "理由 &amp; 件数" in svg
    assert svg.count('<rect class="c-transferred"') == 2 and ">3件</text>" in svg
    assert "データなし" in str(hbars([], title="空", key="tickets"))
