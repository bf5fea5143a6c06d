"""The console's HTML pages: login, the queue, one ticket and its buttons, search, calls in progress.

Routes are plain ``def`` functions: FastAPI runs them in its thread pool, so the store's database
calls (and argon2 at login) never block the event loop the phone calls run on. Every POST is
answered with a redirect on success (a reload never repeats the action) or with the same page,
an error message and the text the staff member typed, on bad input; nothing is stored then.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from escalation.accounts import MIN_PASSWORD_LENGTH, LockedOut, LoginFailed, Staff
from escalation.console.actions import (
    QueueFilter,
    TicketActionError,
    apply_action,
    load_ticket,
    parse_queue_filter,
    search_tickets,
)
from escalation.console.auth import (
    csrf_guard,
    end_session,
    require_admin,
    require_login,
    safe_next,
    start_session,
)
from escalation.console.views import flash, jst, path_for, render, topic

LIVE_REFRESH_S = 3  # calls last a minute or two: a few seconds' lag is fine and costs nothing
NAME_MAX_CHARS = 64  # longer than any staff name; keeps junk out of the login form
SEARCH_MAX_CHARS = 100  # a phone number, a ticket number or a few words


def public_router() -> APIRouter:
    """The login page: the only pages that answer without a session (but still demand the CSRF token)."""
    router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse, name="login")
    def login_page(request: Request, next: str = "") -> Response:
        return render(request, "login.html", {"next": safe_next(next) or "", "name": ""})

    @router.post("/login", response_class=HTMLResponse, name="login_post")
    def login_post(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
        name = name.strip()[:NAME_MAX_CHARS]
        context: dict[str, Any] = {"next": safe_next(next) or "", "name": name}
        if not name or not password:
            return render(request, "login.html", {**context, "error": "職員名とパスワードを入力してください。"}, 400)
        try:
            staff = request.app.state.accounts.verify(name, password)
        except LockedOut as e:
            until = jst(e.until, with_date=False)[:5]  # HH:MM in Nara
            message = ("ログインの失敗が続いたため、このアカウントは一時的にロックされています。"
                       f"{until} 以降にもう一度お試しいただくか、管理者に連絡してください。")
            return render(request, "login.html", {**context, "error": message}, 423)
        except LoginFailed:
            return render(request, "login.html", {**context, "error": "職員名またはパスワードが違います。"}, 401)
        start_session(request, staff)
        return RedirectResponse(safe_next(next) or path_for(request, "queue"), status_code=303)

    return router


def staff_router() -> APIRouter:
    """Everything behind the login: the session is checked first, then the CSRF token on POSTs."""
    router = APIRouter(dependencies=[Depends(require_login), Depends(csrf_guard)], include_in_schema=False)

    @router.post("/logout", name="logout")
    def logout(request: Request) -> Response:
        end_session(request)
        return RedirectResponse(path_for(request, "login"), status_code=303)

    @router.get("/", response_class=HTMLResponse, name="queue")
    def queue(request: Request, status: str = "", reason: str = "", area: str = "") -> Response:
        filters = QueueFilter(status=status, reason=reason, area=area)
        error = parse_queue_filter(filters)
        tickets = [] if error else filters.run(request.app.state.store)
        return render(request, "queue.html", {"filters": filters, "tickets": tickets, "error": error},
                      400 if error else 200)

    @router.get("/search", response_class=HTMLResponse, name="search")
    def search(request: Request, q: str = "") -> Response:
        q = q.strip()
        if len(q) > SEARCH_MAX_CHARS:
            return render(request, "search.html", {"q": q[:SEARCH_MAX_CHARS], "tickets": [], "searched": False,
                                                   "error": f"検索語は{SEARCH_MAX_CHARS}文字以内にしてください。"}, 400)
        tickets = search_tickets(request.app.state.store, q) if q else []
        return render(request, "search.html", {"q": q, "tickets": tickets, "searched": bool(q)})

    @router.get("/tickets/{ticket_id}", response_class=HTMLResponse, name="ticket")
    def ticket_page(request: Request, ticket_id: str) -> Response:
        ticket = load_ticket(request.app.state.store, ticket_id)
        if ticket is None:
            return not_found(request)
        return render(request, "ticket.html", {"ticket": ticket, "note_text": ""})

    @router.post("/tickets/{ticket_id}/{action}", response_class=HTMLResponse, name="ticket_action")
    def ticket_action(request: Request, ticket_id: str, action: str, note: str = Form("")) -> Response:
        store = request.app.state.store
        ticket = load_ticket(store, ticket_id)
        if ticket is None:
            return not_found(request)
        staff: Staff = request.state.staff
        try:
            done = apply_action(store, ticket, action, staff, note)
        except TicketActionError as e:
            if e.status == 404:
                return not_found(request)
            ticket = load_ticket(store, ticket_id)  # as it is now: the refusal may be because someone else acted
            return render(request, "ticket.html", {"ticket": ticket, "error": e.message, "note_text": note},
                          e.status)
        flash(request, done)
        return RedirectResponse(path_for(request, "ticket", ticket_id=ticket.id), status_code=303)

    # The two live routes are async on purpose: live_calls reads the server's registry of calls,
    # which the event loop owns and changes; reading it from a worker thread could see it mid-change.
    @router.get("/live", response_class=HTMLResponse, name="live")
    async def live(request: Request) -> Response:
        return render(request, "live.html", {"calls": _live_calls(request), "refresh_s": LIVE_REFRESH_S})

    @router.get("/live.json", name="live_json")
    async def live_json(request: Request) -> Response:
        return JSONResponse({"calls": _live_calls(request)})

    @router.get("/admin/staff", response_class=HTMLResponse, name="staff_list",
                dependencies=[Depends(require_admin)])
    def staff_list(request: Request) -> Response:
        return render(request, "staff.html", {"accounts": request.app.state.accounts.list(), "new_name": "",
                                                "min_password": MIN_PASSWORD_LENGTH})

    @router.post("/admin/staff", response_class=HTMLResponse, name="staff_add", dependencies=[Depends(require_admin)])
    def staff_add(request: Request, name: str = Form(""), password: str = Form(""),
                  admin: str = Form("")) -> Response:
        accounts = request.app.state.accounts
        name = name.strip()
        error = _new_staff_error(accounts, name, password)
        if error:
            return render(request, "staff.html", {"accounts": accounts.list(), "new_name": name[:NAME_MAX_CHARS],
                                                  "error": error, "min_password": MIN_PASSWORD_LENGTH}, 400)
        try:
            accounts.add(name, password, admin=admin == "1")
        except ValueError:  # the same name added a moment ago from another browser
            return render(request, "staff.html", {"accounts": accounts.list(), "new_name": name,
                                                  "error": f"職員名「{name}」はすでに登録されています。",
                                                  "min_password": MIN_PASSWORD_LENGTH}, 400)
        flash(request, f"{name} さんを登録しました。")
        return RedirectResponse(path_for(request, "staff_list"), status_code=303)

    @router.get("/api/docs", response_class=HTMLResponse, name="api_docs")
    def api_docs(request: Request) -> Response:
        return render(request, "api_docs.html", {"endpoints": _endpoints(request.app.openapi()),
                                                 "schema_url": path_for(request, "api_schema")})

    return router


def _new_staff_error(accounts: Any, name: str, password: str) -> str | None:
    if not name or not password:
        return "職員名とパスワードを入力してください。"
    if len(name) > NAME_MAX_CHARS or any(c.isspace() for c in name):
        return f"職員名は空白を含まない{NAME_MAX_CHARS}文字以内にしてください。"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
    if accounts.get(name) is not None:
        return f"職員名「{name}」はすでに登録されています。"
    return None


def _endpoints(schema: dict[str, Any]) -> list[dict[str, str]]:
    """The API as a table for the local docs page (Swagger UI would load from a CDN)."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = ", ".join(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
            rows.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                         "description": op.get("description", ""), "query": params})
    return rows


def _live_calls(request: Request) -> list[dict[str, Any]]:
    """The server's calls in progress, each with ``topic`` (the title of its last intent) for display."""
    return [{**call, "topic": topic(request, call.get("last_intent"))} for call in request.app.state.live_calls()]


def not_found(request: Request) -> Response:
    return render(request, "error.html", {"title": "見つかりません",
                                          "message": "指定された受付またはページは見つかりません。"}, 404)
