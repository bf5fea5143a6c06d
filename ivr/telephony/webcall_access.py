"""Who may open a test call: no open microphone endpoint on a city network.

A person at the server itself (a loopback client) may always call: that is the README's first
command followed by opening http://localhost:8000. From anywhere else the page and its websocket
need a logged-in staff member (the console's session cookie) or the shared
``IVR_WEBCALL_TOKEN``. A request that came through a proxy (``X-Forwarded-For`` / ``Forwarded``)
is not trusted as loopback even when the proxy itself is on the same machine.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
from typing import TYPE_CHECKING

import itsdangerous
from starlette.requests import HTTPConnection

from escalation.console.auth import SESSION_COOKIE, SESSION_MAX_AGE_S

if TYPE_CHECKING:
    from escalation.accounts import StaffAccounts

TOKEN_PARAM = "token"  # ?token=… on /call and its websocket
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def is_loopback_client(conn: HTTPConnection) -> bool:
    """The client is this machine, with no proxy in between."""
    if any(h in conn.headers for h in PROXY_HEADERS):
        return False
    host = conn.client.host if conn.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")  # Starlette's TestClient is "testclient": in process


def token_ok(conn: HTTPConnection, expected: str) -> bool:
    """``?token=`` matches ``IVR_WEBCALL_TOKEN`` (never when that is unset)."""
    sent = conn.query_params.get(TOKEN_PARAM, "")
    return bool(expected) and bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


def staff_name(conn: HTTPConnection, secret_key: str, accounts: StaffAccounts | None) -> str:
    """The logged-in staff member's name from the console's signed session cookie ('' if none).
    Decoded as Starlette's SessionMiddleware signs it; the account must still exist."""
    cookie = conn.cookies.get(SESSION_COOKIE)
    if not cookie or accounts is None:
        return ""
    try:
        data = itsdangerous.TimestampSigner(secret_key).unsign(cookie.encode(), max_age=SESSION_MAX_AGE_S)
        session = json.loads(base64.b64decode(data))
    except (itsdangerous.BadSignature, ValueError):
        return ""
    name = session.get("staff") if isinstance(session, dict) else None
    if not isinstance(name, str) or not name:
        return ""
    return name if accounts.get(name) is not None else ""


def may_call(conn: HTTPConnection, *, token: str, secret_key: str, accounts: StaffAccounts | None) -> bool:
    """Loopback, the shared token, or a staff login."""
    return is_loopback_client(conn) or token_ok(conn, token) or bool(staff_name(conn, secret_key, accounts))
