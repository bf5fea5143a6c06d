"""The server's own pages: ``/`` (what this server is, where to go) and ``/call`` (the browser test call).

Server-rendered Jinja2, one stylesheet and two small scripts served from ``/static``; nothing
from a CDN and no inline script (the Content-Security-Policy below forbids both). The test
call's websocket lives with the carriers (``ivr/telephony/webcall.py``); this module only
serves the page that opens it, to those ``webcall_access`` lets call.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ivr.telephony.webcall_access import TOKEN_PARAM, is_loopback_client, may_call

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ivr.server.runtime import Runtime

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
# 'self' covers the page's websocket (ws:/wss: to the same host) and the AudioWorklet module;
# media and the bot's audio are made in the page (Web Audio), so nothing else is needed.
CSP = ("default-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
       "object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def mount_pages(app: FastAPI, runtime: Runtime, secret_key: str) -> None:
    """``/``, ``/call`` and their ``/static`` files on the main app."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(_router(runtime, secret_key))


def _router(runtime: Runtime, secret_key: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    kb = runtime.brain.kb

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "home.html", {
            "city": kb.municipality.name, "calls": len(runtime.calls), "max_calls": runtime.settings.max_calls,
            "loopback": is_loopback_client(request), "console": runtime.store is not None,
            "twilio_mode": runtime.settings.twilio_mode, "audiosocket": runtime.settings.audiosocket_port,
        }, headers=HEADERS)

    @router.get("/call", response_class=HTMLResponse)
    async def call_page(request: Request) -> HTMLResponse:
        allowed = await asyncio.to_thread(may_call, request, token=runtime.settings.webcall_token,
                                          secret_key=secret_key, accounts=runtime.accounts)
        context = {"city": kb.municipality.name, "token": request.query_params.get(TOKEN_PARAM, "")}
        if not allowed:
            return TEMPLATES.TemplateResponse(request, "call_denied.html", context, status_code=403, headers=HEADERS)
        return TEMPLATES.TemplateResponse(request, "call.html", context, headers=HEADERS)

    return router
