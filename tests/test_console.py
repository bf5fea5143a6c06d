"""The staff console and its REST API against a real TicketStore (SQLite and PostgreSQL).

The console is mounted under /staff exactly as ``ivr serve`` mounts it, and driven over HTTPS
(TestClient) with the production cookie settings. Forms are submitted the way a browser would:
the page is fetched, its form parsed, the hidden CSRF field sent back.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

try:
    from fastapi.routing import iter_route_contexts  # FastAPI that keeps included routers as such
except ImportError:  # older FastAPI: app.routes is already the flat list

    def iter_route_contexts(routes: Any) -> Any:
        return iter(routes)

from escalation.accounts import MAX_FAILURES, StaffAccounts
from escalation.console import create_console
from escalation.store import TicketRecord, TicketStore
from escalation.tickets import TicketRequest, TranscriptLine

SECRET = "test-secret-key-0123456789abcdef-0123456789"
PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # 20:00 in Nara: after hours, the bot took a callback ticket
LIVE = [{"call_id": "CA123", "carrier": "twilio", "started_at": "2026-12-03T00:01:00+00:00",
         "caller": "090-****-1234", "turns": 3, "last_intent": "oversize_booking"}]


TOPICS = {"oversize_booking": "大型ごみの申し込み", "missed_collection": "収集漏れ"}


class Clock:
    """The store's and accounts' clock, moved by tests (overdue tickets, lock-out windows)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, formaction or "")


class FormParser(HTMLParser):
    """Just enough of a browser: the forms on a page, their hidden fields and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("method", "get").lower(), a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms:
            self._button = {"formaction": a.get("formaction", ""), "label": ""}

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["label"] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            self.forms[-1].buttons.append((self._button["label"], self._button["formaction"]))
            self._button = None


def forms_of(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class Console:
    app: FastAPI
    console: FastAPI
    store: TicketStore
    accounts: StaffAccounts
    clock: Clock

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="https://testserver")

    def login(self, name: str, password: str = PASSWORD) -> TestClient:
        client = self.client()
        r = submit(client, "/staff/login", "/staff/login", {"name": name, "password": password})
        assert r.status_code == 303, r.text
        return client

    def ticket(self, **overrides: Any) -> TicketRecord:
        request = TicketRequest(**{**TICKET, **overrides})
        created = asyncio.run(self.store.create(request))
        record = self.store.get(created.id)
        assert record is not None
        return record


TICKET: dict[str, Any] = dict(
    call_id="CA-after-hours-1", topic="missed_collection", summary="燃えるごみが回収されていない",
    callback_number="09012345678", caller_name="佐藤", area="青山", created_at=T0, reason="collection",
    caller_number="+819012345678", item="燃えるごみ",
    transcript=[TranscriptLine("bot", "はい、奈良市ごみ受付です。", T0),
                TranscriptLine("caller", "今朝出したごみが回収されてないんです", T0 + timedelta(seconds=6)),
                TranscriptLine("bot", "担当者から折り返しお電話します。", T0 + timedelta(seconds=14))],
)


def submit(client: TestClient, page: str, action: str, data: dict[str, str], **kw: Any) -> Any:
    """Open ``page``, find the form posting to ``action`` (or a button with that formaction), send it."""
    html = client.get(page).text
    for form in forms_of(html):
        if form.method == "post" and (form.action == action or any(fa == action for _, fa in form.buttons)):
            return client.post(action, data={**form.fields, **data}, follow_redirects=False, **kw)
    raise AssertionError(f"no form posting to {action} on {page}")


def csrf_of(client: TestClient, page: str = "/staff/") -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(page).text)
    assert token, "no CSRF field on the page"
    return token.group(1)


@pytest.fixture
def env(db_url: str) -> Any:
    clock = Clock(T0 + timedelta(hours=13))  # 09:00 the next morning in Nara
    store = TicketStore.from_url(db_url, clock=clock)
    accounts = StaffAccounts(store.engine, clock=clock)
    accounts.add("山田", PASSWORD)
    accounts.add("鈴木", PASSWORD)
    accounts.add("管理者", PASSWORD, admin=True)
    console = create_console(store, accounts, secret_key=SECRET, live_calls=lambda: LIVE, topic_titles=TOPICS)
    app = FastAPI()

    @app.get("/queue", name="queue")  # the phone server's own routes may share a name with the console's
    @app.get("/login", name="login")
    def outer() -> dict[str, str]:
        return {"outer": "app"}

    app.mount("/staff", console)
    yield Console(app, console, store, accounts, clock)
    store.dispose()


def snapshot(store: TicketStore, ticket_id: int) -> tuple[Any, ...]:
    t = store.get(ticket_id)
    assert t is not None
    return t.status, t.assignee, len(t.notes), len(t.audit)


def concrete(path: str, ticket: TicketRecord) -> str:
    return path.replace("{ticket_id}", str(ticket.id)).replace("{action}", "claim").replace("{number}", ticket.number)


def console_routes(console: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, name) of every route of the console except its static files."""
    out = []
    for route in iter_route_contexts(console.routes):
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            assert original.name == "static"
            continue
        assert isinstance(original, APIRoute), route
        out += [(m, route.path, route.name) for m in sorted(route.methods)]
    assert out
    return out


# --- login required everywhere ---------------------------------------------------------------------


def test_every_page_and_api_route_refuses_without_login(env: Console) -> None:
    ticket = env.ticket()
    before = snapshot(env.store, ticket.id)
    anonymous = env.client()
    checked = set()
    for method, path, name in console_routes(env.console):
        if name in ("login", "login_post"):
            continue
        url = "/staff" + concrete(path, ticket)
        r = anonymous.request(method, url, follow_redirects=False, json={"action": "claim"} if "api" in url else None)
        if path.startswith("/api/v1/") or path == "/api/openapi.json":
            assert r.status_code == 401, (method, url, r.status_code)
            assert r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
        elif path.endswith(".json"):
            assert r.status_code == 401, (method, url)
        else:
            assert r.status_code == 303, (method, url, r.status_code)
            assert r.headers["location"].startswith("/staff/login"), (method, url)
        checked.add(name)
    assert {"queue", "ticket", "ticket_action", "search", "live", "live_json", "staff_list", "staff_add", "logout",
            "api_docs", "api_schema", "list_tickets", "get_ticket", "change_ticket"} <= checked
    assert snapshot(env.store, ticket.id) == before


def test_a_logged_in_session_does_not_open_the_api(env: Console) -> None:
    client = env.login("山田")
    ticket = env.ticket()
    for method, path, _ in console_routes(env.console):
        if path.startswith("/api/v1"):
            r = client.request(method, "/staff" + concrete(path, ticket), json={"action": "claim"})
            assert r.status_code == 401, (method, path)
    assert client.get("/staff/api/openapi.json").status_code == 200  # the schema serves the docs page too


def test_login_redirects_back_and_logout_needs_the_token(env: Console) -> None:
    ticket = env.ticket()
    client = env.client()
    r = client.get(f"/staff/tickets/{ticket.id}", follow_redirects=False)
    assert r.headers["location"] == f"/staff/login?next=%2Fstaff%2Ftickets%2F{ticket.id}"
    r = submit(client, r.headers["location"], "/staff/login", {"name": "山田", "password": PASSWORD})
    assert r.headers["location"] == f"/staff/tickets/{ticket.id}"
    assert "山田 さん" in client.get("/staff/").text
    assert client.post("/staff/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.get("/staff/", follow_redirects=False).status_code == 200  # still logged in
    r = submit(client, "/staff/", "/staff/logout", {})
    assert r.headers["location"] == "/staff/login"
    assert client.get("/staff/", follow_redirects=False).status_code == 303


def test_login_never_redirects_off_site(env: Console) -> None:
    client = env.client()
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = submit(client, f"/staff/login?next={target}", "/staff/login", {"name": "山田", "password": PASSWORD})
        assert r.headers["location"] == "/staff/", target


def test_wrong_password_and_lock_out(env: Console) -> None:
    client = env.client()
    r = submit(client, "/staff/login", "/staff/login", {"name": "山田", "password": "wrong password!"})
    assert r.status_code == 401 and "職員名またはパスワードが違います" in r.text
    for _ in range(MAX_FAILURES - 1):
        r = submit(client, "/staff/login", "/staff/login", {"name": "山田", "password": "wrong password!"})
    assert r.status_code == 423 and "一時的にロックされています" in r.text
    assert "09:15 以降にもう一度" in r.text  # locked at 00:00 UTC = 09:00 in Nara, for 15 minutes
    r = submit(client, "/staff/login", "/staff/login", {"name": "山田", "password": PASSWORD})
    assert r.status_code == 423 and "一時的にロックされています" in r.text  # even the right password, for now
    assert client.get("/staff/", follow_redirects=False).status_code == 303
    env.clock.now += timedelta(hours=1)
    assert submit(client, "/staff/login", "/staff/login", {"name": "山田", "password": PASSWORD}).status_code == 303


def test_empty_login_form_is_refused_with_a_message(env: Console) -> None:
    r = submit(env.client(), "/staff/login", "/staff/login", {"name": " ", "password": ""})
    assert r.status_code == 400 and "職員名とパスワードを入力してください" in r.text


# --- CSRF --------------------------------------------------------------------------------------------


def test_every_post_form_on_every_page_carries_the_csrf_token(env: Console) -> None:
    ticket = env.ticket()
    client = env.login("管理者")
    token = csrf_of(client)
    pages = ["/staff/", "/staff/search?q=ごみ", f"/staff/tickets/{ticket.id}", "/staff/live", "/staff/admin/staff",
             "/staff/api/docs"]
    posts = 0
    for page in pages:
        for form in forms_of(client.get(page).text):
            if form.method == "post":
                assert form.fields.get("csrf") == token, (page, form.action)
                posts += 1
    assert posts >= 5
    login_forms = [f for f in forms_of(env.client().get("/staff/login").text) if f.method == "post"]
    assert login_forms and all(f.fields.get("csrf") for f in login_forms)


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(env: Console) -> None:
    ticket = env.ticket()
    client = env.login("管理者")
    staff_before = env.accounts.list()
    before = snapshot(env.store, ticket.id)
    routes = [(m, p) for m, p, _ in console_routes(env.console) if m == "POST" and not p.startswith("/api/")]
    assert len(routes) >= 4
    for _, path in routes:
        for action in ("claim", "resolve", "note", "close", "reopen", "called_back"):
            url = "/staff" + concrete(path, ticket).replace("/claim", "/" + action)
            data = {"note": "書き換え", "name": "侵入者", "password": "long enough password"}
            for token in ({}, {"csrf": ""}, {"csrf": "forged-token"}):
                r = client.post(url, data={**data, **token}, follow_redirects=False)
                assert r.status_code == 403, (url, token, r.status_code)
                assert "操作を受け付けませんでした" in r.text
    assert snapshot(env.store, ticket.id) == before
    assert env.accounts.list() == staff_before
    assert client.get("/staff/", follow_redirects=False).status_code == 200  # logout without a token did nothing


def test_login_itself_needs_the_csrf_token(env: Console) -> None:
    client = env.client()
    client.get("/staff/login")
    r = client.post("/staff/login", data={"name": "山田", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/staff/", follow_redirects=False).status_code == 303


def test_a_token_from_another_session_is_refused(env: Console) -> None:
    ticket = env.ticket()
    a, b = env.login("山田"), env.login("鈴木")
    r = b.post(f"/staff/tickets/{ticket.id}/claim", data={"csrf": csrf_of(a)}, follow_redirects=False)
    assert r.status_code == 403
    assert env.store.get(ticket.id).status == "open"


# --- the queue -----------------------------------------------------------------------------------------


def row_order(html: str) -> list[str]:
    return re.findall(r'<td class="num"><a href="/staff/tickets/\d+">(\d+)</a>', html)


def test_queue_is_urgent_first_then_due_and_marks_overdue(env: Console) -> None:
    general = env.ticket(reason="general", summary="分別の質問", caller_number="", callback_number="0742000001")
    animal = env.ticket(reason="animal", summary="道路に猫の死骸", area="学園前", caller_number="+81742000002",
                        created_at=T0 + timedelta(hours=1))
    urgent = env.ticket(reason="illegal_dumping", urgency="urgent", summary="空き地に冷蔵庫",
                        caller_number="+81742000003", created_at=T0 + timedelta(hours=2))
    env.clock.now = T0 + timedelta(hours=8)  # the animal (4 h) and the urgent one (2 h) are past due
    html = env.login("山田").get("/staff/").text
    assert row_order(html) == [urgent.number, animal.number, general.number]
    rows = re.findall(r'<tr class="([^"]*)">\s*<td class="num"><a href="/staff/tickets/\d+">(\d+)', html)
    classes = {number: cls.split() for cls, number in rows}
    assert classes[urgent.number] == ["urgent", "overdue"] and classes[animal.number] == ["overdue"]
    assert classes[general.number] == []
    assert html.count("期限超過") == 2 and "至急" in html
    assert "収集・収集漏れ" not in html.split("<tbody>")[1] and "動物の死骸" in html


def test_queue_filters_by_status_reason_and_area(env: Console) -> None:
    a = env.ticket(reason="animal", area="学園前", caller_number="+81742000002")
    b = env.ticket(reason="collection", area="青山", caller_number="+81742000003")
    client = env.login("山田")
    submit(client, f"/staff/tickets/{b.id}", f"/staff/tickets/{b.id}/claim", {})
    assert row_order(client.get("/staff/?reason=animal").text) == [a.number]
    assert row_order(client.get("/staff/?area=青山").text) == [b.number]
    assert row_order(client.get("/staff/?status=claimed").text) == [b.number]
    assert row_order(client.get("/staff/?status=open&reason=collection").text) == []
    submit(client, f"/staff/tickets/{b.id}", f"/staff/tickets/{b.id}/resolve", {"note": "再収集を手配"})
    assert row_order(client.get("/staff/").text) == [a.number]  # the default view: still to do
    assert row_order(client.get("/staff/?status=resolved").text) == [b.number]
    assert sorted(row_order(client.get("/staff/?status=all").text)) == sorted([a.number, b.number])


@pytest.mark.parametrize("query, message", [("status=done", "状態「done」は選べません"),
                                            ("reason=fire", "種別「fire」は選べません"),
                                            ("area=" + "あ" * 51, "地区は50文字以内")])
def test_unknown_filter_values_show_a_message(env: Console, query: str, message: str) -> None:
    env.ticket()
    r = env.login("山田").get(f"/staff/?{query}")
    assert r.status_code == 400 and message in r.text and row_order(r.text) == []


# --- one ticket ---------------------------------------------------------------------------------------


def test_ticket_page_shows_everything_staff_need(env: Console) -> None:
    ticket = env.ticket()
    client = env.login("山田")
    submit(client, f"/staff/tickets/{ticket.id}", f"/staff/tickets/{ticket.id}/note", {"note": "午後に電話する"})
    html = client.get(f"/staff/tickets/{ticket.id}").text
    for text in ("燃えるごみが回収されていない", "090-1234-5678", "佐藤", "青山", "燃えるごみ", "収集・収集漏れ",
                 "今朝出したごみが回収されてないんです", "20:00:06", "市民", "自動応答", "午後に電話する",
                 "12/02(水) 20:00", "12/04(金) 20:00", "受付", "メモ追加", "未対応", "収集漏れ",
                 "通話 CA-after-hours-1"):
        assert text in html, text
    labels = [label for form in forms_of(html) for label, _ in form.buttons]
    assert {"担当する", "折り返し済み", "解決", "メモ追加"} <= set(labels)


def test_claim_call_back_resolve_reopen(env: Console) -> None:
    ticket = env.ticket()
    page, act = f"/staff/tickets/{ticket.id}", f"/staff/tickets/{ticket.id}/"
    client = env.login("山田")
    r = submit(client, page, act + "claim", {})
    assert r.status_code == 303 and r.headers["location"] == page
    html = client.get(page).text
    assert "担当になりました。" in html and "（あなた）" in html and "担当する" not in html
    submit(client, page, act + "called_back", {"note": "留守電に残した"})
    assert submit(client, page, act + "resolve", {"note": "明朝に再収集"}).status_code == 303
    t = env.store.get(ticket.id)
    assert (t.status, t.assignee) == ("resolved", "山田")
    assert [n.text for n in t.notes] == ["留守電に残した", "明朝に再収集"]
    assert [a.action for a in t.audit if a.actor == "山田"][:3] == ["claimed", "called_back", "noted"]
    submit(client, page, act + "reopen", {})
    assert env.store.get(ticket.id).status == "open"
    assert "再オープンしました。" in client.get(page).text


def test_claim_held_by_someone_else_is_refused_with_their_name(env: Console) -> None:
    ticket = env.ticket()
    page = f"/staff/tickets/{ticket.id}"
    yamada, suzuki = env.login("山田"), env.login("鈴木")
    suzuki_form = forms_of(suzuki.get(page).text)  # 鈴木 opened the page before 山田 claimed it
    submit(yamada, page, page + "/claim", {})
    before = snapshot(env.store, ticket.id)
    claim = next(f for f in suzuki_form if f.action == page + "/claim")
    r = suzuki.post(claim.action, data=claim.fields, follow_redirects=False)
    assert r.status_code == 409
    assert "この受付は 山田 さんが対応中です" in r.text
    assert snapshot(env.store, ticket.id) == before
    for action in ("resolve", "called_back", "reopen"):  # nor can 鈴木 finish or release 山田's ticket
        r = suzuki.post(page + "/" + action, data={"csrf": csrf_of(suzuki), "note": "代わりに対応"})
        assert r.status_code == 409 and "この受付は 山田 さんが対応中です" in r.text, action
    assert env.store.get(ticket.id).assignee == "山田"


def test_bad_input_on_the_ticket_forms_changes_nothing(env: Console) -> None:
    ticket = env.ticket()
    page, act = f"/staff/tickets/{ticket.id}", f"/staff/tickets/{ticket.id}/"
    client = env.login("山田")
    submit(client, page, act + "claim", {})
    before = snapshot(env.store, ticket.id)
    cases = [("resolve", "   ", 400, "対応の内容をメモに入力してください"),
             ("note", "", 400, "メモを入力してください"),
             ("note", "長" * 2001, 400, "メモは2000文字以内"),
             ("called_back", "長" * 2001, 400, "メモは2000文字以内"),
             ("close", "", 403, "管理者だけ")]
    for action, note, status, message in cases:
        r = client.post(act + action, data={"csrf": csrf_of(client), "note": note})
        assert r.status_code == status and message in r.text, (action, r.status_code)
        assert 'class="msg err"' in r.text
        assert snapshot(env.store, ticket.id) == before, action


def test_what_staff_typed_stays_in_the_form_after_a_refusal(env: Console) -> None:
    ticket = env.ticket()
    client = env.login("管理者")
    r = client.post(f"/staff/tickets/{ticket.id}/resolve", data={"csrf": csrf_of(client), "note": "長" * 2001})
    assert r.status_code == 400 and "長" * 2001 in r.text


@pytest.mark.parametrize("path", ["/staff/tickets/abc", "/staff/tickets/1e3", "/staff/tickets/99999",
                                  "/staff/tickets/-1", "/staff/tickets/１", "/staff/nothing-here"])
def test_unknown_or_non_numeric_ticket_is_a_404_page(env: Console, path: str) -> None:
    r = env.login("山田").get(path)
    assert r.status_code == 404 and "見つかりません" in r.text and r.headers["content-type"].startswith("text/html")


def test_posting_to_an_unknown_ticket_or_action_is_a_404(env: Console) -> None:
    ticket = env.ticket()
    client = env.login("山田")
    token = csrf_of(client)
    for url in ("/staff/tickets/abc/claim", "/staff/tickets/99999/claim", f"/staff/tickets/{ticket.id}/delete"):
        assert client.post(url, data={"csrf": token}).status_code == 404, url
    assert env.store.get(ticket.id).status == "open"


def test_close_needs_a_call_back_or_an_admin(env: Console) -> None:
    ticket = env.ticket()
    page = f"/staff/tickets/{ticket.id}"
    staff, admin = env.login("山田"), env.login("管理者")
    assert "終了" not in [label for f in forms_of(staff.get(page).text) for label, _ in f.buttons]
    assert submit(admin, page, page + "/close", {}).status_code == 303
    assert env.store.get(ticket.id).status == "closed"
    other = env.ticket(caller_number="+81742000009")
    page = f"/staff/tickets/{other.id}"
    submit(staff, page, page + "/claim", {})
    submit(staff, page, page + "/called_back", {"note": "折り返し済み、案内した"})
    assert submit(staff, page, page + "/close", {}).status_code == 303
    assert env.store.get(other.id).status == "closed"


# --- search, live calls, staff list, docs ---------------------------------------------------------------


@pytest.mark.parametrize("q", ["1001", "090-1234-5678", "０９０１２３４５６７８", "回収されてない", "佐藤"])
def test_search_by_ticket_number_phone_or_text(env: Console, q: str) -> None:
    ticket = env.ticket()
    env.ticket(reason="animal", summary="猫の死骸", caller_number="+81742000002", callback_number="", caller_name="",
               transcript=[])
    html = env.login("山田").get("/staff/search", params={"q": q}).text
    assert ticket.number == "1001" and row_order(html) == [ticket.number], q


def test_search_without_match_or_with_too_long_a_query(env: Console) -> None:
    env.ticket()
    client = env.login("山田")
    assert "該当する受付はありません" in client.get("/staff/search?q=粗大").text
    r = client.get("/staff/search", params={"q": "あ" * 101})
    assert r.status_code == 400 and "100文字以内" in r.text
    assert client.get("/staff/search").status_code == 200


def test_live_calls_page_and_its_json(env: Console) -> None:
    client = env.login("山田")
    html = client.get("/staff/live").text
    assert "090-****-1234" in html and "CA123" in html and "大型ごみの申し込み" in html
    assert 'src="/staff/static/live.js"' in html and 'data-url="/staff/live.json"' in html
    assert client.get("/staff/live.json").json() == {"calls": [{**LIVE[0], "topic": "大型ごみの申し込み"}]}
    assert "font-family" in client.get("/staff/static/console.css").text
    assert client.get("/staff/static/live.js").status_code == 200


def test_staff_list_is_for_admins_and_adds_real_accounts(env: Console) -> None:
    staff, admin = env.login("山田"), env.login("管理者")
    r = staff.get("/staff/admin/staff")
    assert r.status_code == 403 and "管理者だけ" in r.text
    r = staff.post("/staff/admin/staff", data={"csrf": csrf_of(staff), "name": "x", "password": "long password 1"})
    assert r.status_code == 403 and env.accounts.get("x") is None
    html = admin.get("/staff/admin/staff").text
    assert all(name in html for name in ("山田", "鈴木", "管理者")) and 'href="/staff/admin/staff"' in html
    assert 'href="/staff/admin/staff"' not in staff.get("/staff/").text
    for data, message in [({"name": "", "password": ""}, "職員名とパスワードを入力してください"),
                          ({"name": "田中", "password": "short"}, "文字以上にしてください"),
                          ({"name": "田 中", "password": "long enough pw"}, "空白を含まない"),
                          ({"name": "山田", "password": "long enough pw"}, "すでに登録されています")]:
        r = submit(admin, "/staff/admin/staff", "/staff/admin/staff", data)
        assert r.status_code == 400 and message in r.text, data
    assert len(env.accounts.list()) == 3
    r = submit(admin, "/staff/admin/staff", "/staff/admin/staff", {"name": "田中", "password": "long enough pw"})
    assert r.status_code == 303 and env.accounts.get("田中") is not None
    assert env.login("田中", "long enough pw").get("/staff/").status_code == 200


def test_api_docs_are_local_and_the_schema_is_served(env: Console) -> None:
    client = env.login("山田")
    for path in ("/staff/docs", "/staff/redoc", "/staff/openapi.json"):
        assert client.get(path).status_code == 404, path
    schema = client.get("/staff/api/openapi.json").json()
    assert {"/api/v1/tickets", "/api/v1/tickets/{number}"} <= set(schema["paths"])
    assert "patch" in schema["paths"]["/api/v1/tickets/{number}"]
    html = client.get("/staff/api/docs").text
    assert "/api/v1/tickets/{number}" in html and "PATCH" in html and "/staff/api/openapi.json" in html


def test_pages_load_nothing_from_outside(env: Console) -> None:
    ticket = env.ticket()
    client = env.login("管理者")
    for page in ("/staff/", f"/staff/tickets/{ticket.id}", "/staff/live", "/staff/search", "/staff/api/docs",
                 "/staff/admin/staff"):
        html = client.get(page).text
        assert not re.search(r'(src|href|action)="(https?:)?//', html), page
        # the CSP forbids inline script and style: none may be needed
        assert "<script>" not in html and " style=" not in html and not re.search(r"<[^>]+\son\w+=", html), page


def test_security_headers_and_cookie_flags(env: Console) -> None:
    ticket = env.ticket()
    client = env.client()
    r = client.get("/staff/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    client = env.login("山田")
    for path in ("/staff/", f"/staff/tickets/{ticket.id}", "/staff/live.json", "/staff/tickets/abc"):
        h = client.get(path).headers
        assert h["content-security-policy"].startswith("default-src 'self'")
        assert h["x-frame-options"] == "DENY" and h["cache-control"] == "no-store", path
    assert "no-store" not in client.get("/staff/static/console.css").headers.get("cache-control", "")


def test_what_callers_said_is_escaped(env: Console) -> None:
    ticket = env.ticket(summary='<script>alert("x")</script>', caller_name="<b>太郎</b>")
    html = env.login("山田").get(f"/staff/tickets/{ticket.id}").text
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "<b>太郎" not in html


def test_secret_key_must_be_long(env: Console) -> None:
    with pytest.raises(ValueError):
        create_console(env.store, env.accounts, secret_key="short")


# --- REST API -----------------------------------------------------------------------------------------


def api(env: Console, name: str) -> TestClient:
    client = env.client()
    client.headers["Authorization"] = f"Bearer {env.accounts.create_token(name)}"
    return client


def test_api_refuses_missing_or_unknown_tokens(env: Console) -> None:
    ticket = env.ticket()
    client = env.client()
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"},
                    {"Authorization": "Bearer "}):
        r = client.get("/staff/api/v1/tickets", headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", headers
        r = client.patch(f"/staff/api/v1/tickets/{ticket.number}", headers=headers, content=b"{not json")
        assert r.status_code == 401, headers  # a malformed body tells nothing before the token is checked
    assert env.store.get(ticket.id).status == "open"


def test_api_lists_and_gets_tickets(env: Console) -> None:
    a = env.ticket(reason="animal", urgency="urgent", caller_number="+81742000002", summary="猫", transcript=[])
    b = env.ticket()
    client = api(env, "山田")
    data = client.get("/staff/api/v1/tickets").json()
    assert [t["number"] for t in data["tickets"]] == [a.number, b.number]
    assert [t["number"] for t in client.get("/staff/api/v1/tickets?reason=collection").json()["tickets"]] == [b.number]
    assert client.get("/staff/api/v1/tickets?q=回収").json()["tickets"][0]["number"] == b.number
    one = client.get(f"/staff/api/v1/tickets/{b.number}").json()
    assert one["summary"] == TICKET["summary"] and one["transcript"][1]["speaker"] == "caller"
    for query in ("status=bogus", "reason=fire"):
        r = client.get(f"/staff/api/v1/tickets?{query}")
        assert r.status_code == 400 and r.json()["error"] == "bad_filter", query
    for number in ("9999", "abc"):
        r = client.get(f"/staff/api/v1/tickets/{number}")
        assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_api_actions_are_recorded_under_the_token_owner(env: Console) -> None:
    ticket = env.ticket()
    url = f"/staff/api/v1/tickets/{ticket.number}"
    yamada, suzuki = api(env, "山田"), api(env, "鈴木")
    r = yamada.patch(url, json={"action": "claim"})
    assert r.status_code == 200 and r.json()["assignee"] == "山田"
    r = suzuki.patch(url, json={"action": "claim"})
    assert r.status_code == 409 and r.json()["error"] == "claimed_by_other" and r.json()["holder"] == "山田"
    assert "山田 さんが対応中" in r.json()["message"]
    r = yamada.patch(url, json={"action": "resolve", "note": " "})
    assert r.status_code == 400 and r.json()["error"] == "note_required"
    r = yamada.patch(url, json={"action": "resolve", "note": "再収集を手配した"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert yamada.patch(url, json={"action": "resolve", "note": "again"}).status_code == 409
    assert yamada.patch(url, json={"action": "note", "note": "後日確認"}).json()["notes"][-1]["author"] == "山田"
    t = env.store.get(ticket.id)
    assert {a.actor for a in t.audit} == {"bot", "山田"}


@pytest.mark.parametrize("body", [{"action": "delete"}, {}, {"action": "note", "note": "x" * 2001}, [1, 2],
                                  "not json"])
def test_api_bad_bodies_are_400(env: Console, body: Any) -> None:
    ticket = env.ticket()
    client = api(env, "山田")
    url = f"/staff/api/v1/tickets/{ticket.number}"
    r = client.patch(url, content=body.encode()) if isinstance(body, str) else client.patch(url, json=body)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    assert snapshot(env.store, ticket.id)[:3] == ("open", None, 0)


def test_api_close_before_call_back_is_for_admins(env: Console) -> None:
    ticket = env.ticket()
    url = f"/staff/api/v1/tickets/{ticket.number}"
    r = api(env, "山田").patch(url, json={"action": "close"})
    assert r.status_code == 403 and r.json()["error"] == "admin_only"
    assert api(env, "管理者").patch(url, json={"action": "close", "note": "重複受付"}).json()["status"] == "closed"
