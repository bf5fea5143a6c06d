"""Who may use the console, and proof that a form post came from the console itself.

Pages use a signed session cookie (Starlette's SessionMiddleware, set up in ``app.py``); the REST
API uses bearer tokens from ``StaffAccounts.create_token``, so an API client never holds a cookie
and a cookie can never drive the API. Every HTML POST carries the session's CSRF token: the cookie
alone (which the browser sends on its own) is not enough to change a ticket.

The staff member is looked up again on every request rather than trusted from the cookie, so an
account that is removed or loses admin rights loses them at once, not when the cookie expires.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from escalation.accounts import Staff

CSRF_FIELD = "csrf"  # the hidden form field every console form carries
CSRF_TOKEN_BYTES = 32  # 256 bits: not guessable, same strength as the session signing key
SESSION_COOKIE = "ivr_staff_session"  # distinct from anything the phone server might ever set
SESSION_MAX_AGE_S = 10 * 3600  # one office day with overtime; a browser left open logs itself out overnight
CSP = ("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
       "object-src 'none'")  # no inline script, no CDN: everything the console needs is served by itself

_bearer = HTTPBearer(auto_error=False, description="token from StaffAccounts.create_token (`ivr staff token`)")


class LoginRequired(Exception):
    """No valid session: pages answer with a redirect to the login page."""


class CsrfRejected(Exception):
    """A POST without the session's CSRF token: answered 403, nothing is changed."""


class AdminRequired(Exception):
    """A staff member (not admin) asked for an admin-only page or action: answered 403."""


class ApiUnauthorized(Exception):
    """No or unknown bearer token on an API route: answered 401 JSON."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (the login page needs one before login)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
        request.session[CSRF_FIELD] = token
    return token


async def csrf_guard(request: Request) -> None:
    """Router dependency: every POST must echo the session's token (compared in constant time)."""
    if request.method != "POST":
        return
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_FIELD)
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        raise CsrfRejected()
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected()


def session_staff(request: Request) -> Staff | None:
    """The logged-in staff member, re-read from the accounts (a sync call: FastAPI runs it off the loop)."""
    name = request.session.get("staff")
    if not isinstance(name, str) or not name:
        return None
    staff = request.app.state.accounts.get(name)
    if staff is None:
        request.session.pop("staff", None)
    return staff


def require_login(request: Request) -> Staff:
    """Router dependency for every page: the staff member, or a redirect to the login page."""
    staff = session_staff(request)
    if staff is None:
        raise LoginRequired()
    request.state.staff = staff
    return staff


def require_admin(staff: Annotated[Staff, Depends(require_login)]) -> Staff:
    if not staff.admin:
        raise AdminRequired()
    return staff


def start_session(request: Request, staff: Staff) -> None:
    """After a good password: a fresh session (nothing carried over from before login) and CSRF token."""
    request.session.clear()
    request.session["staff"] = staff.name
    csrf_token(request)


def end_session(request: Request) -> None:
    request.session.clear()


def token_staff(request: Request) -> Staff | None:
    """The staff member whose token is in ``Authorization: Bearer …``; None without a known one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return request.app.state.accounts.staff_for_token(token.strip())


def api_staff(request: Request,
              _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Staff:
    """API dependency: the token's staff member, else 401. (``_bearer`` only puts the scheme in OpenAPI.)"""
    staff = token_staff(request)
    if staff is None:
        raise ApiUnauthorized()
    return staff


ApiStaff = Annotated[Staff, Depends(api_staff)]  # an API route's actor


def session_or_token(request: Request) -> Staff:
    """The OpenAPI schema is for API clients (token) and for the local docs page (session): either will do."""
    staff = session_staff(request) or token_staff(request)
    if staff is None:
        raise ApiUnauthorized()
    return staff


def safe_next(target: str | None) -> str | None:
    """Where to go after login: only a path on this server, never ``//evil.example`` or a full URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: CSP, no framing, no sniffing, and no caching of anything but static files.

    Ticket pages carry names and phone numbers; ``no-store`` keeps them out of the browser cache of
    a shared office PC once the tab is closed.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith(scope.get("root_path", "") + "/static/")

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                           or static]
                headers += [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
