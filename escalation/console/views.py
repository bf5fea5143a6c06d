"""Rendering shared by every console page: the Jinja2 environment, Japanese labels, Japan time.

Kept apart from the routes so the login, queue and ticket pages all show the same header, the same
words for reasons and statuses, and the same clock, whichever module serves them. Links are paths
built from the console's own routes plus the ASGI root path, so the console works under whatever
prefix ``ivr serve`` mounts it at (``/staff``) and behind a proxy that rewrites the host.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from escalation.console.auth import CSRF_FIELD, csrf_token

JST = timezone(timedelta(hours=9), "JST")  # Japan keeps no daylight saving: a fixed offset needs no tz database
WEEKDAYS = "月火水木金土日"

REASON_LABELS = {"oogata": "大型ごみ受付", "collection": "収集・収集漏れ", "illegal_dumping": "不法投棄",
                 "animal": "動物の死骸", "general": "一般"}
STATUS_LABELS = {"open": "未対応", "claimed": "対応中", "called_back": "折り返し済み", "resolved": "解決",
                 "closed": "終了"}
URGENCY_LABELS = {"normal": "通常", "urgent": "至急"}
SPEAKER_LABELS = {"caller": "市民", "bot": "自動応答", "staff": "職員"}
ACTION_LABELS = {"created": "受付", "joined": "同じ方から再度の電話", "claimed": "担当", "called_back": "折り返し済み",
                 "resolved": "解決", "closed": "終了", "reopened": "再オープン", "noted": "メモ追加",
                 "purged": "個人情報の削除"}

_templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every page shows what callers said: nothing from a ticket may become markup
    undefined=jinja2.StrictUndefined,  # a misspelt variable is a test failure, not a silently empty cell
))


def jst(value: datetime | str | None, with_date: bool = True) -> str:
    """Store times are UTC (or naive UTC from SQLite); staff read Japan time, e.g. ``12/03(木) 18:20``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(JST)
    if not with_date:
        return local.strftime("%H:%M:%S")
    return f"{local:%m/%d}({WEEKDAYS[local.weekday()]}) {local:%H:%M}"


def phone(number: str | None) -> str:
    """Group a Japanese number as staff dial it: +819012345678 → 090-1234-5678; anything else as given."""
    if not number:
        return ""
    digits = number.strip()
    if digits.startswith("+81"):
        digits = "0" + digits[3:]
    if not digits.isdigit():
        return number
    if len(digits) == 11 and digits[:3] in ("070", "080", "090", "050"):
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10 and digits.startswith("0742"):  # Nara City's own area code
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    if len(digits) == 10 and digits.startswith("0120"):
        return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
    return digits


_MOVE = re.compile(r"^(\w+) → (\w+)$")


def audit_detail(detail: str) -> str:
    """The store writes moves as ``open → claimed`` and calls as ``call CA…``; staff read Japanese."""
    move = _MOVE.match(detail or "")
    if move and {move[1], move[2]} <= STATUS_LABELS.keys():
        return f"{STATUS_LABELS[move[1]]} → {STATUS_LABELS[move[2]]}"
    if detail.startswith("call "):
        return "通話 " + detail[5:]
    return detail


def topic(request: Request, topic_id: str | None) -> str:
    """A FAQ topic id as its title (``illegal_dumping`` → 不法投棄の通報) when the server gave the titles."""
    if not topic_id:
        return "—"
    return request.app.state.topic_titles.get(topic_id, topic_id)


_templates.env.filters.update(jst=jst, phone=phone, audit_detail=audit_detail)
_templates.env.globals.update(REASON_LABELS=REASON_LABELS, STATUS_LABELS=STATUS_LABELS, URGENCY_LABELS=URGENCY_LABELS,
                              SPEAKER_LABELS=SPEAKER_LABELS, ACTION_LABELS=ACTION_LABELS, CSRF_FIELD=CSRF_FIELD)


def path_for(request: Request, name: str, **params: Any) -> str:
    """A link to a console route as an absolute path with the mount prefix (``/staff/tickets/3``).

    Resolved on the console's own routes, not ``request.url_for``: that searches the outer app first,
    and a route of the phone server with the same name (``openapi``, say) would win.
    """
    path = request.app.url_path_for(name, **{k: str(v) for k, v in params.items()})
    return request.scope.get("root_path", "") + str(path)


def flash(request: Request, message: str) -> None:
    """A one-line confirmation shown on the next page (after the redirect that follows a POST)."""
    request.session["flash"] = message


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    staff = getattr(request.state, "staff", None)
    base: dict[str, Any] = {
        "request": request, "staff": staff, "csrf": csrf_token(request), "error": None,
        "flash": request.session.pop("flash", None),
        "url": lambda name, **params: path_for(request, name, **params),
        "static": lambda file: path_for(request, "static", path=file),
        "topic": lambda topic_id: topic(request, topic_id),
    }
    base.update(context or {})
    return _templates.TemplateResponse(request, template, base, status_code=status)
