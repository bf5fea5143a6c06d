"""``create_console``: the staff console as a FastAPI sub-application for ``ivr serve`` to mount.

    console = create_console(store, accounts, secret_key=secret, cookie_secure=settings.cookie_secure,
                             live_calls=live_calls, topic_titles={t.id: t.title for t in kb.topics})
    app.mount("/staff", console)

It is a separate app (not a router on the phone server) so that its session cookie, security
headers, error pages and OpenAPI schema apply to the console alone and never to the Twilio
webhooks. FastAPI's /docs and /redoc are off: they load Swagger UI from a CDN, which a closed
city network cannot reach and which the CSP forbids; ``/api/docs`` is a local page instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from escalation.accounts import StaffAccounts
from escalation.console.api import API_PREFIX, ApiError, api_router, error_response
from escalation.console.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    AdminRequired,
    ApiUnauthorized,
    CsrfRejected,
    LoginRequired,
    SecurityHeaders,
    session_or_token,
    session_staff,
    token_staff,
)
from escalation.console.dashboard import DEFAULT_MINUTES_PER_CALL, dashboard_router
from escalation.console.improve import improve_router
from escalation.console.pages import not_found, public_router, staff_router
from escalation.console.views import path_for, render
from escalation.store import TicketStore

STATIC_DIR = Path(__file__).resolve().parent / "static"
MIN_SECRET_CHARS = 32  # the session signing key: anything shorter could be guessed offline from one cookie


def create_console(store: TicketStore, accounts: StaffAccounts, *, secret_key: str, cookie_secure: bool = True,
                   live_calls: Callable[[], list[dict[str, Any]]] = lambda: [],
                   topic_titles: Mapping[str, str] | None = None,
                   minutes_per_call: float = DEFAULT_MINUTES_PER_CALL, improvement: Any = None) -> FastAPI:
    """The console app. ``cookie_secure=False`` only for plain-http tests on 127.0.0.1: in service the
    console is reached over HTTPS and the session cookie must never travel in clear. ``topic_titles``
    (FAQ topic id → title, e.g. from the knowledge base) lets pages say 大型ごみの申し込み, not the id."""
    if len(secret_key) < MIN_SECRET_CHARS:
        raise ValueError(f"the console secret key must be at least {MIN_SECRET_CHARS} characters")
    app = FastAPI(title="ivr-gomi staff console API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="市民からの折り返し受付を扱う職員用 API。認証は Authorization: Bearer <token>。")
    app.state.store, app.state.accounts, app.state.live_calls = store, accounts, live_calls
    app.state.topic_titles = dict(topic_titles or {})
    app.state.improvement = improvement  # ivr.server.improve.Improvement: the 改善 pages (None: not offered)
    app.state.minutes_per_call = minutes_per_call  # the dashboard's estimate of staff time saved per answered call
    app.add_middleware(SessionMiddleware, secret_key=secret_key, session_cookie=SESSION_COOKIE,
                       max_age=SESSION_MAX_AGE_S, same_site="strict", https_only=cookie_secure)
    app.add_middleware(SecurityHeaders)  # added last = outermost: also covers error pages and redirects
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(public_router())
    app.include_router(staff_router())
    app.include_router(dashboard_router())
    if improvement is not None:
        app.include_router(improve_router())
    app.include_router(api_router())

    @app.get("/api/openapi.json", include_in_schema=False, name="api_schema")
    def openapi(request: Request) -> JSONResponse:
        session_or_token(request)
        return JSONResponse(app.openapi())

    _add_error_handlers(app)
    return app


def _is_api(request: Request) -> bool:
    """API routes answer in JSON (also errors); the docs page at /api/docs is a page like the others."""
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    return path.startswith(API_PREFIX + "/") or path == "/api/openapi.json"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.endswith(".json"):  # the live list's fetch(): tell the script, it reloads
            return JSONResponse({"error": "login_required"}, status_code=401)
        target = path_for(request, "login")
        if request.method == "GET":  # come back to the page asked for (a bookmarked ticket) after login
            query = f"?{request.url.query}" if request.url.query else ""
            target += "?" + urlencode({"next": request.url.path + query})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        message = ("フォームの確認用の情報が一致しないため、操作を受け付けませんでした（何も変更されていません）。"
                   "ページを読み込み直してから、もう一度お試しください。")
        return render(request, "error.html", {"title": "操作を受け付けませんでした", "message": message}, 403)

    @app.exception_handler(AdminRequired)
    async def admin_required(request: Request, exc: AdminRequired) -> Response:
        return render(request, "error.html", {"title": "管理者のみ",
                                              "message": "このページは管理者だけが使えます。"}, 403)

    @app.exception_handler(ApiUnauthorized)
    async def api_unauthorized(request: Request, exc: ApiUnauthorized) -> Response:
        return error_response(401, "unauthorized", "有効なトークン（Authorization: Bearer）が必要です。")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        # The body is parsed before dependencies run: check the token here too, so a malformed
        # request without one is still a 401 and says nothing about what the API expects.
        api = _is_api(request)
        staff = await run_in_threadpool(token_staff if api else session_staff, request)
        if staff is None:
            if api:
                return await api_unauthorized(request, ApiUnauthorized())
            return await login_required(request, LoginRequired())
        details = [{"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["msg"]} for e in exc.errors()]
        return error_response(400, "bad_request", "リクエストの内容が正しくありません。", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            code = "not_found" if exc.status_code == 404 else "http_error"
            return error_response(exc.status_code, code, str(exc.detail))
        if exc.status_code == 404:
            return not_found(request)
        return render(request, "error.html", {"title": "エラー", "message": str(exc.detail)}, exc.status_code)
